"""The sidebar every page shares: one plain line on where things run, and the connection
details (paths, hosts, runners) in one place for those who need them, not on every page."""

import streamlit as st

from jukebox.config import ServiceStatus, load_settings, service_statuses


def where_it_runs(statuses: list[ServiceStatus]) -> str:
    """One line for everyone: ``"Everything runs on this computer."`` or which services
    are elsewhere. Words only: where the system has no emoji font an emoji shows as a box."""
    remote = [s.concern.lower() for s in statuses if s.remote]
    if not remote:
        return "Everything runs on this computer."
    if len(remote) == len(statuses):
        return "Every service runs elsewhere."
    return f"Elsewhere: {', '.join(remote)}; the rest runs on this computer."


@st.dialog("Connections", width="large")
def show_connections(statuses: list[ServiceStatus]) -> None:
    """Each concern with where it lives: hosts and paths only, never a credential."""
    for status in statuses:
        badge = "remote" if status.remote else "embedded, on this computer"
        st.markdown(f"**{status.concern}** · {badge}  \n`{status.location}`")


def draw_connections() -> None:
    """The line on where things run, and a button that opens the details.

    Also brings continuous training back after an app restart: when it is switched on and its
    loop is not running, the loop is started again (a cheap check of one process).
    """
    from jukebox.pipelines.automation import ensure_running

    settings = load_settings()
    ensure_running(settings)
    statuses = service_statuses(settings)
    with st.sidebar:
        st.caption(where_it_runs(statuses))
        # No help tooltip: with one, Streamlit 1.67 puts the label in the page twice.
        if st.button("Connections", key="connections", type="tertiary"):
            show_connections(statuses)
