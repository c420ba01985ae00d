"""The sidebar every page shares: which services are embedded and which are remote."""

import streamlit as st

from jukebox.config import load_settings, service_statuses


def draw_connections() -> None:
    """List each concern with where it lives; hosts and paths only, never a credential.

    Also brings continuous training back after an app restart: when it is switched on and its
    loop is not running, the loop is started again (a cheap check of one process).
    """
    from jukebox.pipelines.automation import ensure_running

    settings = load_settings()
    ensure_running(settings)
    with st.sidebar:
        st.caption("Connections")
        for status in service_statuses(settings):
            badge = "🌐 remote" if status.remote else "💻 embedded"
            st.markdown(f"**{status.concern}** · {badge}  \n`{status.location}`")
