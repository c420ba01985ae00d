"""The parameters of a training pipeline run, checked before the run starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jukebox.errors import JukeboxError
from jukebox.model.network import ParamsError, TrainingParams

DATA_SOURCES = ("current", "version", "synthetic", "directory", "parquet", "s3")
"""Where the fetch step takes the songs from: a DVC data version (``{"ref": commit or md5}``),
or what :func:`jukebox.data.store.fetch` reads."""


class RunParamsError(JukeboxError, ValueError):
    """The run's parameters cannot be used; the message lists every problem."""


@dataclass(frozen=True)
class RunParams:
    """What a user chooses for one run: the model's name and version, the data, the training
    parameters, and how much worse than production a new model may be and still be registered.

    ``version`` is a whole number or ``"next"`` (one more than the highest registered);
    ``tolerance`` is in accuracy points (0.01 = one percentage point).
    """

    model_name: str = "jukebox"
    version: str = "next"
    source: str = "current"
    source_options: dict[str, Any] = field(default_factory=dict)
    training: TrainingParams = field(default_factory=TrainingParams)
    tolerance: float = 0.01

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
