"""The parameters of a training pipeline run, checked before the run starts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from jukebox.errors import JukeboxError
from jukebox.model.network import ParamsError, TrainingParams

DATA_SOURCES = ("current", "version", "synthetic", "directory", "parquet", "s3")
"""Where the fetch step takes the songs from: a DVC data version (``{"ref": commit or md5}``),
or what :func:`jukebox.data.store.fetch` reads."""


SYNTHETIC_RANGES = {
    "songs": (50, 1_000_000),
    "days": (1, 1_000),
    "countries": (1, 72),
    "seed": (0, 2**31 - 1),
}
"""What the generator can make of a synthetic set: enough songs to fill a top-50 chart, at most
every chart country. ``days`` and ``countries`` of 0 mean the full period and every country.
Whether a model can learn from the set (two dates, two countries) is validation's to say."""


def fresh_seed() -> int:
    """A seed for a pipeline run that names none: the same seed on the same data trains the very
    same model, which the registry refuses to register twice (a demo's first pipeline run would
    otherwise copy the model the Train page made)."""
    return secrets.randbelow(2**31)


class RunParamsError(JukeboxError, ValueError):
    """The run's parameters cannot be used; the message lists every problem."""


def source_problems(source: str, options: dict[str, Any]) -> list[str]:
    """What is wrong with a data source's options, one sentence each (checked before a run
    starts, so a run never fails minutes later on an option it could have refused at once)."""
    if source != "synthetic":
        return []
    problems = []
    for name, (low, high) in SYNTHETIC_RANGES.items():
        value = options.get(name)
        if value is None or (value == 0 and name in ("days", "countries")):
            continue
        # JSON and KFP carry whole numbers as floats (300.0): those are whole too.
        number = isinstance(value, int | float) and not isinstance(value, bool)
        whole = number and float(value).is_integer()
        if not whole or not low <= value <= high:
            problems.append(
                f"The synthetic set's {name} must be a whole number from {low:,} to {high:,} "
                f"(now {value!r})."
            )
    return problems


@dataclass(frozen=True)
class RunParams:
    """What a user chooses for one run: the model's name and version, the data, the training
    parameters, and how much worse than production a new model may be and still be registered.

    ``version`` is a whole number or ``"next"`` (one more than the highest registered);
    ``tolerance`` is in accuracy points (0.01 = one percentage point); ``trigger`` says what
    started the run when something did (a drift alert), and is recorded on the version.
    """

    model_name: str = "jukebox"
    version: str = "next"
    source: str = "current"
    source_options: dict[str, Any] = field(default_factory=dict)
    training: TrainingParams = field(default_factory=TrainingParams)
    tolerance: float = 0.01
    trigger: str = ""

    def __post_init__(self) -> None:
        from jukebox.registry.bundles import check_model_name, check_version

        problems = []
        try:
            check_model_name(self.model_name)
        except JukeboxError as error:
            problems.append(str(error))
        if self.version != "next":
            try:
                check_version(self.version)
            except JukeboxError as error:
                problems.append(f'{error} (or "next")')
        if self.source not in DATA_SOURCES:
            problems.append(f"Unknown data source {self.source!r}: use {', '.join(DATA_SOURCES)}.")
        problems += source_problems(self.source, self.source_options)
        if not 0 <= self.tolerance <= 1:
            problems.append(
                f"The tolerance must be between 0 and 1 accuracy (now {self.tolerance})."
            )
        if problems:
            raise RunParamsError(" ".join(problems))

    def arguments(self, run_id: str = "") -> dict[str, Any]:
        """The pipeline's arguments, as KFP takes them."""
        return {
            "model_name": self.model_name,
            "version": str(self.version),
            "source": self.source,
            "source_options": dict(self.source_options),
            "hyperparameters": self.training.to_dict(),
            "tolerance": float(self.tolerance),
            "run_id": run_id,
            "trigger": self.trigger,
        }

    @classmethod
    def from_arguments(cls, arguments: dict[str, Any]) -> RunParams:
        try:
            training = TrainingParams.from_dict(arguments.get("hyperparameters") or {})
        except ParamsError as error:
            raise RunParamsError(str(error)) from error
        return cls(
            model_name=arguments.get("model_name", "jukebox"),
            version=str(arguments.get("version", "next")),
            source=arguments.get("source", "current"),
            source_options=dict(arguments.get("source_options") or {}),
            training=training,
            tolerance=float(arguments.get("tolerance", 0.01)),
            trigger=str(arguments.get("trigger") or ""),
        )


@dataclass(frozen=True)
class DataRunParams:
    """What a user chooses for one data pipeline run: where the songs come from, the message of
    the new version, and how the training it starts (on a cluster) is run."""

    source: str = "current"
    source_options: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    model_name: str = "jukebox"
    training: TrainingParams = field(default_factory=TrainingParams)
    tolerance: float = 0.01

    def __post_init__(self) -> None:
        # The checks of the training run this data run may start, made before it starts.
        RunParams(model_name=self.model_name, source="current", tolerance=self.tolerance)
        if self.source not in DATA_SOURCES or self.source == "version":
            sources = ", ".join(s for s in DATA_SOURCES if s != "version")
            raise RunParamsError(f"Unknown data source {self.source!r}: use {sources}.")
        problems = source_problems(self.source, self.source_options)
        if problems:
            raise RunParamsError(" ".join(problems))

    @classmethod
    def from_arguments(cls, arguments: dict[str, Any]) -> DataRunParams:
        try:
            training = TrainingParams.from_dict(arguments.get("hyperparameters") or {})
        except ParamsError as error:
            raise RunParamsError(str(error)) from error
        return cls(
            source=arguments.get("source", "current"),
            source_options=dict(arguments.get("source_options") or {}),
            message=arguments.get("message", ""),
            model_name=arguments.get("model_name", "jukebox"),
            training=training,
            tolerance=float(arguments.get("tolerance", 0.01)),
        )

    def arguments(self, run_id: str = "") -> dict[str, Any]:
        return {
            "source": self.source,
            "source_options": dict(self.source_options),
            "message": self.message,
            "model_name": self.model_name,
            "tolerance": float(self.tolerance),
            "hyperparameters": self.training.to_dict(),
        }


def check_version_free(params: RunParams, settings) -> None:
    """Refuse an explicit version the registry already holds, before a run trains for minutes
    to find it taken (``"next"`` is always free: it is chosen when the run registers)."""
    if params.version == "next":
        return
    from jukebox.registry.errors import VersionNotFoundError
    from jukebox.registry.versions import get_version

    try:
        get_version(params.model_name, params.version, settings)
    except VersionNotFoundError:
        return
    raise RunParamsError(
        f"{params.model_name!r} already has a version {params.version}: give another version, "
        'or "next" for one more than the highest.'
    )
