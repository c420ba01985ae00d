"""Jukebox: the page list and the sidebar. Pages live in app_pages/, every action in jukebox/.

The folder is not called ``pages/``: Streamlit treats a ``pages/`` folder beside the entry point
as its older multipage mode, and a browser that opens a page URL first on a fresh server would
then run that page alone, without this navigation and sidebar.
"""

import streamlit as st

from jukebox.ui.sidebar import draw_connections

st.set_page_config(page_title="Jukebox", page_icon="🎵", layout="wide")

PAGES = {
    "": [st.Page("app_pages/home.py", title="Home", icon="🏠", default=True)],
    "Data": [
        st.Page("app_pages/explore.py", title="Explore", icon="🔎"),
        st.Page("app_pages/data_versions.py", title="Data versions", icon="🗂️"),
    ],
    "Model": [
        st.Page("app_pages/train.py", title="Train", icon="🏋️"),
        st.Page("app_pages/search.py", title="Search", icon="🎛️"),
        st.Page("app_pages/experiments.py", title="Experiments", icon="🧪"),
        st.Page("app_pages/export.py", title="Export", icon="📦"),
        st.Page("app_pages/registry.py", title="Registry", icon="📚"),
    ],
    "Serve": [
        st.Page("app_pages/deploy.py", title="Deploy", icon="🚀"),
        st.Page("app_pages/predict.py", title="Predict", icon="🌍"),
        st.Page("app_pages/monitor.py", title="Monitor", icon="📈"),
    ],
    "Automate": [st.Page("app_pages/pipelines.py", title="Pipelines", icon="⚙️")],
}

page = st.navigation(PAGES)
draw_connections()
page.run()
