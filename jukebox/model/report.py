"""The typed record of one trained model: how it was trained, how good it is, how it exported.

This is the contract between the steps (evaluate, export, verify), the pages, the CLI and the
registry. It is written as ``metrics.json`` into a training's directory and a bundle, flat at
the top (``accuracy``, ``log_loss``… then ``params``, ``training``, ``data``, ``verification``,
``onnx``) so that bundles registered before this record existed read back unchanged.
Nobody reads ``metrics.json`` by key but :meth:`ModelReport.from_dict`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

SUMMARY_METRICS = (
    "accuracy",
    "top5_accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "log_loss",
)
"""The headline figures, in the order pages and the CLI show them."""


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class CountryScore:
    country: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    """Test-split figures of a model (see :func:`jukebox.model.evaluation.evaluate`)."""

    accuracy: float
    top5_accuracy: float
    precision_macro: float
    recall_macro: float
    f1_macro: float
    log_loss: float
    n_test: int
    labels: tuple[str, ...]
    per_country: tuple[CountryScore, ...]
    confusion_matrix: tuple[tuple[int, ...], ...]
    bayes_accuracy: float | None = None
    accuracy_to_bayes: float | None = None

    def headline(self) -> dict[str, float | None]:
        """The summary metrics and the Bayes ceiling, by name: what a table or the CLI shows."""
        names = (*SUMMARY_METRICS, "bayes_accuracy", "accuracy_to_bayes")
        return {name: getattr(self, name) for name in names}

    def numbers(self) -> dict[str, float | int]:
        """Every scalar figure that is known (registry properties, KFP metrics)."""
        values = {**self.headline(), "n_test": self.n_test}
        return {k: v for k, v in values.items() if v is not None}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> Evaluation:
        return cls(
            **{name: float(data[name]) for name in SUMMARY_METRICS},
            n_test=int(data.get("n_test", 0)),
            labels=tuple(data.get("labels", ())),
            per_country=tuple(CountryScore(**row) for row in data.get("per_country", ())),
            confusion_matrix=tuple(tuple(row) for row in data.get("confusion_matrix", ())),
            bayes_accuracy=_float(data.get("bayes_accuracy")),
            accuracy_to_bayes=_float(data.get("accuracy_to_bayes")),
        )


@dataclass(frozen=True)
class Verification:
    """Whether the ONNX export computes what the Keras model does, by both runtimes."""

    passed: bool
    tolerance: float
    rows: int
    onnxruntime_max_abs_diff: float | None = None
    openvino_max_abs_diff: float | None = None
    problems: tuple[str, ...] = ()
    seconds: Mapping[str, float] = field(default_factory=dict)
    """Time of each part (``onnxruntime``, ``openvino``, ``keras_predict``, ``convert``…)."""

    def numbers(self) -> dict[str, float | int | bool]:
        values = {
            "passed": self.passed,
            "tolerance": self.tolerance,
            "rows": self.rows,
            "onnxruntime_max_abs_diff": self.onnxruntime_max_abs_diff,
            "openvino_max_abs_diff": self.openvino_max_abs_diff,
        }
        return {k: v for k, v in values.items() if v is not None}

    def to_dict(self) -> dict:
        flat = {k: v for k, v in asdict(self).items() if k != "seconds"}
        flat["problems"] = list(self.problems)
        flat |= {f"{part}_seconds": value for part, value in self.seconds.items()}
        return flat

    @classmethod
    def from_dict(cls, data: Mapping) -> Verification:
        return cls(
            passed=data.get("passed") is True,
            tolerance=float(data.get("tolerance", 0.0)),
            rows=int(data.get("rows", 0)),
            onnxruntime_max_abs_diff=_float(data.get("onnxruntime_max_abs_diff")),
            openvino_max_abs_diff=_float(data.get("openvino_max_abs_diff")),
            problems=tuple(str(p) for p in data.get("problems", ())),
            seconds={
                key.removesuffix("_seconds"): float(value)
                for key, value in data.items()
                if key.endswith("_seconds") and value is not None
            },
        )


@dataclass(frozen=True)
class OnnxFacts:
    """What the exported graph is: its hash, opset, producer, tensors and size."""

    sha256: str
    opset: int | None
    producer: str
    inputs: tuple[Mapping, ...]
    outputs: tuple[Mapping, ...]
    bytes: int

    @classmethod
    def from_dict(cls, data: Mapping) -> OnnxFacts:
        return cls(
            sha256=str(data.get("sha256", "")),
            opset=data.get("opset"),
            producer=str(data.get("producer", "")),
            inputs=tuple(data.get("inputs", ())),
            outputs=tuple(data.get("outputs", ())),
            bytes=int(data.get("bytes", 0)),
        )


@dataclass(frozen=True)
class FitFacts:
    """How fitting went: ``history`` holds one value per finished epoch for each metric."""

    epochs_run: int
    stopped: bool
    seconds: float
    history: Mapping[str, list[float]]
    machine: str = ""

    @classmethod
    def from_dict(cls, data: Mapping) -> FitFacts:
        return cls(
            epochs_run=int(data.get("epochs_run") or 0),
            stopped=bool(data.get("stopped")),
            seconds=float(data.get("seconds") or 0.0),
            history=dict(data.get("history") or {}),
            machine=str(data.get("machine", "")),
        )


@dataclass(frozen=True)
class SplitFacts:
    """Sizes of the three splits, the countries, the test period and what preparation noted."""

    train: int
    validation: int
    test: int
    countries: int
    test_from: str
    test_to: str
    seed: int
    notes: tuple[str, ...] = ()
    validation_by: str = ""
    train_songs: int = 0
    validation_songs: int = 0

    def describe(self) -> str:
        """The split in one paragraph, for the Train page and the model card."""
        test = (
            f"**Test:** the latest chart dates, {self.test_from} to {self.test_to} "
            f"({self.test:,} chart rows), a period the model never saw."
        )
        if self.validation_by == "song":
            validation = (
                f"**Validation:** {self.validation_songs:,} songs held out whole "
                f"({self.validation:,} chart rows before the test period), so it scores songs "
                f"the model never trained on. **Training:** the other {self.train_songs:,} songs "
                f"({self.train:,} chart rows)."
            )
        else:
            validation = (
                f"**Validation:** {self.validation:,} chart rows drawn at random before the test "
                "period; the same songs appear in training on other days, so validation cannot "
                f"show memorising. **Training:** {self.train:,} chart rows."
            )
        return f"{test} {validation}"

    @classmethod
    def from_dict(cls, data: Mapping) -> SplitFacts:
        return cls(
            train=int(data.get("train", 0)),
            validation=int(data.get("validation", 0)),
            test=int(data.get("test", 0)),
            countries=int(data.get("countries", 0)),
            test_from=str(data.get("test_from", "")),
            test_to=str(data.get("test_to", "")),
            seed=int(data.get("seed", 0)),
            notes=tuple(data.get("notes", ())),
            validation_by=str(data.get("validation_by", "")),
            train_songs=int(data.get("train_songs", 0)),
            validation_songs=int(data.get("validation_songs", 0)),
        )


@dataclass(frozen=True)
class DataFacts:
    """The data a model learnt from: where it came from, its size, its ceiling, its version."""

    source: str
    songs: int
    ranking_rows: int
    split: SplitFacts
    chance_accuracy: float
    bayes_accuracy: float | None = None
    seed: int | None = None
    version: str | None = None
    """An id of the data's content (a hash over its files, or a DVC md5), when known."""
    commit: str | None = None
    """The git commit of the data repository that holds that version, when it is versioned."""

    @classmethod
    def from_dict(cls, data: Mapping) -> DataFacts:
        return cls(
            source=str(data.get("source", "")),
            songs=int(data.get("songs", 0)),
            ranking_rows=int(data.get("ranking_rows", 0)),
            split=SplitFacts.from_dict(data.get("split") or {}),
            chance_accuracy=float(data.get("chance_accuracy") or 0.0),
            bayes_accuracy=_float(data.get("bayes_accuracy")),
            seed=data.get("seed"),
            version=data.get("version"),
            commit=data.get("commit"),
        )


@dataclass(frozen=True)
class ModelReport:
    """Everything known about one trained model; ``metrics.json`` is this, written as JSON."""

    training_id: str
    created: str
    params: Mapping[str, Any]
    fit: FitFacts
    data: DataFacts
    evaluation: Evaluation
    verification: Verification | None = None
    onnx: OnnxFacts | None = None
    exported: str | None = None

    @property
    def verification_passed(self) -> bool:
        """True only when export verification ran and passed: such a model may be registered."""
        return self.verification is not None and self.verification.passed

    def with_export(self, verification: Verification, onnx: OnnxFacts, when: str) -> ModelReport:
        return replace(self, verification=verification, onnx=onnx, exported=when)

    def to_dict(self) -> dict:
        return {
            **self.evaluation.to_dict(),
            "training_id": self.training_id,
            "created": self.created,
            "params": dict(self.params),
            "training": asdict(self.fit),
            "data": asdict(self.data),
            **({"verification": self.verification.to_dict()} if self.verification else {}),
            **({"onnx": asdict(self.onnx)} if self.onnx else {}),
            **({"exported": self.exported} if self.exported else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=float)

    @classmethod
    def from_dict(cls, data: Mapping) -> ModelReport:
        verification = data.get("verification")
        onnx = data.get("onnx")
        return cls(
            training_id=str(data.get("training_id", "")),
            created=str(data.get("created", "")),
            params=dict(data.get("params") or data.get("parameters") or {}),
            fit=FitFacts.from_dict(data.get("training") or {}),
            data=DataFacts.from_dict(data.get("data") or {}),
            evaluation=Evaluation.from_dict(data),
            verification=Verification.from_dict(verification) if verification else None,
            onnx=OnnxFacts.from_dict(onnx) if onnx else None,
            exported=data.get("exported"),
        )

    @classmethod
    def from_json(cls, text: str) -> ModelReport:
        return cls.from_dict(json.loads(text))
