"""Home: where the model's life stands, from the data to the deployments."""

import streamlit as st

from jukebox.config import load_settings
from jukebox.lifecycle import life_stages
from jukebox.ui.data import counts_metrics, data_set_facts

st.title("🎵 Jukebox")
st.markdown(
    "Where will a song chart? One model's whole life, in a browser: explore the songs, train a "
    "model that predicts the countries a song charts in, export it to ONNX, register it, deploy "
    "it, and ask it."
)
settings = load_settings()
stages = life_stages(settings)
serving = stages[-1]
if serving.reached:
    # Once a model answers, asking it is what a visitor came for: the first and boldest action.
    with st.container(border=True):
        st.markdown(f"**A model is deployed** · {serving.summary.split(': ', 1)[-1]}")
        if st.button("🌍 Ask the model where a song would chart", type="primary", key="ask_model"):
            st.switch_page("app_pages/predict.py")

st.subheader("Data set")
facts = data_set_facts(settings)
if facts is None:
    st.info("No data set yet. Explore generates the default synthetic one on its first visit.")
else:
    st.markdown(f"**{facts.source}**")
    cols = st.columns(4)
    if facts.counts is not None:
        counts_metrics(cols, facts.counts)
    cols[2].metric("Countries", facts.countries if facts.countries is not None else "—")
    cols[3].metric(
        "Bayes ceiling",
        f"{facts.bayes_accuracy:.1%}" if facts.bayes_accuracy is not None else "unknown",
        help="The best accuracy any classifier could reach on this data set (synthetic data only).",
    )
    if facts.counts is not None:
        st.caption(facts.counts.sentence())
    if facts.first_date and facts.last_date:
        st.caption(f"Charts from {facts.first_date} to {facts.last_date}.")
st.page_link("app_pages/explore.py", label="Explore the data", icon="🔎")

st.subheader("The model's life")
links = [
    ("app_pages/train.py", "Train a model", "🏋️"),
    ("app_pages/export.py", "Export to ONNX", "📦"),
    ("app_pages/registry.py", "Register a version", "📚"),
    ("app_pages/deploy.py", "Deploy a version", "🚀"),
]
for column, stage, (page, action, icon) in zip(st.columns(4), stages, links, strict=True):
    with column.container(border=True):
        st.markdown(f"{'✅' if stage.reached else '⬜'} **{stage.title}**")
        st.caption(stage.summary)
        st.page_link(page, label=action, icon=icon)
if not serving.reached:
    st.page_link("app_pages/predict.py", label="Ask the model where a song would chart", icon="🌍")
