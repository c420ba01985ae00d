"""A hyperparameter search: an Optuna study whose every trial is a training logged as a run.

The objective is the **lowest validation loss** a trial reaches (cross-entropy on the songs held
out whole by :func:`jukebox.data.preparation.prepare`, never the test split). The loss, rather
than accuracy, because it is what early stopping watches and keeps the best weights of, and it
moves smoothly with every probability; accuracy on a few hundred held-out songs moves in steps
and ties often, which gives the sampler less to learn from. The validation accuracy of the same
epoch is recorded beside it.

Each trial is one experiment run (experiment ``search-<id>``, source ``search``, run
``trial-<n>``): its parameters, each epoch's figures (through
:class:`jukebox.registry.experiments.RunLogger`), and at the end ``FINISHED`` with its best
validation figures, ``KILLED`` with the property ``search.outcome=pruned`` when the pruner
stopped it (or ``stopped`` on request), ``FAILED`` when its training failed. The sampler is a
seeded TPE; the pruner (the worst quarter of earlier trials at the same epoch, after a
warm-up) is asked after every epoch and stops a clearly worse trial through ``should_stop``.

The data is prepared once; every trial trains on the same split. :func:`train_best` then
trains the best trial's parameters again, evaluates on the test split, exports and verifies,
and attaches the bundle to the best trial's run. Training again rather than keeping each
trial's model: keeping every trial's Keras model in memory costs more than one more training,
and with the same seed, the same prepared data and TensorFlow's deterministic kernels the second
training reproduces the trial's weights, so the bundle is that trial's model.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from jukebox.config import Settings
from jukebox.errors import JukeboxError
from jukebox.model.network import TrainingParams
from jukebox.registry.errors import RegistryError
from jukebox.registry.experiments import (
    RunLogger,
    RunRef,
    attach_bundle,
    finish_run,
    get_run,
    set_run_properties,
    start_run,
)
from jukebox.tuning.space import SEARCHED, SearchSpace

if TYPE_CHECKING:
    from jukebox.data.preparation import Prepared
    from jukebox.data.songdata import SongData
    from jukebox.model.fit import ProgressListener
    from jukebox.model.runs import TrainingRecord

SOURCE = "search"
OBJECTIVE = "val_loss"
"""What a trial is judged by (lower is better): see the module's docstring."""
OUTCOME = "search.outcome"
TRIAL_STATES = ("finished", "pruned", "stopped", "failed")


@dataclass(frozen=True)
class TrialOutcome:
    """One trial as it ended: ``state`` is ``finished``, ``pruned``, ``stopped`` (on request)
    or ``failed``; ``value`` the best validation loss it reached (None if it never finished an
    epoch), ``val_accuracy`` the accuracy at that epoch."""

    number: int
    params: dict[str, Any]
    state: str
    value: float | None
    val_accuracy: float | None
    epochs: int
    seconds: float
    run_id: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialOutcome:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})

    @property
    def searched(self) -> dict[str, Any]:
        """Only the searched parameters, in :data:`SEARCHED` order."""
        return {k: self.params[k] for k in SEARCHED if k in self.params}


@dataclass(frozen=True)
class SearchResult:
    """The whole search: its experiment, its trials in order, and whether it was stopped."""

    experiment: str
    space: SearchSpace
    trials: tuple[TrialOutcome, ...]
    stopped: bool = False
    objective: str = OBJECTIVE

    @property
    def best(self) -> TrialOutcome | None:
        return best_of(self.trials)


def best_of(trials: Iterable[TrialOutcome]) -> TrialOutcome | None:
    """The finished trial with the lowest validation loss (pruned ones never count)."""
    finished = [t for t in trials if t.state == "finished" and t.value is not None]
    return min(finished, key=lambda t: (t.value, t.number)) if finished else None


def default_pruner():
    """Prune a trial whose validation loss at an epoch is worse than three quarters of the
    earlier trials at that epoch, once four trials have finished and after its own first ten
    epochs. Clearly worse, and not merely slow: a small learning rate starts slowly and ends
    best (a median after two epochs pruned exactly those on the default data set)."""
    import optuna

    return optuna.pruners.PercentilePruner(75.0, n_startup_trials=4, n_warmup_steps=10)


def new_study(seed: int, pruner=None):
    """A study minimising the validation loss, TPE sampler seeded with ``seed``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner if pruner is not None else default_pruner(),
    )


class _PruneWatch:
    """A training listener: reports each epoch's validation loss to the trial and remembers
    when the pruner says the trial is clearly worse."""

    def __init__(self, trial) -> None:
        self.trial = trial
        self.pruned = False
        self.history: list[tuple[float, float | None]] = []

    def __call__(self, event) -> None:
        if event.kind != "epoch_end" or self.pruned:
            return
        loss = event.metrics.get(OBJECTIVE)
        if loss is None:
            return
        self.history.append((loss, event.metrics.get("val_accuracy")))
        self.trial.report(loss, event.epoch)
        if self.trial.should_prune():
            self.pruned = True

    def best(self) -> tuple[float | None, float | None]:
        if not self.history:
            return None, None
        return min(self.history, key=lambda pair: pair[0])


def prepare_once(data: SongData | Prepared, seed: int) -> Prepared:
    """``data`` split for training (once per search), or as it is when already prepared."""
    from jukebox.data.preparation import Prepared as PreparedType

    if isinstance(data, PreparedType):
        return data
    from jukebox.data.merge import merge_tables
    from jukebox.data.preparation import prepare

    return prepare(merge_tables(data.properties, data.rankings), seed=seed)


def search_experiment(search_id: str) -> str:
    return f"search-{search_id}"


def run_trial(
    settings: Settings,
    prepared: Prepared,
    params: TrainingParams,
    *,
    number: int,
    experiment: str,
    trial=None,
    listeners: Iterable[ProgressListener] = (),
    should_stop: Callable[[], bool] | None = None,
    data_version: str | None = None,
) -> TrialOutcome:
    """Train one trial's ``params`` on ``prepared`` as the run ``trial-<number>``.

    With an Optuna ``trial`` its validation loss is reported each epoch and the pruner may stop
    it; ``should_stop`` stops it on request (the run ends ``KILLED``, state ``stopped``). A
    training the user's parameters break (a diverging loss) ends ``failed`` without raising.
    """
    from jukebox.model.fit import train

    run = start_run(
        settings,
        params=params.to_dict(),
        source=SOURCE,
        experiment=experiment,
        name=f"trial-{number}",
        data_version=data_version,
    )
    logger = RunLogger(settings, run)
    watch = _PruneWatch(trial) if trial is not None else None
    requested = False

    def stop() -> bool:
        nonlocal requested
        if should_stop is not None and should_stop():
            requested = True
        return requested or (watch is not None and watch.pruned)

    watches = [watch] if watch is not None else []
    started = time.perf_counter()
    try:
        fitted = train(prepared, params, listeners=[logger, *watches, *listeners], should_stop=stop)
    except JukeboxError as error:
        _end(settings, run, "FAILED", {OUTCOME: "failed"})
        return TrialOutcome(
            number, params.to_dict(), "failed", None, None, logger.epochs,
            time.perf_counter() - started, run.run_id, str(error),
        )  # fmt: skip
    except BaseException:
        _end(settings, run, "KILLED" if _interrupted() else "FAILED", {OUTCOME: "failed"})
        raise
    seconds = time.perf_counter() - started
    value, accuracy = _best_validation(fitted.history)
    if watch is not None and watch.pruned:
        state = "pruned"
    elif requested:
        state = "stopped"
    else:
        state = "finished"
    if state == "finished":
        final = {"best_val_loss": value, "best_val_accuracy": accuracy}
        finish_run(settings, run, "FINISHED", metrics=_present(final), step=fitted.epochs_run)
        set_run_properties(settings, run, {OUTCOME: state})
    else:
        _end(settings, run, "KILLED", {OUTCOME: state})
    return TrialOutcome(
        number, params.to_dict(), state, value, accuracy, fitted.epochs_run, seconds, run.run_id
    )


def _interrupted() -> bool:
    import sys

    error = sys.exc_info()[1]
    return isinstance(error, KeyboardInterrupt | SystemExit)


def _present(metrics: Mapping[str, float | None]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if v is not None}


def _end(settings: Settings, run: RunRef, status: str, properties: dict) -> None:
    with contextlib.suppress(RegistryError):
        finish_run(settings, run, status)
        set_run_properties(settings, run, properties)


def _best_validation(history: Mapping[str, list[float]]) -> tuple[float | None, float | None]:
    """The lowest validation loss of any epoch, and the validation accuracy of that epoch."""
    losses = history.get(OBJECTIVE) or []
    if not losses:
        return None, None
    best = min(range(len(losses)), key=lambda i: losses[i])
    accuracies = history.get("val_accuracy") or []
    return float(losses[best]), float(accuracies[best]) if best < len(accuracies) else None


def run_search(
    data: SongData | Prepared,
    space: SearchSpace,
    trials: int = 10,
    *,
    settings: Settings,
    experiment: str,
    on_trial: Callable[[TrialOutcome, TrialOutcome | None], None] | None = None,
    on_trial_start: Callable[[int, TrainingParams], None] | None = None,
    listeners: Iterable[ProgressListener] = (),
    should_stop: Callable[[], bool] | None = None,
    seed: int = 0,
    pruner=None,
    data_version: str | None = None,
) -> SearchResult:
    """Search ``space`` with ``trials`` trainings on ``data`` (prepared once, here, unless it
    already is), each logged as a run of ``experiment``.

    ``on_trial_start(number, params)`` is told each trial as it starts, ``listeners`` get its
    training events, and ``on_trial(outcome, best so far)`` each ending trial. ``should_stop``
    (checked after every batch) stops the running trial (its run ends ``KILLED``) and the search
    after it. ``seed`` seeds the TPE sampler; ``pruner`` defaults to :func:`default_pruner`.
    """
    import optuna

    if trials < 1:
        raise ValueError("A search needs at least one trial.")
    prepared = prepare_once(data, space.seed)
    study = new_study(seed, pruner)
    outcomes: list[TrialOutcome] = []
    stopped = False
    for _ in range(trials):
        if should_stop is not None and should_stop():
            stopped = True
            break
        trial = study.ask()
        params = space.suggest(trial)
        if on_trial_start is not None:
            on_trial_start(trial.number, params)
        try:
            outcome = run_trial(
                settings,
                prepared,
                params,
                number=trial.number,
                experiment=experiment,
                trial=trial,
                listeners=listeners,
                should_stop=should_stop,
                data_version=data_version,
            )
        except BaseException:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        if outcome.state == "finished" and outcome.value is not None:
            study.tell(trial, outcome.value)
        elif outcome.state == "pruned":
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        outcomes.append(outcome)
        if on_trial is not None:
            on_trial(outcome, best_of(outcomes))
        if outcome.state == "stopped":
            stopped = True
            break
    return SearchResult(experiment, space, tuple(outcomes), stopped)


@dataclass(frozen=True, eq=False)
class BestModel:
    """The best trial trained again, evaluated on the test split, exported and verified."""

    trial: TrialOutcome
    record: TrainingRecord

    @property
    def accuracy(self) -> float:
        return self.record.report.evaluation.accuracy

    @property
    def verified(self) -> bool:
        return bool(self.record.verification_passed)


def train_best(
    settings: Settings,
    data: SongData | Prepared,
    best: TrialOutcome,
    *,
    training_id: str,
    summary: Mapping[str, Any] | None = None,
    data_version: str | None = None,
    listeners: Iterable[ProgressListener] = (),
    should_stop: Callable[[], bool] | None = None,
) -> BestModel:
    """Train ``best``'s parameters again on the same split (with early stopping on the
    validation loss), evaluate it on the test split, save it as the training ``training_id``,
    export and verify it as :func:`jukebox.model.workflow.run_training` does, and give its
    bundle to the trial's run. ``summary`` (``SongData.summary()``) is what the report says of
    the data; it is taken from ``data`` when that is a ``SongData``."""
    from jukebox.model.runs import save_run_ref, save_training, training_dir
    from jukebox.model.workflow import (
        data_facts,
        evaluate_model,
        export_training,
        fit_model,
        new_report,
        predict_test_split,
    )

    params = TrainingParams.from_dict(best.params)
    prepared = prepare_once(data, params.seed)
    if summary is None:
        summary = data.summary() if hasattr(data, "summary") and not _is_prepared(data) else {}
    model, fit = fit_model(prepared, params, listeners=listeners, should_stop=should_stop)
    evaluation = evaluate_model(model, prepared, summary.get("bayes_accuracy"))
    facts = data_facts(summary, prepared, data_version)
    report = new_report(training_id, params, fit, facts, evaluation)
    record = save_training(
        training_dir(settings, training_id),
        model,
        prepared.preprocessing(),
        report,
        prepared.x_test,
        prepared.decode(prepared.y_test),
        x_train=prepared.x_train,
    )
    output = predict_test_split(model, prepared)
    record = export_training(record.path, model=model, test_output=output)
    if best.run_id:
        attach_bundle(settings, best.run_id, str(record.path))
        # Registering the bundle links the version to this trial's run, as for any training.
        run = get_run(settings, best.run_id)
        save_run_ref(
            record.path,
            {"run_id": run.run_id, "experiment_id": run.experiment_id, "name": run.name},
        )
    return BestModel(best, record)


def _is_prepared(data: Any) -> bool:
    from jukebox.data.preparation import Prepared as PreparedType

    return isinstance(data, PreparedType)
