"""Train: choose data and hyperparameters, train in the background, watch it learn, judge it.

The training runs as a background job (``python -m jukebox train``), so this page only reads its
status file: it stays usable while the model trains, and a reload finds the training again.
TensorFlow is never imported here.
"""

from __future__ import annotations

import streamlit as st

from jukebox.config import load_settings
from jukebox.data.sources import load_source
from jukebox.data.store import current_info
from jukebox.errors import JukeboxError
from jukebox.model import jobs as training_jobs
from jukebox.model.jobs import SyntheticSpec
from jukebox.model.network import ROWS, SCALINGS, TrainingParams, validation_problems
from jukebox.model.report import SUMMARY_METRICS
from jukebox.model.runs import list_trainings, load_training
from jukebox.registry.tracking import cancel_tracked_training
from jukebox.ui import model as figures
from jukebox.ui.data import data_set_counts_brief, file_pickers, synthetic_options

SELECTED = "train_selected_job"
ROW_LABELS = {"songs": "one row per song", "chart rows": "every chart row (workshop)"}
SCALING_LABELS = {"quantile": "quantiles → normal scores", "min-max": "min-max (workshop)"}
SOURCES = {
    "current": "Current data set",
    "synthetic": "New synthetic set",
    "parquet": "Parquet (path or URL)",
    "s3": "S3 objects",
    "kaggle": "Kaggle CSV",
    "upload": "Upload files",
}

settings = load_settings()
st.title("Train")
st.caption(
    "Train the network that predicts in which countries a song charts, on any data set, and see "
    "how close it gets to the best any model could do."
)

# --- 1. Data ------------------------------------------------------------------------------------
st.subheader("1 · Data")
kind = st.radio("Source", list(SOURCES), format_func=SOURCES.get, horizontal=True)
source_params: dict = {}
if kind == "current":
    info = current_info(settings)
    if info:
        st.markdown(
            f"**{info.get('source')}** · {data_set_counts_brief(settings)} · "
            f"{info.get('countries')} countries"
        )
    else:
        st.info(
            "There is no current data set yet: the training will first generate the default "
            "synthetic one (about 1.1 million chart entries)."
        )
elif kind == "synthetic":
    source_params = synthetic_options()
elif kind in ("parquet", "s3"):
    st.caption(
        "Local paths or http(s) URLs of the two parquet files."
        if kind == "parquet"
        else f"Object keys in bucket `{settings.s3_bucket}`."
    )
    left, right = st.columns(2)
    source_params = {
        "properties": left.text_input("song_properties", "data/song_properties.parquet"),
        "rankings": right.text_input("song_rankings", "data/song_rankings.parquet"),
    }
else:
    source_params = file_pickers(kind)

# --- 2. Network and training --------------------------------------------------------------------
st.subheader("2 · Network and training")
defaults = TrainingParams()
with st.form("train_params", enter_to_submit=False):  # only the button starts work
    cols = st.columns(4)
    values = {
        "epochs": cols[0].number_input("Epochs", 1, 1000, defaults.epochs),
        "batch_size": cols[1].number_input("Batch size", 1, 65536, defaults.batch_size, step=64),
        "learning_rate": cols[2].number_input(
            "Learning rate", 0.0, 1.0, defaults.learning_rate, step=0.0005, format="%.4f"
        ),
        "dropout": cols[3].number_input("Dropout", 0.0, 0.9, defaults.dropout, step=0.05),
    }
    cols = st.columns(4)
    values |= {
        "width": cols[0].number_input(
            "Width", 1, 4096, defaults.width, help="units of the first hidden layer"
        ),
        "depth": cols[1].number_input(
            "Depth", 1, 8, defaults.depth, help="hidden layers; each doubles the width"
        ),
        "seed": cols[2].number_input("Seed", 0, 2**31 - 1, defaults.seed),
    }
    export = cols[3].checkbox("Export to ONNX when done", value=False)
    cols = st.columns(4)
    values |= {
        "rows": cols[0].selectbox(
            "Train on",
            list(ROWS),
            index=list(ROWS).index(defaults.rows),
            format_func=ROW_LABELS.get,
            help="One row per song, weighted by its chart rows, minimises the same loss as "
            "every chart row (the workshop's way) from about 60 times fewer rows.",
        ),
        "early_stopping": cols[1].checkbox(
            "Stop early",
            value=defaults.early_stopping,
            help="Stop once the validation loss has not improved for 'Patience' epochs and "
            "keep the best epoch's weights; Epochs is then the most it runs.",
        ),
        "patience": cols[2].number_input("Patience", 1, 100, defaults.patience),
        "scaling": cols[3].selectbox(
            "Scaling",
            list(SCALINGS),
            index=list(SCALINGS).index(defaults.scaling),
            format_func=SCALING_LABELS.get,
            help="How the network's first layers put features on one scale: each through its "
            "training quantiles onto a normal score (keeps the detail of skewed features such "
            "as instrumentalness), or min-max onto [0, 1]. Either way inside the model.",
        ),
    }
    st.caption(
        "Default: the search's best on the default data: features through their training "
        "quantiles, one hidden layer of 512 ReLU units with dropout 0.5, softmax over countries, "
        "trained song by song, stopped early on the validation loss (the workshop's network: "
        "width 32, depth 4, min-max). The test set is the latest "
        "fifth of the chart dates; validation is a fifth of the earlier songs, held out whole, "
        "so it scores songs the model never trained on."
    )
    submitted = st.form_submit_button("Train", type="primary")
running_now = [v for v in training_jobs.training_jobs(settings)[:10] if not v.finished]
if running_now:
    st.caption(
        f"{len(running_now)} training(s) already running: another one will share the CPU with "
        "them and take longer."
    )

if submitted:
    problems = validation_problems(values)
    missing = [name for name, value in source_params.items() if value in (None, "")]
    if problems:
        for problem in problems:
            st.error(problem)
    elif missing:
        st.error(f"Fill in {', '.join(missing)} for the data source first, then press Train.")
    else:
        params = TrainingParams(**values)
        data = None
        try:
            if kind not in ("current", "synthetic"):
                with st.spinner(f"Reading and validating ({SOURCES[kind]})…"):
                    data = load_source(kind, source_params, settings)
            synthetic = SyntheticSpec(**source_params) if kind == "synthetic" else None
            job = training_jobs.start_training(
                settings, params, data=data, synthetic=synthetic, export=export
            )
            st.session_state[SELECTED] = job.id
        except (JukeboxError, OSError) as error:
            st.error(f"This data cannot be used for training: {error}")

# --- 3. Trainings -------------------------------------------------------------------------------
st.subheader("3 · Training")


def show_results(record) -> None:
    """The finished training's test figures, from its report."""
    report = record.report
    evaluation, data = report.evaluation, report.data
    st.markdown(f"**Data:** {data.source or '?'}")
    cols = st.columns(len(SUMMARY_METRICS))
    for col, name in zip(cols, SUMMARY_METRICS, strict=True):
        col.metric(figures.METRIC_LABELS[name], f"{getattr(evaluation, name):.3f}")
    bayes = evaluation.bayes_accuracy
    if bayes:
        st.markdown(
            f"**Bayes ceiling** (the best accuracy any model can reach on this data): "
            f"{bayes:.3f}. This model reaches **{evaluation.accuracy_to_bayes:.1%}** of it "
            f"({bayes - evaluation.accuracy:.3f} below)."
        )
    else:
        st.caption("The Bayes ceiling is known only for synthetic data.")
    st.plotly_chart(
        figures.ceiling_figure(evaluation.accuracy, bayes, data.chance_accuracy),
        key="ceiling",
    )
    st.markdown(data.split.describe())
    for note in data.split.notes:
        st.caption(note)
    st.plotly_chart(
        figures.training_curves(report.fit.history, epochs=report.fit.epochs_run, ceiling=bayes),
        key="final_curves",
    )
    best = figures.best_epoch(report.fit.history)
    if best is not None and report.params.get("early_stopping"):
        st.caption(
            f"Stopped early: the weights kept are those of epoch {best}, the lowest validation "
            f"loss of the {report.fit.epochs_run} epochs run."
        )
    st.markdown("**Confusion matrix** (rows: true country, columns: predicted; share of row)")
    st.plotly_chart(
        figures.confusion_heatmap(evaluation.confusion_matrix, evaluation.labels),
        key="confusion",
    )
    st.markdown("**Per country**")
    st.plotly_chart(figures.per_country_figure(evaluation.per_country), key="per_country")
    with st.expander("Per-country table"):
        st.dataframe(figures.per_country_table(evaluation.per_country), hide_index=True)
    if record.verification is not None:
        word = "passed" if record.verification_passed else "FAILED"
        st.markdown(f"ONNX export verification **{word}** (details on the Export page).")
    else:
        st.caption("Not exported yet: export it on the Export page.")


def job_panel() -> None:
    """The picker and the chosen training, drawn from one reading of the job files, so the
    picker's state and the progress bar always agree (both refresh together)."""
    views = training_jobs.training_jobs(settings)[:30]
    if not views:
        st.info("No training yet: choose data and press **Train**.")
        return
    by_id = {v.job.id: v for v in views}
    ids = list(by_id)
    chosen = st.session_state.get(SELECTED)
    job_id = st.selectbox(
        "Training run",
        ids,
        index=ids.index(chosen) if chosen in ids else 0,
        format_func=lambda i: f"{i} · {by_id[i].state}" if i in by_id else i,
    )
    st.session_state[SELECTED] = job_id
    view = by_id[job_id]
    job = view.job
    if view.state in ("starting", "running"):
        st.progress(view.status.progress, text=view.headline())
        status = view.status
        st.plotly_chart(
            figures.training_curves(
                status.history, status.curve, epochs=status.epochs, ceiling=status.bayes_accuracy
            ),
            key="live_curves",
        )
        left, right = st.columns(2)
        if left.button("Stop and keep the model", help="ends after the current batch"):
            training_jobs.stop_training(job)
            st.toast("Stopping after the current batch…")
        if right.button("Cancel", help="kill the training; nothing is kept"):
            cancel_tracked_training(settings, job)
            st.rerun()
    elif view.state in ("done", "stopped"):
        (st.success if view.state == "done" else st.warning)(view.headline())
        if said := figures.run_sentence(view.status.run):
            st.markdown(said)
            st.page_link("app_pages/experiments.py", label="Compare it on Experiments", icon="🧪")
        elif view.status.tracking:
            st.caption(view.status.tracking)
        record = load_training(view.model_dir) if view.model_dir else None
        if record is None:
            st.error("The training finished but its model directory is gone.")
        else:
            show_results(record)
    elif view.state == "cancelled":
        st.info(view.headline())
    else:
        st.error(view.headline())
    with st.expander("Log"):
        st.code(job.log_tail(60) or "(empty)", language=None)
    if st.session_state.get("train_was_running") and view.finished:
        st.session_state["train_was_running"] = False
        st.rerun()  # redraw the whole page: the comparison below now has this training
    st.session_state["train_was_running"] = not view.finished


running = any(not v.finished for v in training_jobs.training_jobs(settings)[:30])
st.fragment(job_panel, run_every=1.5 if running else None)()

# --- 4. Compare ---------------------------------------------------------------------------------
records = list_trainings(settings)
if len(records) >= 2:
    st.subheader("4 · Compare trainings")
    by_id = {r.id: r for r in records}
    picked = st.multiselect("Trainings", list(by_id), default=list(by_id)[:3])
    summaries = [by_id[i].summary() for i in picked]
    if summaries:
        st.plotly_chart(figures.comparison_figure(summaries), key="comparison")
        st.dataframe(figures.comparison_table(summaries), hide_index=True)
