"""What each component of the search pipeline does (a component's body is one call here):
suggest the trials' parameters, run one trial, pick the best and register it through the gate.

Like :mod:`jukebox.pipelines.tasks`, artifacts are directories of JSON, Parquet, Keras and ONNX
read and written by ``data.store`` and ``model.runs``; this module needs no kfp.
"""

from __future__ import annotations

import json
from pathlib import Path

from jukebox.pipelines.records import DataFacts
from jukebox.pipelines.tasks import recorded, task_settings


def suggest(space: dict, trials: int, seed: int) -> tuple[list[dict], dict]:
    """``trials`` parameter sets drawn from ``space`` by a TPE sampler seeded with ``seed``,
    and the settings every trial shares (``seed``, ``rows``…: how the data is split once).

    All are asked before any is told its value, so on a pipeline the trials of one batch
    cannot learn from each other: with nothing told, TPE draws them as its seeded random
    start-up would. What they gain is running side by side; a search that learns from each
    trial is ``python -m jukebox tune`` (or the Search page), one trial after another.
    """
    from jukebox.tuning.search import new_study
    from jukebox.tuning.space import SEARCHED, SearchSpace

    with recorded("suggest") as outputs:
        parsed = SearchSpace.from_dict(space)
        study = new_study(int(seed))  # KFP carries whole numbers as floats (0.0)
        distributions = parsed.distributions()
        suggestions = []
        for _ in range(int(trials)):
            trial = study.ask(distributions)
            params = parsed.params(trial.params).to_dict()
            suggestions.append({"number": trial.number, "params": params})
            print(f"trial {trial.number}: {json.dumps(params)}")
        outputs["trials"] = len(suggestions)
        fixed = {k: v for k, v in parsed.params(suggestions[0]["params"]).to_dict().items()
                 if k not in SEARCHED} if suggestions else {"seed": parsed.seed}  # fmt: skip
    return suggestions, fixed


def trial(
    prepared_dir: str, suggestion: dict, experiment: str, data_facts: str, registry_url: str
) -> str:
    """Train one suggested parameter set on the prepared split (validation: songs held out
    whole), logged as the run ``trial-<n>`` of ``experiment``; returns its outcome as JSON.

    No pruning here: a pruner compares a trial with the others at the same epoch, and trials
    running side by side in separate pods see none of each other.
    """
    from jukebox.data.store import read_prepared
    from jukebox.model.network import TrainingParams
    from jukebox.tuning.search import run_trial

    number = int(suggestion["number"])
    with recorded(f"trial-{number}") as outputs:
        settings = task_settings(registry_url=registry_url)
        outcome = run_trial(
            settings,
            read_prepared(Path(prepared_dir)),
            TrainingParams.from_dict(suggestion["params"]),
            number=number,
            experiment=experiment,
            data_version=DataFacts.from_json(data_facts).md5 if data_facts else None,
        )
        print(f"trial {number}: {outcome.state}, val_loss {outcome.value}")
        outputs["value"] = outcome.value
    return json.dumps(outcome.to_dict())


def pick_best(
    data_dir: str,
    prepared_dir: str,
    outcomes: list,
    model_name: str,
    tolerance: float,
    data_facts: str,
    registry_url: str,
    kfp_run_id: str,
) -> str:
    """Train the best trial again, evaluate it on the test split, export and verify it, and
    register it through the production gate; returns the gate's sentence."""
    from jukebox.data.store import read_info, read_prepared
    from jukebox.errors import JukeboxError
    from jukebox.pipelines.gate import register_through_gate
    from jukebox.tuning.search import TrialOutcome, best_of, train_best

    with recorded("pick-best") as outputs:
        settings = task_settings(registry_url=registry_url)
        trials = [TrialOutcome.from_dict(json.loads(o) if isinstance(o, str) else o)
                  for o in outcomes]  # fmt: skip
        best = best_of(trials)
        if best is None:
            raise JukeboxError(f"None of the {len(trials)} trial(s) finished: nothing to register.")
        print(f"best: trial {best.number}, val_loss {best.value:.4f}, {best.searched}")
        facts = DataFacts.from_json(data_facts) if data_facts else DataFacts()
        kept = train_best(
            settings,
            read_prepared(Path(prepared_dir)),
            best,
            training_id=f"{kfp_run_id or 'search'}-best",
            summary=read_info(Path(data_dir)),
            data_version=facts.md5,
        )
        if not kept.verified:
            raise JukeboxError(
                "The best trial's exported model failed verification: not registered."
            )
        registration = register_through_gate(
            settings,
            kept.record.path,
            model_name,
            tolerance=tolerance,
            pipeline_run_id=kfp_run_id,
            data_version=facts,
        )
        print(registration.gate.reason)
        outputs.update(best=best.number, accuracy=kept.accuracy, version=registration.version)
    return registration.gate.reason
