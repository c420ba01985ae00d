"""The search space: which training parameters a search varies, over which ranges, and what it
keeps fixed.

Varied: ``width`` and ``depth`` (the network's size; each hidden layer doubles), ``dropout``,
``learning_rate`` (sampled on a log scale: 1e-4 to 1e-3 matters as much as 1e-3 to 1e-2) and
``batch_size`` (a choice among powers of two). Fixed for every trial: the most ``epochs`` one
trial may run (early stopping on the validation loss usually ends it sooner), its ``patience``,
how training walks the data (``rows``) and the ``seed``, so two trials differ only in what is
searched.

Every bound is checked against :class:`jukebox.model.network.TrainingParams`' limits, so a trial
can never ask for parameters a training would refuse; problems come back as sentences.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from jukebox.errors import JukeboxError
from jukebox.model.network import ROWS, TrainingParams, validation_problems


class SpaceError(JukeboxError, ValueError):
    """A search space that cannot be searched; the message says what to change."""


_NUMERIC = ("width", "depth", "dropout", "learning_rate")
_INTEGER = ("width", "depth", "epochs", "patience", "seed")


@dataclass(frozen=True)
class SearchSpace:
    """Ranges as ``(low, high)`` pairs, inclusive; ``batch_sizes`` the choices of batch size.

    The defaults span narrow to wide networks (width 16–1024, depth 1–3: up to 1024-2048-4096),
    dropout 0–0.6 and learning rates from 3e-4 to 1e-2, with at most 200 epochs per trial,
    stopped after 10 without improvement: the ranges in which searches on the default data set
    found their best (wide, shallow, strongly dropped out, learning slowly).
    """

    width: tuple[int, int] = (16, 1024)
    depth: tuple[int, int] = (1, 3)
    dropout: tuple[float, float] = (0.0, 0.6)
    learning_rate: tuple[float, float] = (3e-4, 1e-2)
    batch_sizes: tuple[int, ...] = (64, 128, 256, 512)
    epochs: int = 200
    patience: int = 10
    rows: str = "songs"
    seed: int = 42

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpace:
        """A space from ``data`` (missing keys take the defaults); :class:`SpaceError` lists
        every problem at once, one sentence each."""
        problems = space_problems(data)
        if problems:
            raise SpaceError(" ".join(problems))
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name in _NUMERIC:
                kind = int if f.name in _INTEGER else float
                value = (kind(value[0]), kind(value[1]))
            elif f.name == "batch_sizes":
                value = tuple(sorted({int(v) for v in value}))
            elif f.name in _INTEGER:
                value = int(value)
            values[f.name] = value
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> SearchSpace:
        try:
            data = json.loads(text)
        except ValueError as error:
            raise SpaceError(f"The search space is not valid JSON ({error}).") from None
        if not isinstance(data, dict):
            raise SpaceError('The search space must be a JSON object, like {"width": [8, 64]}.')
        return cls.from_dict(data)

    def suggest(self, trial) -> TrainingParams:
        """The training parameters for an Optuna ``trial``, drawn from this space."""
        return self.params(
            {
                "width": trial.suggest_int("width", *self.width, log=True),
                "depth": trial.suggest_int("depth", *self.depth),
                "dropout": trial.suggest_float("dropout", *self.dropout),
                "learning_rate": trial.suggest_float(
                    "learning_rate", *self.learning_rate, log=True
                ),
                "batch_size": trial.suggest_categorical("batch_size", list(self.batch_sizes)),
            }
        )

    def distributions(self) -> dict[str, Any]:
        """The same space as Optuna distributions (for ``study.ask(fixed_distributions)``)."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        return {
            "width": IntDistribution(*self.width, log=True),
            "depth": IntDistribution(*self.depth),
            "dropout": FloatDistribution(*self.dropout),
            "learning_rate": FloatDistribution(*self.learning_rate, log=True),
            "batch_size": CategoricalDistribution(list(self.batch_sizes)),
        }

    def params(self, searched: dict[str, Any]) -> TrainingParams:
        """A trial's full training parameters: the ``searched`` values plus what is fixed."""
        return TrainingParams(
            width=int(searched["width"]),
            depth=int(searched["depth"]),
            dropout=float(searched["dropout"]),
            learning_rate=float(searched["learning_rate"]),
            batch_size=int(searched["batch_size"]),
            epochs=self.epochs,
            patience=self.patience,
            rows=self.rows,
            seed=self.seed,
            early_stopping=True,
        )


SEARCHED = ("width", "depth", "dropout", "learning_rate", "batch_size")
"""The parameter names a trial varies, in the order tables show them."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def space_problems(data: dict[str, Any]) -> list[str]:
    """One sentence per problem of a space given as a dict; empty when it can be searched."""
    if not isinstance(data, dict):
        return ["The search space must be a mapping of names to ranges."]
    problems = []
    known = {f.name for f in fields(SearchSpace)}
    unknown = sorted(set(data) - known)
    if unknown:
        problems.append(
            f"{', '.join(unknown)} cannot be searched here; the space knows "
            f"{', '.join(sorted(known))}."
        )
    for name in _NUMERIC:
        if name not in data:
            continue
        label = name.replace("_", " ")
        pair = data[name]
        if not isinstance(pair, list | tuple) or len(pair) != 2 or not all(map(_is_number, pair)):
            problems.append(f"{label} must be a range of two numbers [low, high], got {pair!r}.")
            continue
        low, high = pair
        if low > high:
            problems.append(
                f"{label} goes from {low:g} down to {high:g}: give the lower bound first."
            )
            continue
        if name in _INTEGER and (low != int(low) or high != int(high)):
            problems.append(f"{label} must range over whole numbers, got {low:g} to {high:g}.")
            continue
        if name == "learning_rate" and low <= 0:
            problems.append(
                f"learning rate is searched on a log scale, so its lower bound must be above 0; "
                f"got {low:g}."
            )
            continue
        for bound in (low, high):
            problems += [f"In the search range, {p}" for p in validation_problems({name: bound})]
    if "batch_sizes" in data:
        sizes = data["batch_sizes"]
        if not isinstance(sizes, list | tuple) or not sizes:
            problems.append(
                f"batch sizes must be a non-empty list such as [64, 128], got {sizes!r}."
            )
        else:
            for size in sizes:
                if not _is_number(size) or size != int(size) or size < 1:
                    problems.append(f"batch sizes must be whole numbers above 0, got {size!r}.")
                elif int(size) & (int(size) - 1):
                    problems.append(
                        f"batch sizes are powers of two (…, 64, 128, 256, …); {size:g} is not one."
                    )
                else:
                    problems += validation_problems({"batch_size": size})
    for name in ("epochs", "patience", "seed"):
        if name in data:
            problems += validation_problems({name: data[name]})
    if "rows" in data and data["rows"] not in ROWS:
        problems += validation_problems({"rows": data["rows"]})
    patience, epochs = data.get("patience", 3), data.get("epochs", 20)
    if not problems and _is_number(patience) and _is_number(epochs) and patience >= epochs:
        problems.append(
            f"patience ({patience}) must be below the epochs cap ({epochs}), or early stopping "
            "could never end a trial sooner."
        )
    return problems
