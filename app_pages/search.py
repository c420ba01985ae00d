"""Search: choose ranges, run a hyperparameter search in the background, watch its trials, keep
the best.

The search runs as a background job (``python -m jukebox tune``), so this page only reads its
status file: it stays usable while trials train, and a reload finds the search again. Each trial
is a run of the experiment ``search-<id>`` (see the Experiments page).
"""

from __future__ import annotations

import streamlit as st

from jukebox.config import load_settings
from jukebox.tuning import jobs as search_jobs
from jukebox.tuning.space import SearchSpace, space_problems
from jukebox.ui import search as figures
from jukebox.ui.data import synthetic_options

SELECTED = "search_selected_job"
BATCH_SIZES = (16, 32, 64, 128, 256, 512, 1024, 2048)

settings = load_settings()
st.title("Search")
st.caption(
    "Let Optuna choose the network's size and training knobs: each trial trains on the same "
    "split and is judged by its loss on songs held out whole; a trial worse than three quarters "
    "of the earlier ones at the same epoch is pruned (after its first ten epochs). The best is "
    "trained again, exported, and offered to the registry's production gate."
)

# --- 1. Data and ranges -------------------------------------------------------------------------
st.subheader("1 · Data and ranges")
kind = st.radio(
    "Data",
    ["current", "synthetic"],
    format_func={"current": "Current data set", "synthetic": "New synthetic set"}.get,
    horizontal=True,
)
synthetic = synthetic_options() if kind == "synthetic" else None
d = SearchSpace()
with st.form("search_space", enter_to_submit=False):  # only the button starts work
    cols = st.columns(4)
    space = {
        "width": [cols[0].number_input("Width from", 1, 4096, d.width[0]),
                  cols[0].number_input("Width to", 1, 4096, d.width[1])],
        "depth": [cols[1].number_input("Depth from", 1, 8, d.depth[0]),
                  cols[1].number_input("Depth to", 1, 8, d.depth[1])],
        "dropout": [cols[2].number_input("Dropout from", 0.0, 0.9, d.dropout[0], step=0.05),
                    cols[2].number_input("Dropout to", 0.0, 0.9, d.dropout[1], step=0.05)],
        "learning_rate": [
            cols[3].number_input("Learning rate from", 0.0, 1.0, d.learning_rate[0],
                                 format="%.5f", step=1e-4),
            cols[3].number_input("Learning rate to", 0.0, 1.0, d.learning_rate[1],
                                 format="%.5f", step=1e-3),
        ],
    }  # fmt: skip
    space["batch_sizes"] = st.multiselect("Batch sizes", BATCH_SIZES, list(d.batch_sizes))
    cols = st.columns(4)
    space["epochs"] = cols[0].number_input("Epochs per trial, at most", 1, 1000, d.epochs)
    space["patience"] = cols[1].number_input("Patience (epochs)", 1, 100, d.patience)
    trials = cols[2].number_input("Trials", 1, 500, 10)
    seed = cols[3].number_input("Sampler seed", 0, 2**31 - 1, 0)
    cols = st.columns(3)
    model_name = cols[0].text_input("Register as", "jukebox")
    tolerance = cols[1].number_input("Gate tolerance", 0.0, 1.0, 0.01, step=0.005, format="%.3f")
    register = cols[2].checkbox("Register the best through the gate", value=True)
    submitted = st.form_submit_button("Start search", type="primary")

if submitted:
    problems = space_problems(space)
    if not model_name.strip():
        problems.append("Give the model a name to register the best as, such as jukebox.")
    for problem in problems:
        st.error(problem)
    if not problems:
        job = search_jobs.start_search(
            settings,
            SearchSpace.from_dict(space),
            int(trials),
            model_name=model_name.strip(),
            tolerance=float(tolerance),
            register=register,
            seed=int(seed),
            synthetic=synthetic,
        )
        st.session_state[SELECTED] = job.id

# --- 2. Searches --------------------------------------------------------------------------------
st.subheader("2 · Search")


def finished_panel(view) -> None:
    status = view.status
    (st.success if view.state == "done" else st.warning)(view.headline())
    st.markdown(figures.best_sentence(status.best))
    if status.accuracy is not None:
        st.markdown(
            f"Trained again and exported: test accuracy **{status.accuracy:.4f}**, export "
            f"verification {'passed' if status.verified else 'FAILED'}."
        )
    if status.gate:
        (st.success if status.version else st.warning)(
            status.gate
            + (
                f" Registered {status.model_name} version {status.version}."
                if status.version
                else ""
            )
        )
    st.page_link(
        "app_pages/experiments.py", label=f"Every trial as a run: {status.experiment}", icon="🧪"
    )


def job_panel() -> None:
    """The chosen search, from one reading of its files."""
    views = search_jobs.search_jobs(settings)[:30]
    if not views:
        st.info("No search yet: set the ranges and press **Start search**.")
        return
    by_id = {v.job.id: v for v in views}
    ids = list(by_id)
    chosen = st.session_state.get(SELECTED)
    job_id = st.selectbox(
        "Search",
        ids,
        index=ids.index(chosen) if chosen in ids else 0,
        format_func=lambda i: f"{i} · {by_id[i].state}" if i in by_id else i,
    )
    st.session_state[SELECTED] = job_id
    view = by_id[job_id]
    status = view.status
    if view.state in ("starting", "running"):
        done = len(status.trials) + float(status.current.get("progress") or 0)
        st.progress(min(1.0, done / max(1, status.trials_planned)), text=view.headline())
        if status.best:
            st.markdown(figures.best_sentence(status.best))
        if st.button("Stop", help="stop the running trial, start no other; keep the best so far"):
            search_jobs.request_stop(view.job.dir)
            st.toast("Stopping the running trial…")
    elif view.state in ("done", "stopped"):
        finished_panel(view)
    else:
        st.error(view.headline())
    if status.trials:
        st.plotly_chart(figures.trials_figure(status.trials), key="trials_figure")
        st.dataframe(figures.trials_table(status.trials), hide_index=True)
    with st.expander("Log"):
        st.code(view.job.log_tail(60) or "(empty)", language=None)


running = any(not v.finished for v in search_jobs.search_jobs(settings)[:30])
st.fragment(job_panel, run_every=1.5 if running else None)()
