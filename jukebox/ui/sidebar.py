"""The sidebar every page shares: which services are embedded and which are remote."""

import streamlit as st

from jukebox.config import load_settings, service_statuses


def draw_connections() -> None:
    """List each concern with where it lives; hosts and paths only, never a credential."""
    with st.sidebar:
        st.caption("Connections")
        for status in service_statuses(load_settings()):
            badge = "🌐 remote" if status.remote else "💻 embedded"
            st.markdown(f"**{status.concern}** · {badge}  \n`{status.location}`")
