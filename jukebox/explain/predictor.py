"""The model as explanations see it: a function from songs to one probability per country.

Explanations ask a model about many made-up songs at once (a song with some features taken from
other songs, a song with its tempo changed): hundreds of thousands of rows. :class:`Predictor`
sends them in one ONNX session run per chunk of rows, every country at once, so the cost is the
model's arithmetic and not a Python call per row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jukebox.data.schema import FEATURES
from jukebox.errors import JukeboxError
from jukebox.model.bundle import REFERENCE_FILE, read_bundle
from jukebox.model.runs import read_reference
from jukebox.serving.runtime import ServedModel, load_bundle_model

CHUNK_ROWS = 65_536
"""Rows per session run: enough to amortise the call, few enough that the hidden layers of a
wide model stay within a few hundred MB."""


class ExplainError(JukeboxError, ValueError):
    """A request for an explanation that cannot be answered; the message says why and what to do."""


@dataclass(frozen=True)
class Predictor:
    """A callable model: ``predict(frame)`` takes a DataFrame with the columns :data:`FEATURES`
    (raw values) and returns a DataFrame of probabilities, one column per country (``labels``)
    and the same index. :meth:`probabilities` is the same on a bare ``[N, 13]`` array, the form
    the explainers use."""

    run: Callable[[np.ndarray], np.ndarray]
    """``[N, len(features)]`` float32 in, ``[N, len(labels)]`` probabilities out."""
    labels: tuple[str, ...]
    features: tuple[str, ...] = FEATURES

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """Probabilities of raw feature rows ``[N, len(features)]``, ``[N, len(labels)]``."""
        rows = np.asarray(rows, dtype=np.float32)
        if rows.ndim == 1:
            rows = rows[None, :]
        if len(rows) <= CHUNK_ROWS:
            return self.run(rows)
        return np.concatenate(
            [self.run(rows[i : i + CHUNK_ROWS]) for i in range(0, len(rows), CHUNK_ROWS)]
        )

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise ExplainError(f"the songs lack the feature columns {missing}")
        out = self.probabilities(frame.loc[:, list(self.features)].to_numpy(np.float32))
        return pd.DataFrame(out, index=frame.index, columns=list(self.labels))

    def country_index(self, country: str) -> int:
        """The output column of ``country`` (an ISO code, any case); ExplainError if the model
        does not predict it."""
        code = country.strip().upper()
        if code not in self.labels:
            raise ExplainError(
                f"this model does not predict {country!r}: it knows {len(self.labels)} countries "
                f"({', '.join(self.labels[:12])}{', …' if len(self.labels) > 12 else ''})"
            )
        return self.labels.index(code)


def predictor_from_model(model: ServedModel) -> Predictor:
    """A predictor over a loaded model (the one a local server serves, for instance)."""
    features = model.features or FEATURES
    output = model.outputs[0].name if model.outputs else "output"

    def run(rows: np.ndarray) -> np.ndarray:
        feeds = {f: np.ascontiguousarray(rows[:, i : i + 1]) for i, f in enumerate(features)}
        return model.run(feeds, [output])[0]

    return Predictor(run=run, labels=tuple(model.labels), features=tuple(features))


def predictor_from_bundle(bundle_dir: str | Path, *, threads: int = 2) -> Predictor:
    """A predictor over a bundle directory's ``model.onnx``.

    Two intra-op threads by default, unlike the server's one: an explanation is one burst of
    hundreds of thousands of rows that a person waits for, and on the 2-core machine the second
    thread takes one song's attributions from 1.0 s to 0.7 s (``benchmarks/bench_explain.py``).
    """
    return predictor_from_model(
        load_bundle_model(bundle_dir, name="explain", version="1", threads=threads)
    )


def bundle_reference(bundle_dir: str | Path) -> pd.DataFrame:
    """The bundle's sample of raw training songs (``reference.parquet``): the background the
    attributions compare against and the source of realistic ranges. ExplainError for a bundle
    trained before bundles carried one."""
    bundle = read_bundle(bundle_dir)
    reference = read_reference(bundle.path)
    if reference is None or reference.empty:
        raise ExplainError(
            f"the model in {bundle.path} has no {REFERENCE_FILE} (it was trained before models "
            "kept a sample of their training songs): train it again to explain its predictions"
        )
    missing = [f for f in FEATURES if f not in reference.columns]
    if missing:
        raise ExplainError(f"{REFERENCE_FILE} in {bundle.path} lacks the features {missing}")
    return reference.loc[:, list(FEATURES)].astype(float)


def song_row(song: Mapping[str, float], features: Sequence[str] = FEATURES) -> np.ndarray:
    """One song (raw values by feature) as a float64 row in ``features`` order."""
    missing = [f for f in features if f not in song]
    if missing:
        raise ExplainError(f"the song lacks the features {missing}")
    return np.array([float(song[f]) for f in features], dtype=np.float64)


def sample_rows(frame: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """At most ``n`` rows of ``frame``, drawn without replacement (the same ones for the same
    frame and seed), in their original order."""
    if len(frame) <= n:
        return frame
    rng = np.random.default_rng(seed)
    return frame.iloc[np.sort(rng.choice(len(frame), n, replace=False))]
