"""Pipelines: run the training pipeline (fetch → validate → train → evaluate ∥ export → verify →
register, gated on production), watch its tasks, read their logs and metrics, compare runs.

Runs go to kfp's local mode in a background job on the embedded default, or to the Kubeflow
Pipelines that ``KFP_HOST`` names. The page only reads run records, so it stays responsive and a
reload finds every run again.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from jukebox.config import load_settings
from jukebox.errors import JukeboxError
from jukebox.model.network import TrainingParams, validation_problems
from jukebox.model.runs import read_evaluation
from jukebox.pipelines import local
from jukebox.pipelines.params import RunParams, check_version_free, fresh_seed
from jukebox.pipelines.records import list_runs, task_log
from jukebox.pipelines.training import compile_pipeline
from jukebox.ui import model as model_figures
from jukebox.ui import pipelines as ui
from jukebox.ui.data import synthetic_options

SELECTED = "pipelines_selected_run"
SOURCES = {"current": "Current data set", "synthetic": "New synthetic set"}

settings = load_settings()
st.title("Pipelines")
st.caption(
    "The workshop's production training as a Kubeflow Pipelines pipeline: each step a task, "
    "the new model registered only when it is not worse than the one in production."
)


@st.cache_data(show_spinner=False)
def compiled_yaml() -> bytes:
    with tempfile.TemporaryDirectory() as scratch:
        return compile_pipeline(Path(scratch) / "jukebox-training.yaml").read_bytes()


# --- 1. Start a run -----------------------------------------------------------------------------
st.subheader("1 · Start a run")
where = (
    f"on Kubeflow Pipelines at {settings.kfp_host}"
    if settings.pipelines_are_remote
    else "here, with kfp's local mode (tasks run one after another)"
)
st.caption(f"Runs go {where}.")
defaults = TrainingParams()
# Outside the form, so the synthetic set's fields show only when it is chosen.
source = st.radio("Data", list(SOURCES), format_func=SOURCES.get, horizontal=True)
with st.form("pipeline_run", enter_to_submit=False):  # only the button starts work
    cols = st.columns(3)
    model_name = cols[0].text_input("Model name", "jukebox")
    version = cols[1].text_input("Version", "next", help='a whole number, or "next"')
    tolerance = cols[2].number_input(
        "Tolerance", 0.0, 1.0, 0.01, step=0.005, format="%.3f",
        help="how much lower than production the test accuracy may be and still register",
    )  # fmt: skip
    synthetic = synthetic_options() if source == "synthetic" else {}
    cols = st.columns(5)
    hyper = {
        "epochs": cols[0].number_input("Epochs", 1, 1000, defaults.epochs),
        "batch_size": cols[1].number_input("Batch size", 1, 65536, defaults.batch_size),
        "learning_rate": cols[2].number_input(
            "Learning rate", 0.0, 1.0, defaults.learning_rate, step=0.0005, format="%.4f"
        ),
        "width": cols[3].number_input("Width", 1, 4096, defaults.width),
    }
    seed = cols[4].number_input(
        "Seed", 0, 2**31 - 1, None, placeholder="new each run",
        help="Empty: each run draws its own, so it never trains a copy of a model already "
        "registered. Give one to repeat a run exactly.",
    )  # fmt: skip
    submitted = st.form_submit_button("Run the pipeline", type="primary")

if submitted:
    hyper["seed"] = fresh_seed() if seed is None else int(seed)
    problems = validation_problems({**defaults.to_dict(), **hyper})
    if problems:
        for problem in problems:
            st.error(problem)
    else:
        try:
            params = RunParams(
                model_name=model_name.strip(),
                version=version.strip() or "next",
                source=source,
                source_options=synthetic if source == "synthetic" else {},
                training=TrainingParams(**{**defaults.to_dict(), **hyper}),
                tolerance=float(tolerance),
            )
            if settings.pipelines_are_remote:
                from jukebox.pipelines import remote

                with tempfile.TemporaryDirectory() as scratch:
                    package = Path(scratch) / "jukebox-training.yaml"
                    package.write_bytes(compiled_yaml())
                    submitted_run = remote.submit_run(
                        settings, package, params.arguments(), run_name=f"jukebox {model_name}"
                    )
                st.success(f"Submitted run {submitted_run.id} to {settings.kfp_host}.")
            else:
                check_version_free(params, settings)
                started = local.start_in_background(settings, params)
                st.session_state[SELECTED] = started.id
        except JukeboxError as error:
            st.error(str(error))

st.download_button(
    "Download the compiled pipeline (KFP IR YAML)",
    compiled_yaml(),
    file_name="jukebox-training.yaml",
    mime="application/yaml",
    help="Import it in the Data Science Pipelines UI of OpenShift AI.",
)

# --- Remote runs --------------------------------------------------------------------------------
if settings.pipelines_are_remote:
    from jukebox.pipelines import remote

    st.subheader("2 · Runs on the cluster")
    try:
        remote_runs = remote.list_runs(settings)
    except JukeboxError as error:
        st.error(str(error))
        st.stop()
    if not remote_runs:
        st.info("No run on the cluster yet.")
        st.stop()
    st.dataframe(ui.remote_runs_table(remote_runs), hide_index=True)
    picked = st.selectbox("Run", [r.id for r in remote_runs])
    try:
        detail = remote.get_run(settings, picked)
        st.dataframe(ui.remote_tasks_table(detail), hide_index=True)
    except JukeboxError as error:
        st.error(str(error))
    st.stop()

# --- 2. Runs ------------------------------------------------------------------------------------
runs = [local.refresh(settings, run) for run in list_runs(settings)]
st.subheader("2 · Runs")
if not runs:
    st.info("No pipeline run yet: start one above, or `python -m jukebox pipeline run`.")
    st.stop()
st.dataframe(ui.runs_table(runs), hide_index=True)

by_id = {run.id: run for run in runs}
wanted = st.query_params.get("run") or st.session_state.get(SELECTED)
run_id = st.selectbox(
    "Run",
    list(by_id),
    index=list(by_id).index(wanted) if wanted in by_id else 0,
    # A label that never changes: one that showed the state went stale as the run moved on.
    format_func=lambda i: f"{i} · {ui.kind_of(by_id[i])} pipeline",
)
st.session_state[SELECTED] = run_id


def run_panel() -> None:
    """The chosen run, read fresh: redrawn every two seconds while it runs."""
    run = local.refresh(settings, next(r for r in list_runs(settings) if r.id == run_id))
    st.plotly_chart(ui.task_graph(run), key="task_graph")
    if run.state == "running":
        st.info(f"Running for {run.seconds:.0f} s…")
        if st.button("Stop this run", help="ends its processes now; nothing is registered"):
            local.stop(settings, run)
            st.rerun()
    elif run.registered_version:
        model = run.arguments.get("model_name")
        st.success(
            f"Registered {model} version {run.registered_version} "
            f"([see it in the registry](/registry?model={model}&version={run.registered_version}))."
        )
    elif run.note:
        st.warning(run.note)
    elif run.error:
        st.error(run.error)

    names = [n for n in ui.tasks_of(run) if n in run.tasks] or list(ui.tasks_of(run))
    task_name = st.radio("Task", names, horizontal=True, key="pipelines_task")
    task = ui.task_of(run, task_name)
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{task.name}**: {task.state}")
        if task.error:
            st.error(task.error)
        if task.metrics:
            st.dataframe(ui.metrics_table(task), hide_index=True)
        artifacts = task.outputs.get("artifacts") or {}
        for name, path in artifacts.items():
            st.caption(f"{name}: `{path}`")
    with right:
        log = task_log(run.path, task.name)
        st.code(log.read_text()[-6000:] if log.is_file() else "(no log yet)", language=None)
    if run.state == "running" and not st.session_state.get("pipelines_was_running"):
        st.session_state["pipelines_was_running"] = True
    elif run.state != "running" and st.session_state.pop("pipelines_was_running", False):
        st.rerun()  # the whole page: the runs table above now shows how it ended


selected = by_id[run_id]
st.fragment(run_panel, run_every=2 if selected.state == "running" else None)()

# --- 3. Compare ---------------------------------------------------------------------------------
# Runs of one pipeline only: a data run and a training run have no parameters in common.
finished = [run for run in runs if run.finished and run.pipeline == selected.pipeline]
if len(finished) >= 2:
    st.subheader(f"3 · Compare {ui.kind_of(selected)} runs")
    picked = st.multiselect("Runs", [r.id for r in finished], default=[r.id for r in finished[:2]])
    compared = [by_id[i] for i in picked]
    if compared:
        st.dataframe(ui.compare_table(compared))
        columns = st.columns(len(compared))
        for column, run in zip(columns, compared, strict=True):
            evaluation_file = (
                ui.task_of(run, "evaluate").outputs.get("artifacts", {}).get("evaluation")
            )
            if evaluation_file and Path(evaluation_file).is_file():
                evaluation = read_evaluation(Path(evaluation_file))
                column.caption(f"{run.id}: confusion matrix")
                column.plotly_chart(
                    model_figures.confusion_heatmap(evaluation.confusion_matrix, evaluation.labels),
                    key=f"confusion_{run.id}",
                )
