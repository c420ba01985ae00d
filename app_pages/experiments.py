"""Experiments: every training's run in the model registry; filter them, compare two or more
(curves, parameters, parallel coordinates), and register a finished run's model."""

import streamlit as st

from jukebox.config import load_settings
from jukebox.errors import JukeboxError
from jukebox.pipelines.gate import register_run
from jukebox.registry.experiments import (
    DEFAULT_EXPERIMENT,
    experiment_names,
    list_runs,
    metric_history,
)
from jukebox.registry.tracking import run_bundle
from jukebox.ui import experiments as ui

FLASH = "experiments_flash"

st.title("Experiments")
settings = load_settings()
st.caption(
    "Every training (Train page, `python -m jukebox train`, pipeline, search) is a run of an "
    f"experiment in the model registry **{settings.registry_url or 'embedded'}**: its "
    "parameters, each epoch's figures, its final test and validation figures, its bundle."
)
if flash := st.session_state.pop(FLASH, None):
    st.success(flash)

try:
    with st.spinner("Reading the experiments…"):
        names = experiment_names(settings)
except JukeboxError as error:
    st.error(str(error))
    st.stop()
if not names:
    st.info(ui.EMPTY_EXPERIMENTS)
    st.page_link("app_pages/train.py", label="Train a model", icon="🏋️")
    st.stop()

default = DEFAULT_EXPERIMENT if DEFAULT_EXPERIMENT in names else names[0]
experiment = st.selectbox("Experiment", names, index=names.index(default), help="newest first")
try:
    runs = list_runs(settings, experiment)
except JukeboxError as error:
    st.error(str(error))
    st.stop()
if not runs:
    st.info(f"Experiment {experiment} has no run yet. {ui.EMPTY_EXPERIMENTS}")
    st.stop()

# --- Runs ---------------------------------------------------------------------------------------
st.subheader("Runs")
left, middle, right = st.columns([2, 1, 1])
text = left.text_input("Filter", placeholder="name, source, width=64, model name…")
statuses = middle.multiselect("Status", sorted({r.status for r in runs}))
sources = right.multiselect("Source", sorted({r.source for r in runs if r.source}))
shown = ui.filter_runs(runs, text, statuses, sources)
if not shown:
    st.info(f"None of the {len(runs)} runs matches the filter: clear it to see them all.")
    st.stop()
st.dataframe(
    ui.runs_table(shown),
    hide_index=True,
    column_config={"started": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")},
)
st.caption(f"{len(shown)} of {len(runs)} runs; click a column header to sort.")

# --- Compare ------------------------------------------------------------------------------------
st.subheader("Compare runs")
by_name = {r.name: r for r in shown}
picked = st.multiselect(
    "Runs to compare",
    list(by_name),
    default=list(by_name)[:2] if len(by_name) >= 2 else [],
    format_func=lambda name: ui.run_label(by_name[name]),
)
if len(picked) < 2:
    st.caption("Choose two or more runs to compare their curves and parameters.")
else:
    metric = st.radio("Curve", ui.CURVE_METRICS, horizontal=True)
    try:
        histories = {name: metric_history(settings, by_name[name].run_id) for name in picked}
    except JukeboxError as error:
        st.error(str(error))
        histories = {}
    st.plotly_chart(ui.curves_figure(histories, metric), key="curves")
    table = ui.params_side_by_side([by_name[name] for name in picked])
    st.markdown("**Parameters** (rows that differ are highlighted)")
    st.dataframe(ui.highlight_differences(table))
st.plotly_chart(ui.parcoords_figure(shown), key="parcoords")

# --- Register -----------------------------------------------------------------------------------
st.subheader("Register this run")
finished = [r for r in shown if r.status == "FINISHED"]
if not finished:
    st.info("No finished run to register: a run can be registered once its training finished.")
    st.stop()
finished_by_name = {r.name: r for r in finished}
chosen = finished_by_name[
    st.selectbox(
        "Run",
        list(finished_by_name),
        format_func=lambda name: ui.run_label(finished_by_name[name]),
    )
]
if chosen.registered_as:
    st.caption(f"Already registered as {chosen.registered_as}.")
bundle = run_bundle(chosen)
if bundle.problem:
    st.warning(bundle.problem)
    st.stop()
if not bundle.exported:
    st.caption(
        "Not exported yet: registering exports it to ONNX and verifies it first "
        "(as the Export page does; it takes a little while)."
    )
with st.form("register_run"):
    left, right = st.columns(2)
    model_name = left.text_input("Model name", value="jukebox")
    tolerance = right.number_input(
        "Tolerance",
        min_value=0.0,
        max_value=1.0,
        value=0.01,
        step=0.01,
        help="register only if the test accuracy is not worse than production by more than this",
    )
    submitted = st.form_submit_button("Register")
if submitted:
    try:
        with st.spinner("Registering through the production gate…"):
            outcome = register_run(settings, chosen, model_name, tolerance=tolerance)
    except JukeboxError as error:
        st.error(str(error))
    else:
        if outcome.registered:
            st.session_state[FLASH] = (
                f"{outcome.gate.reason} Registered as {model_name} version {outcome.version}, "
                f"linked to run {chosen.name}."
            )
            st.rerun()
        st.warning(outcome.gate.reason)
