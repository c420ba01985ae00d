"""Monitor: what a deployed model is asked, whether the songs sent still sound like the songs it
learned from, and retraining when they do not. The embedded service speaks TrustyAI's API."""

import time

import streamlit as st

from jukebox.config import load_settings, public_url
from jukebox.data.schema import FEATURES
from jukebox.errors import JukeboxError
from jukebox.monitoring.demo import stream_demo
from jukebox.monitoring.overview import monitor_overview, served_labels, top_countries
from jukebox.monitoring.shifted_songs import SHIFTS, shifted_songs
from jukebox.pipelines import automation
from jukebox.serving.deploy import list_deployments
from jukebox.ui.monitor import (
    alerts_table,
    countries_figure,
    distribution_figure,
    drift_figure,
    feature_title,
    requests_figure,
)

st.title("Monitor")
settings = load_settings()
st.caption(
    "Every request a local deployment answers is logged; the monitoring service (TrustyAI's API, "
    "embedded here) compares the newest songs with the songs the model learned from, feature by "
    "feature, with a meanshift test every few seconds."
)

if settings.trustyai_url:
    st.info(
        f"Inferences go to the TrustyAI service at {public_url(settings.trustyai_url)}: its "
        "drift metrics (trustyai_meanshift) are charted in OpenShift AI's dashboard and "
        "Prometheus. This page shows only what is logged on this machine."
    )

deployments = {d.name: d for d in list_deployments(settings)}
if not deployments:
    st.info("Nothing is deployed yet: deploy a model version first, then watch it here.")
    st.page_link("app_pages/deploy.py", label="Deploy a model", icon="🚀")
    st.stop()

names = list(deployments)
wanted = st.query_params.get("deployment")
name = st.selectbox("Deployment", names, index=names.index(wanted) if wanted in names else 0)
deployment = deployments[name]
overview = monitor_overview(settings, name)
labels = served_labels(deployment)

# --- what it means, in one sentence -------------------------------------------------------------
(st.warning if overview.drifted else st.success)(overview.sentence)
counts = st.columns(4)
counts[0].metric("Songs logged", f"{len(overview.live):,}")
counts[1].metric("Drifted features now", f"{len(overview.drifted)} of {len(FEATURES)}")
counts[2].metric("Drift alerts", len(overview.alerts))
counts[3].metric("Training rows as reference", f"{len(overview.reference):,}")

# --- demo: a stream of songs that sound different -----------------------------------------------
st.markdown("**Demo: send songs that sound different**")
left, right = st.columns([3, 1])
shift = left.radio(
    "How have the songs changed?",
    list(SHIFTS),
    format_func=lambda s: SHIFTS[s].description,
    horizontal=True,
)
n_songs = right.select_slider("Songs to send", [100, 200, 300, 500, 1000], value=300)
if st.button("Stream the songs", type="primary", disabled=not deployment.ready):
    if overview.reference.empty:
        st.error(overview.sentence)
    else:
        songs = shifted_songs(overview.reference, shift, n_songs, seed=int(time.time()))
        bar = st.progress(0.0, text="Sending songs…")
        try:
            sent = stream_demo(
                settings,
                deployment.endpoint,
                name,
                songs,
                on_sent=lambda n: bar.progress(n / n_songs, text=f"{n} of {n_songs} sent"),
            )
            st.toast(f"{sent} songs sent to {name}.")
            st.rerun()
        except JukeboxError as error:
            st.error(str(error))
if not deployment.ready:
    st.caption(f"{name} is {deployment.state}: start it again on the Deploy page to stream.")

# --- over time ----------------------------------------------------------------------------------
if not overview.live.empty:
    st.plotly_chart(requests_figure(overview.live["_time"]), width="stretch")
meanshift = overview.history[overview.history["metric"] == "MEANSHIFT"]
if meanshift.empty:
    st.caption("No drift has been measured yet: the service measures once songs have been sent.")
else:
    st.plotly_chart(drift_figure(meanshift, overview.threshold, FEATURES), width="stretch")

# --- now against at training --------------------------------------------------------------------
if not overview.live.empty and not overview.reference.empty:
    recent = overview.live.tail(overview.batch_size)
    left, right = st.columns(2)
    with left:
        first = overview.drifted[0] if overview.drifted else FEATURES[0]
        feature = st.selectbox(
            "Feature", FEATURES, index=FEATURES.index(first), format_func=feature_title
        )
        st.plotly_chart(
            distribution_figure(overview.reference[feature], recent[feature], feature),
            width="stretch",
        )
    with right:
        st.plotly_chart(
            countries_figure(
                top_countries(overview.reference, labels), top_countries(recent, labels)
            ),
            width="stretch",
        )

# --- alerts, and retraining ---------------------------------------------------------------------
st.subheader("Drift alerts")
state = automation.read_state(settings)
retrain = st.toggle(
    "Retrain when drift is found",
    value=state.retrain_on_drift,
    help="An alert (drift in several measurements in a row) starts the training pipeline on "
    "the newest data version; the new version is registered only if it is not worse than "
    "production, and it records the alert that caused it.",
)
if retrain != state.retrain_on_drift:
    automation.retrain_on_drift(settings, retrain)
    st.rerun()
if overview.alerts:
    runs = {key: run.run_id for key, run in state.drift_runs.items()}
    st.dataframe(alerts_table(overview.alerts, runs), hide_index=True, width="stretch")
else:
    st.caption("No alert yet: one is raised when features stay drifted in 3 measurements in a row.")
