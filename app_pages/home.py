"""Home: where the model's life stands, from the data to the model that answers, in words a
stakeholder knows (the technical details live on each step's page)."""

import streamlit as st

from jukebox.config import load_settings
from jukebox.lifecycle import deployment_stage
from jukebox.ui.data import data_set_facts
from jukebox.ui.home import accuracy_context, counts_in_words, life_steps

st.title("🎵 Jukebox")
st.markdown(
    "Where will a song chart? One model's whole life, in a browser: explore the songs, teach a "
    "model which countries' charts a song's sound belongs in, package it, keep its versions on "
    "record, put it online, and ask it."
)
settings = load_settings()
serving = deployment_stage(settings)
if serving.reached:
    # Once a model answers, asking it is what a visitor came for: the first and boldest action.
    with st.container(border=True):
        st.markdown(f"**A model is answering** · {serving.summary.split(': ', 1)[-1]}")
        if st.button("🌍 Ask the model where a song would chart", type="primary", key="ask_model"):
            st.switch_page("app_pages/predict.py")

st.subheader("Data set")
facts = data_set_facts(settings)
if facts is None:
    st.info("No data set yet. Explore generates the default synthetic one on its first visit.")
else:
    st.markdown(f"**{facts.source}**")
    cols = st.columns(4)
    counts = facts.counts
    cols[0].metric("Songs (after cleaning)", f"{counts.songs_after_cleaning:,}" if counts else "—")
    cols[1].metric(
        "Daily chart places (after cleaning)",
        f"{counts.chart_entries_after_cleaning:,}" if counts else "—",
        help="A song in one country's daily top 50 on one day: what the model learns from.",
    )
    cols[2].metric("Countries", facts.countries if facts.countries is not None else "—")
    cols[3].metric(
        "Best possible accuracy",
        f"{facts.bayes_accuracy:.1%}" if facts.bayes_accuracy is not None else "unknown",
        help="The share of chart places even a perfect model would put in the right country: "
        "songs that sound alike chart in many countries (known for synthetic data only).",
    )
    if counts is not None:
        st.caption(counts_in_words(counts))
    if facts.first_date and facts.last_date:
        st.caption(f"Charts from {facts.first_date} to {facts.last_date}.")
    st.caption(accuracy_context(facts.countries, facts.bayes_accuracy))
st.page_link("app_pages/explore.py", label="Explore the data", icon="🔎")

st.subheader("The model's life")
steps = life_steps(settings)
for column, step in zip(st.columns(len(steps)), steps, strict=True):
    with column.container(border=True):
        st.markdown(f"{'✅' if step.reached else '⬜'} **{step.title}**")
        st.caption(step.summary)
        st.page_link(step.page, label=step.action, icon=step.icon)
if not serving.reached:
    st.page_link("app_pages/predict.py", label="Ask the model where a song would chart", icon="🌍")
