"""What each pipeline component does: read its input artifacts, call the library's step, write
its output artifacts. A component's body is one call into this module.

Artifacts are directories and files of JSON, Parquet, Keras and ONNX (never pickle), read and
written by ``data.store`` and ``model.runs``. When the environment names a run record
(``JUKEBOX_PIPELINE_RUN_DIR``, set by the local runner; kfp's local mode passes the environment
on to every task), each task records its own state, times, outputs, metrics and log there; on a
cluster the variable is absent and KFP keeps that record itself.

``log_metric`` and ``log_confusion`` are the ``log_metric`` / ``log_confusion_matrix`` methods of
the component's KFP ``Metrics`` and ``ClassificationMetrics`` outputs, so this module needs no
kfp.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TextIO

from jukebox.config import Settings, load_settings
from jukebox.errors import JukeboxError
from jukebox.pipelines.records import (
    DataFacts,
    FetchOutcome,
    GateOutcome,
    RegisterOutcome,
    VersionOutcome,
    record_task,
    task_log,
)

RUN_DIR_ENV = "JUKEBOX_PIPELINE_RUN_DIR"

LogMetric = Callable[[str, float], None]


class _Tee:
    """Writes to the task's own log as well as to the stream kfp collects."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


@contextmanager
def recorded(name: str) -> Iterator[dict[str, Any]]:
    """Run one task's body, recording its state in the run record when there is one.

    Yields a dict the body fills with its outputs (small values: ids, counts, verdicts). A
    :class:`JukeboxError` fails the task with its sentence and no traceback; anything else fails
    it with the traceback in the log.
    """
    run_dir = Path(os.environ[RUN_DIR_ENV]) if os.environ.get(RUN_DIR_ENV) else None
    outputs: dict[str, Any] = {}
    if run_dir is None:  # on a cluster: KFP records the task; its log says why it failed
        try:
            yield outputs
        except JukeboxError as error:
            print(f"error: {error}", file=sys.stderr, flush=True)
            raise SystemExit(1) from None
        return
    record_task(run_dir, name, state="running", started=time.time())
    with open(task_log(run_dir, name), "a", buffering=1) as log:
        stdout, sys.stdout = sys.stdout, _Tee(sys.stdout, log)  # type: ignore[assignment]
        try:
            yield outputs
        except JukeboxError as error:
            print(f"error: {error}", flush=True)
            record_task(run_dir, name, state="failed", ended=time.time(), error=str(error))
            raise SystemExit(1) from None
        except BaseException as error:
            log.write(traceback.format_exc())
            message = f"{type(error).__name__}: {error}"
            record_task(run_dir, name, state="failed", ended=time.time(), error=message)
            raise
        finally:
            sys.stdout = stdout
    record_task(run_dir, name, state="succeeded", ended=time.time(), outputs=outputs)
    print(f"[{name}] succeeded", flush=True)


def _metric(log_metric: LogMetric, outputs: dict, name: str, value: float | None) -> None:
    if value is not None:
        log_metric(name, float(value))
        outputs.setdefault("metrics", {})[name] = float(value)


def _finish_metrics(name: str, outputs: dict) -> None:
    """Move the metrics a task logged from its outputs into their own field of its record."""
    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir and "metrics" in outputs:
        record_task(Path(run_dir), name, metrics=outputs.pop("metrics"))


def task_settings(registry_url: str = "", data_repo_url: str = "") -> Settings:
    """The settings of this task: its environment, with the service addresses the pipeline
    passed as parameters (on a cluster the only way they arrive; empty, the environment's)."""
    settings = load_settings()
    return replace(
        settings,
        registry_url=registry_url or settings.registry_url,
        data_git_url=data_repo_url or settings.data_git_url,
    )


# --- the steps ------------------------------------------------------------------------------------


def fetch_data(source: str, options: dict, data_dir: str, data_repo_url: str = "") -> str:
    """Load the songs from ``source`` into a data set directory; returns :class:`DataFacts` as
    JSON, for register.

    For a DVC data version (``source="version"``, ``options["ref"]`` a git commit or md5) the
    facts name its md5, each table's md5, the commit and the remotes, which the registry records
    on the model version; otherwise an id of the tables' content. On a cluster the current data
    set is the newest data version: a pod has no other.
    """
    from jukebox.data.store import content_id, fetch, write_data_dir

    with recorded("fetch-data") as outputs:
        settings = task_settings(data_repo_url=data_repo_url)
        if source == "current" and settings.in_pipeline_pod:
            source, options = "version", {"ref": "latest"}
        if source == "version":
            from jukebox.data import versions

            versions.sync(settings)  # a pod starts with no clone; elsewhere, see new commits
            version = versions.resolve(settings, str(options.get("ref") or "latest"))
            data = versions.read_version(settings, version.commit)
            write_data_dir(data, Path(data_dir))
            facts = DataFacts(
                md5=version.md5,
                commit=version.commit,
                tables={name: table.md5 for name, table in version.tables.items()},
                remotes=versions.remotes(settings),
            )
        else:
            data = fetch(source, options, settings)
            facts = DataFacts(md5=content_id(write_data_dir(data, Path(data_dir))))
        print(f"{data.source}: {len(data.rankings):,} chart rows, {data.n_songs:,} songs")
        outputs.update(asdict(FetchOutcome(data.source, data.n_songs, facts.md5, facts.commit)))
        outputs["artifacts"] = {"data": data_dir}
    return facts.to_json()


def validate_and_prepare(
    data_dir: str, hyperparameters: dict, prepared_dir: str, log_metric: LogMetric
) -> None:
    """Validate the data set (schema, types, ranges, row counts) and split it for training.

    Reading the directory validates both tables again and raises a ``ValidationError`` listing
    every error; the rows validation flags are dropped as the page and ``data load`` drop them;
    preparation refuses too few rows, a single country or a single date. What validation found
    is logged as metrics, so a run says what its data looked like.
    """
    from jukebox.data.merge import merge_tables
    from jukebox.data.preparation import prepare
    from jukebox.data.store import clean_flagged, read_data_dir, write_prepared
    from jukebox.model.network import TrainingParams

    name = "validate-and-prepare"
    with recorded(name) as outputs:
        found = read_data_dir(Path(data_dir))
        report = found.report
        data = clean_flagged(found)
        if data is not found:
            print(f"Dropped {len(found.rankings) - len(data.rankings):,} chart rows: {data.source}")
        summary = data.summary()
        for key in ("songs", "ranking_rows", "countries"):
            _metric(log_metric, outputs, key, summary[key])
        _metric(log_metric, outputs, "validation_errors", len(report.errors))
        _metric(log_metric, outputs, "validation_warnings", len(report.warnings))
        _metric(log_metric, outputs, "flagged_rows", sum(report.droppable.values()))
        for finding in report.findings:
            print(f"{finding.level}: {finding.message}")
        seed = TrainingParams.from_dict(hyperparameters).seed
        prepared = prepare(merge_tables(data.properties, data.rankings), seed=seed)
        write_prepared(prepared, Path(prepared_dir))
        outputs["artifacts"] = {"prepared": prepared_dir}
        for split, rows in prepared.sizes().items():
            _metric(log_metric, outputs, f"{split}_rows", rows)
        for note in prepared.notes:
            print(f"note: {note}")
    _finish_metrics(name, outputs)


def train(
    prepared_dir: str,
    hyperparameters: dict,
    model_dir: str,
    log_metric: LogMetric,
    registry_url: str = "",
    run_id: str = "",
    data_version: str = "",
) -> None:
    """Fit the network on the prepared training split, printing progress, and keep its output
    on the test split: the only steps that load TensorFlow are this one and the conversion, so
    the pipeline pays its import (seconds) twice, not in every task.

    The fitting is a run of the ``jukebox`` experiment in the model registry (source
    ``pipeline``, named after the pipeline run ``run_id``): its parameters, each epoch's figures,
    the last validation figures; the run is recorded in the model artifact, so the evaluate task
    logs the test figures to it and the register task links the version to it. A registry that
    cannot log it is a warning: the model is trained all the same."""
    from jukebox.data.store import read_prepared
    from jukebox.model.fit import predict
    from jukebox.model.network import TrainingParams
    from jukebox.model.progress import ConsolePrinter
    from jukebox.model.runs import save_fitted
    from jukebox.model.workflow import fit_model
    from jukebox.registry.tracking import finish_fitting, training_run

    name = "train"
    with recorded(name) as outputs:
        params = TrainingParams.from_dict(hyperparameters)
        prepared = read_prepared(Path(prepared_dir))
        settings = task_settings(registry_url=registry_url)
        facts = DataFacts.from_json(data_version) if data_version else None
        with training_run(
            settings,
            params=params.to_dict(),
            source="pipeline",
            name=f"pipeline-{run_id}" if run_id else None,
            data_version=facts.md5 if facts else None,
        ) as tracker:
            listeners = [ConsolePrinter(), *([tracker] if tracker is not None else [])]
            model, fit = fit_model(prepared, params, listeners=listeners)
            probabilities = predict(model, prepared.features, prepared.x_test)
            save_fitted(Path(model_dir), model, fit, probabilities, prepared.labels)
            run = finish_fitting(
                settings,
                tracker,
                model_dir,
                fit.history,
                epochs_run=fit.epochs_run,
                stopped=fit.stopped,
            )
        if run is not None:
            print(f"Logged as run {run.name} of experiment {run.experiment}")
            outputs["experiment_run"] = run.name
        outputs["artifacts"] = {"model": model_dir}
        _metric(log_metric, outputs, "epochs_run", fit.epochs_run)
        _metric(log_metric, outputs, "seconds", fit.seconds)
        for key in ("val_accuracy", "val_loss"):
            if fit.history.get(key):
                _metric(log_metric, outputs, key, fit.history[key][-1])
    _finish_metrics(name, outputs)


def evaluate(
    data_dir: str,
    prepared_dir: str,
    model_dir: str,
    evaluation_file: str,
    model_name: str,
    tolerance: float,
    registry_url: str,
    log_metric: LogMetric,
    log_confusion: Callable[[list[str], list[list[int]]], None],
    notes: dict[str, Any] | None = None,
) -> bool:
    """Score the model on the test split and hold it against the production version.

    Returns whether it may be registered. The verdict is the metric ``gate_passed`` (1 or 0) and
    its reason the note ``gate`` (``notes`` is the KFP metrics artifact's metadata, so a run on
    a cluster shows both in its evaluate task); both are printed and recorded here too.
    """
    from jukebox.data.store import read_info, read_prepared
    from jukebox.model.evaluation import evaluate as score
    from jukebox.model.runs import read_fit, read_test_probabilities, save_json
    from jukebox.pipelines.gate import production_gate
    from jukebox.registry.tracking import log_test_figures, recorded_run

    name = "evaluate"
    with recorded(name) as outputs:
        prepared = read_prepared(Path(prepared_dir))
        bayes = (read_info(Path(data_dir)) or {}).get("bayes_accuracy")
        probabilities = read_test_probabilities(Path(model_dir))
        evaluation = score(probabilities, prepared.y_test, prepared.labels, bayes_accuracy=bayes)
        save_json(Path(evaluation_file), evaluation)
        outputs["artifacts"] = {"evaluation": evaluation_file}
        for key, value in evaluation.numbers().items():
            _metric(log_metric, outputs, key, value)
        log_confusion(list(evaluation.labels), [list(row) for row in evaluation.confusion_matrix])
        settings = task_settings(registry_url=registry_url)
        run = recorded_run(Path(model_dir))
        if run is not None:  # the train task's run: its test figures, at its last epoch
            log_test_figures(settings, run, evaluation, read_fit(Path(model_dir)).epochs_run)
        gate = production_gate(evaluation.accuracy, model_name, tolerance, settings)
        print(gate.reason)
        _metric(log_metric, outputs, "gate_passed", int(gate.passed))
        if gate.production_accuracy is not None:
            _metric(log_metric, outputs, "production_accuracy", gate.production_accuracy)
        if notes is not None:
            notes["gate"] = gate.reason
        outputs.update(asdict(GateOutcome(gate.passed, gate.reason)))
    _finish_metrics(name, outputs)
    return gate.passed


def convert_to_onnx(model_dir: str, prepared_dir: str, onnx_file: str) -> None:
    """Convert the Keras model to ONNX (the scaling inside the graph)."""
    from jukebox.data.store import read_prepared
    from jukebox.model.runs import read_keras
    from jukebox.model.workflow import convert_model

    with recorded("convert-to-onnx") as outputs:
        model = read_keras(Path(model_dir))
        preprocessing = read_prepared(Path(prepared_dir)).preprocessing()
        convert_model(model, preprocessing, Path(onnx_file))
        outputs["artifacts"] = {"onnx_model": onnx_file}


def verify_onnx(
    model_dir: str,
    prepared_dir: str,
    onnx_file: str,
    verification_file: str,
    log_metric: LogMetric,
) -> None:
    """Run the ONNX model in onnxruntime and OpenVINO on the test split and compare with the
    Keras model's output there (kept by the train step); a model that does not match fails
    the run, so it can never be registered."""
    from jukebox.data.store import read_prepared
    from jukebox.model.export import ExportError, verify
    from jukebox.model.runs import read_test_probabilities, save_json

    name = "verify-onnx"
    with recorded(name) as outputs:
        prepared = read_prepared(Path(prepared_dir))
        expected = read_test_probabilities(Path(model_dir))
        verification = verify(onnx_file, expected, prepared.features, prepared.x_test)
        save_json(Path(verification_file), verification)
        outputs["artifacts"] = {"verification": verification_file}
        for key, value in verification.numbers().items():
            _metric(log_metric, outputs, key, value)
        if not verification.passed:
            raise ExportError(
                "The ONNX model does not compute what the Keras model does: "
                + "; ".join(verification.problems)
            )
    _finish_metrics(name, outputs)


def register(
    data_dir: str,
    prepared_dir: str,
    model_dir: str,
    onnx_file: str,
    evaluation_file: str,
    verification_file: str,
    model_name: str,
    version: str,
    hyperparameters: dict,
    data_version: str,
    run_id: str,
    registry_url: str = "",
    trigger: str = "",
) -> str:
    """Make the run's results a verified bundle and register it; returns the version.

    The bundle is the same directory a training in the app writes (``models/<run id>/``), so the
    Export page shows it too; ``run_id`` is recorded as the version's ``pipeline_run_id``, and
    ``trigger`` (what started the run, e.g. a drift alert) as its ``trigger``.
    """
    from jukebox.data.store import read_info, read_prepared
    from jukebox.model.export import onnx_facts
    from jukebox.model.network import TrainingParams
    from jukebox.model.runs import (
        keras_file,
        read_evaluation,
        read_fit,
        read_run_ref,
        read_verification,
        save_export,
        save_run_ref,
        save_training,
        training_dir,
    )
    from jukebox.model.workflow import data_facts, new_report
    from jukebox.registry.errors import DuplicateBundleError, DuplicateVersionError
    from jukebox.registry.register import register_bundle
    from jukebox.registry.versions import suggest_next_version

    with recorded("register") as outputs:
        settings = task_settings(registry_url=registry_url)
        fit = read_fit(Path(model_dir))
        prepared = read_prepared(Path(prepared_dir))
        preprocessing = prepared.preprocessing()
        data = DataFacts.from_json(data_version)
        facts = replace(
            data_facts(read_info(Path(data_dir)) or {}, prepared, data.md5), commit=data.commit
        )
        params = TrainingParams.from_dict(hyperparameters)
        report = new_report(
            run_id, params, fit, facts, read_evaluation(Path(evaluation_file))
        ).with_export(
            read_verification(Path(verification_file)),
            onnx_facts(onnx_file),
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        path = training_dir(settings, run_id)
        save_training(
            path,
            keras_file(Path(model_dir)),
            preprocessing,
            report,
            prepared.x_test,
            prepared.decode(prepared.y_test),
            x_train=prepared.x_train,
        )
        save_export(path, Path(onnx_file), preprocessing, report)
        run = read_run_ref(Path(model_dir))
        if run is not None:  # the train task's run: registering links the version to it
            save_run_ref(path, run)
        # "next" is resolved at the last moment, and again if another run took that number
        # in the meantime: two runs at once must both register, never overwrite. The very same
        # model (same data, same seed) registered before is no new version: the run says so.
        for attempt in range(5):
            number = suggest_next_version(model_name, settings) if version == "next" else version
            try:
                registered = register_bundle(
                    path,
                    model_name,
                    number,
                    data_version=data if data.md5 else None,
                    pipeline_run_id=run_id,
                    trigger=trigger or None,
                    settings=settings,
                )
                break
            except DuplicateVersionError:
                if version != "next" or attempt == 4:
                    raise
            except DuplicateBundleError as error:
                print(f"Not registered: {error}")
                said = RegisterOutcome(
                    model_name, note=f"Not registered: {error}", duplicate_of=error.registered_as
                )
                outputs.update(asdict(said))
                return ""
        print(f"Registered {model_name} version {registered.version}")
        outputs.update(asdict(RegisterOutcome(model_name, registered.version)))
        outputs["artifacts"] = {"bundle": str(path), "stored at": registered.uri or ""}
    return registered.version


# --- the data pipeline ----------------------------------------------------------------------------


def extract_data(source: str, options: dict, raw_dir: str, data_repo_url: str = "") -> None:
    """Load the songs from any source the app reads into a data set directory; on a cluster
    the current data set is the newest data version."""
    from jukebox.data.store import fetch, write_data_dir

    with recorded("extract-data") as outputs:
        settings = task_settings(data_repo_url=data_repo_url)
        if source == "current" and settings.in_pipeline_pod:
            from jukebox.data import versions

            versions.sync(settings)
            data = versions.read_version(settings, "latest")
        else:
            data = fetch(source, options, settings)
        write_data_dir(data, Path(raw_dir))
        print(f"{data.source}: {len(data.rankings):,} chart rows, {data.n_songs:,} songs")
        outputs.update(asdict(FetchOutcome(data.source, data.n_songs)))
        outputs["artifacts"] = {"raw": raw_dir}


def transform_data(raw_dir: str, clean_dir: str, log_metric: LogMetric) -> None:
    """Normalise column names and types (reading conforms both tables to the schema) and drop
    the rows validation flags as spoiling training."""
    from jukebox.data.store import clean_flagged, read_data_dir, write_data_dir

    name = "transform-data"
    with recorded(name) as outputs:
        data = read_data_dir(Path(raw_dir))
        cleaned = clean_flagged(data)
        write_data_dir(cleaned, Path(clean_dir))
        _metric(log_metric, outputs, "rows_in", len(data.rankings))
        _metric(log_metric, outputs, "rows_dropped", len(data.rankings) - len(cleaned.rankings))
        _metric(log_metric, outputs, "songs_dropped", data.n_songs - cleaned.n_songs)
        outputs["artifacts"] = {"clean": clean_dir}
    _finish_metrics(name, outputs)


def validate_data(clean_dir: str, log_metric: LogMetric) -> None:
    """Validate the tables (schema, types, ranges) and that a model can be trained on them
    (rows, countries and dates enough to split): the data version is made only if so."""
    from jukebox.data.merge import merge_tables
    from jukebox.data.preparation import prepare
    from jukebox.data.store import read_data_dir

    name = "validate-data"
    with recorded(name) as outputs:
        data = read_data_dir(Path(clean_dir))
        summary = data.summary()
        for key in ("songs", "ranking_rows", "countries"):
            _metric(log_metric, outputs, key, summary[key])
        _metric(log_metric, outputs, "validation_warnings", len(data.report.warnings))
        prepared = prepare(merge_tables(data.properties, data.rankings))
        for split, rows in prepared.sizes().items():
            _metric(log_metric, outputs, f"{split}_rows", rows)
    _finish_metrics(name, outputs)


def load_and_version(clean_dir: str, message: str, data_repo_url: str = "") -> str:
    """Make the data the current data set (the live tables) and version it with DVC; returns
    the new version's git commit, or an empty string when the content did not change."""
    from jukebox.data import versions
    from jukebox.data.store import read_data_dir, save_current

    with recorded("load-and-version") as outputs:
        settings = task_settings(data_repo_url=data_repo_url)
        data = read_data_dir(Path(clean_dir))
        save_current(data, settings)
        version = versions.version_current(settings, message or None)
        if version is None:
            print("The data did not change: no new version.")
            outputs.update(asdict(VersionOutcome(changed=False)))
            return ""
        print(f"New data version {version.short} ({version.md5})")
        outputs.update(asdict(VersionOutcome(True, version.commit, version.md5)))
    return version.commit
