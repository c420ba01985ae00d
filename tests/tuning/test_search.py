"""A tiny search against the embedded registry: trials become runs with each epoch's figures,
a clearly worse trial is pruned, a stop request ends the search, and the best is trained again,
exported and registered through the gate."""

from __future__ import annotations

import uuid

import pytest

from jukebox.registry import experiments
from jukebox.tuning.search import best_of, run_search, train_best
from jukebox.tuning.space import SearchSpace
from tests.tuning.conftest import TINY_SPACE

pytestmark = pytest.mark.slow  # real trainings, a few seconds each


def _pruner(*numbers: int):
    """A pruner that prunes the given trial numbers at their first report: the constructed case
    of a trial clearly worse than the others."""
    import optuna

    class PruneTrials(optuna.pruners.BasePruner):
        def prune(self, study, trial) -> bool:
            return trial.number in numbers

    return PruneTrials()


@pytest.fixture
def experiment():
    return f"search-{uuid.uuid4().hex[:8]}"


def test_trials_are_runs_with_history_and_a_pruned_one_is_killed(
    registry_env, prepared, experiment
):
    seen = []
    result = run_search(
        prepared,
        SearchSpace.from_dict(TINY_SPACE),
        3,
        settings=registry_env,
        experiment=experiment,
        on_trial=lambda outcome, best: seen.append((outcome.number, best)),
        seed=3,
        pruner=_pruner(1),
    )
    assert [t.number for t in result.trials] == [0, 1, 2] == [n for n, _ in seen]
    states = [t.state for t in result.trials]
    assert states == ["finished", "pruned", "finished"]
    assert result.trials[1].epochs == 1  # stopped right after its first epoch
    best = result.best
    assert best is not None and best.value == min(result.trials[0].value, result.trials[2].value)

    runs = {r.name: r for r in experiments.list_runs(registry_env, experiment)}
    assert set(runs) == {"trial-0", "trial-1", "trial-2"}
    assert runs["trial-0"].status == "FINISHED" and runs["trial-1"].status == "KILLED"
    assert runs["trial-1"].properties["search.outcome"] == "pruned"
    assert runs["trial-0"].source == "search"
    assert runs["trial-0"].params["width"] == result.trials[0].params["width"]
    assert runs["trial-0"].metrics["best_val_loss"] == pytest.approx(result.trials[0].value)
    history = experiments.metric_history(registry_env, result.trials[0].run_id)
    assert [step for step, _ in history["val_loss"]] == list(range(1, result.trials[0].epochs + 1))


def test_a_stop_request_ends_the_running_trial_and_the_search(registry_env, prepared, experiment):
    batches = []

    def should_stop() -> bool:  # at the first report: batches run eight to a call
        return len(batches) >= 1

    result = run_search(
        prepared,
        SearchSpace.from_dict(TINY_SPACE),
        4,
        settings=registry_env,
        experiment=experiment,
        listeners=[lambda event: batches.append(event) if event.kind == "batch_end" else None],
        should_stop=should_stop,
        seed=3,
    )
    assert result.stopped
    assert [t.state for t in result.trials][-1] == "stopped"
    assert len(result.trials) < 4
    (run,) = [r for r in experiments.list_runs(registry_env, experiment) if r.name == "trial-0"]
    assert run.status == "KILLED" and run.properties["search.outcome"] == "stopped"


def test_the_best_is_exported_registered_through_the_gate_and_a_worse_one_refused(
    registry_env, songs, experiment
):
    from jukebox.pipelines.gate import register_through_gate
    from jukebox.registry.versions import mark_production

    model = f"search-{uuid.uuid4().hex[:6]}"
    space = SearchSpace.from_dict(TINY_SPACE)
    result = run_search(songs, space, 2, settings=registry_env, experiment=experiment, seed=1)
    best = train_best(registry_env, songs, result.best, training_id=f"{experiment}-best")
    assert best.verified
    # Trained again with the same seed on the same split: the trial's own model.
    again = min(best.record.report.fit.history["val_loss"])
    assert again == pytest.approx(result.best.value, rel=1e-4)
    run = experiments.get_run(registry_env, result.best.run_id)
    assert run.bundle_uri == str(best.record.path)

    first = register_through_gate(registry_env, best.record.path, model, tolerance=0.01)
    assert first.registered, first.gate.reason
    mark_production(model, first.version, registry_env)

    # A search whose only trial cannot learn (a learning rate far too small, one epoch).
    awful = SearchSpace.from_dict(
        {**TINY_SPACE, "learning_rate": [1e-6, 1e-6], "width": [1, 1], "depth": [1, 1],
         "epochs": 2, "patience": 1}
    )  # fmt: skip
    worse = run_search(songs, awful, 1, settings=registry_env, experiment=experiment + "-w")
    worse_best = train_best(registry_env, songs, worse.best, training_id=f"{experiment}-worse")
    assert worse_best.accuracy < best.accuracy - 0.01
    refused = register_through_gate(registry_env, worse_best.record.path, model, tolerance=0.01)
    assert not refused.registered
    assert refused.gate.reason.startswith("Not registered: test accuracy")


def test_best_of_ignores_pruned_and_failed_trials():
    from jukebox.tuning.search import TrialOutcome

    trials = [
        TrialOutcome(0, {}, "pruned", 0.1, None, 1, 1.0),
        TrialOutcome(1, {}, "finished", 0.5, 0.3, 3, 1.0),
        TrialOutcome(2, {}, "failed", None, None, 0, 1.0),
        TrialOutcome(3, {}, "finished", 0.4, 0.3, 3, 1.0),
    ]
    assert best_of(trials).number == 3
    assert best_of(trials[:1]) is None
