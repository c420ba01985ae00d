"""Jukebox: the page list and the sidebar. Every page lives in pages/, every action in jukebox/."""

import streamlit as st

from jukebox.ui.sidebar import draw_connections

st.set_page_config(page_title="Jukebox", page_icon="🎵", layout="wide")

PAGES = {
    "": [st.Page("pages/home.py", title="Home", icon="🏠", default=True)],
    "Data": [
        st.Page("pages/explore.py", title="Explore", icon="🔎"),
        st.Page("pages/data_versions.py", title="Data versions", icon="🗂️"),
    ],
    "Model": [
        st.Page("pages/train.py", title="Train", icon="🏋️"),
        st.Page("pages/export.py", title="Export", icon="📦"),
        st.Page("pages/registry.py", title="Registry", icon="📚"),
    ],
    "Serve": [
        st.Page("pages/deploy.py", title="Deploy", icon="🚀"),
        st.Page("pages/predict.py", title="Predict", icon="🌍"),
    ],
    "Automate": [st.Page("pages/pipelines.py", title="Pipelines", icon="⚙️")],
}

page = st.navigation(PAGES)
draw_connections()
page.run()
