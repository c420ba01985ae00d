"""The search space: defaults, round trips, and one sentence per problem."""

from __future__ import annotations

import pytest

from jukebox.model.network import TrainingParams
from jukebox.tuning.space import SearchSpace, SpaceError, space_problems


def test_the_default_space_round_trips_and_is_searchable():
    space = SearchSpace()
    assert space_problems(space.to_dict()) == []
    assert SearchSpace.from_dict(space.to_dict()) == space
    assert SearchSpace.from_json(space.to_json()) == space
    assert space.learning_rate[0] < space.learning_rate[1]
    assert all(size & (size - 1) == 0 for size in space.batch_sizes)


def test_a_partial_space_takes_the_defaults_for_the_rest():
    space = SearchSpace.from_dict({"width": [16, 32], "epochs": 5})
    assert space.width == (16, 32) and space.epochs == 5
    assert space.depth == SearchSpace().depth


@pytest.mark.parametrize(
    ("data", "sentence"),
    [
        ({"width": [64, 8]}, "width goes from 64 down to 8: give the lower bound first."),
        ({"depth": [1, 20]}, "depth must be between 1 and 8"),
        ({"learning_rate": [0, 0.1]}, "its lower bound must be above 0"),
        ({"learning_rate": [1e-4, 2.0]}, "learning rate must be between"),
        ({"dropout": "lots"}, "dropout must be a range of two numbers [low, high]"),
        ({"width": [1.5, 8]}, "width must range over whole numbers"),
        ({"batch_sizes": [100]}, "100 is not one"),
        ({"batch_sizes": []}, "batch sizes must be a non-empty list"),
        ({"epochs": 0}, "epochs must be between 1 and 1000"),
        ({"patience": 5, "epochs": 5}, "must be below the epochs cap"),
        ({"heads": [1, 2]}, "heads cannot be searched here"),
        ({"rows": "bars"}, "rows must be one of"),
    ],
)
def test_each_problem_is_one_sentence(data, sentence):
    problems = space_problems(data)
    assert len(problems) == 1, problems
    assert sentence in problems[0]
    assert problems[0].endswith(".")
    with pytest.raises(SpaceError, match="."):
        SearchSpace.from_dict(data)


def test_every_problem_is_said_at_once():
    problems = space_problems({"width": [64, 8], "depth": [0, 2], "batch_sizes": [3]})
    assert len(problems) == 3


def test_bad_json_is_a_sentence():
    with pytest.raises(SpaceError, match="not valid JSON"):
        SearchSpace.from_json("{width: 8")


def test_suggested_params_stay_in_the_space_and_keep_the_fixed_settings():
    import optuna

    space = SearchSpace.from_dict({"width": [8, 16], "epochs": 7, "patience": 2})
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
    for _ in range(10):
        params = space.suggest(study.ask())
        assert isinstance(params, TrainingParams)
        assert 8 <= params.width <= 16 and params.batch_size in space.batch_sizes
        assert space.learning_rate[0] <= params.learning_rate <= space.learning_rate[1]
        assert (params.epochs, params.patience, params.early_stopping) == (7, 2, True)


def test_the_page_and_the_command_load_without_tensorflow():
    """The Search page draws fast: TensorFlow loads only in the search job."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "import jukebox.ui.search, jukebox.tuning.jobs, jukebox.tuning.search, jukebox.cli.tune\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
