"""Preparation: from the merged training table to train, validation and test arrays.

The test split is the **latest** 20% of chart dates, so the model is tested on the future it will
face rather than on days it has seen. Validation is a stratified 20% of the rest (a fixed seed).
The min-max scaler is fitted on the training split only; its minima and maxima travel with the
model (``preprocessing.json`` and the scaling layer inside the network), and the arrays kept here
are the **raw** feature values, because the model scales them itself.

Everything is scikit-learn: ``LabelEncoder``, ``train_test_split``, ``MinMaxScaler``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder, MinMaxScaler

from jukebox.data.preprocessing import Preprocessing
from jukebox.data.schema import FEATURES, LABEL
from jukebox.errors import JukeboxError

DATE = "snapshot_date"
TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.2
MIN_ROWS = 20


class PreparationError(JukeboxError, ValueError):
    """The data cannot be prepared for training; the message says why and what to do."""


@dataclass(frozen=True, eq=False)
class Prepared:
    """Raw feature arrays (float32, columns in ``features`` order) and encoded labels per split.

    ``labels[i]`` is the country of class ``i``: the model's output order. ``minima`` and
    ``maxima`` are the training split's, the only split the scaler has seen. ``notes`` say in
    words what preparation had to set aside or change, for the page and the CLI to show.
    """

    features: tuple[str, ...]
    labels: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    minima: tuple[float, ...]
    maxima: tuple[float, ...]
    test_from: pd.Timestamp
    test_to: pd.Timestamp
    seed: int
    notes: tuple[str, ...] = field(default=())

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    def preprocessing(self) -> Preprocessing:
        """What ``preprocessing.json`` records: feature order, scaler, labels in output order."""
        return Preprocessing(self.features, self.minima, self.maxima, self.labels)

    def inputs(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """One ``[N, 1]`` float32 array per feature, named by the feature: the model's inputs."""
        x = np.asarray(x, dtype=np.float32)
        return {name: x[:, i : i + 1] for i, name in enumerate(self.features)}

    def decode(self, y: np.ndarray) -> np.ndarray:
        """Country codes of encoded labels."""
        return np.asarray(self.labels, dtype=object)[np.asarray(y, dtype=int)]

    def encode(self, countries) -> np.ndarray:
        """Encoded labels of country codes (``KeyError`` for a country the model does not know)."""
        index = {label: i for i, label in enumerate(self.labels)}
        return np.asarray([index[c] for c in countries], dtype=np.int64)

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "validation": len(self.y_val), "test": len(self.y_test)}

    def summary(self) -> dict[str, object]:
        """Sizes, classes and the test period in plain values (JSON-ready)."""
        return {
            **self.sizes(),
            "countries": self.n_classes,
            "test_from": self.test_from.date().isoformat(),
            "test_to": self.test_to.date().isoformat(),
            "seed": self.seed,
            "notes": list(self.notes),
        }


def prepare(merged: pd.DataFrame, *, seed: int = 42) -> Prepared:
    """Split the merged table (rankings joined to properties) and fit the scaler on train only.

    Rows missing a feature, the country or the date are set aside and counted in ``notes``.
    Raises :class:`PreparationError` with what to change when the data has a single country, a
    single chart date, or too few rows to split.
    """
    missing = [c for c in (*FEATURES, LABEL, DATE) if c not in merged.columns]
    if missing:
        raise PreparationError(
            f"The training table lacks the column(s) {', '.join(missing)}. It must be the song "
            "rankings joined to the song properties (see jukebox.data.merge.merge_tables)."
        )
    notes: list[str] = []
    table = merged[[*FEATURES, LABEL, DATE]]
    # Plain strings, so counts never list categories (countries) that have no rows here.
    table = table.assign(**{LABEL: table[LABEL].astype(object).where(table[LABEL].notna())})
    complete = table.notna().all(axis=1)
    if not complete.all():
        notes.append(
            f"{int((~complete).sum()):,} row(s) with a missing feature, country or date were "
            "left out."
        )
        table = table[complete]
    if len(table) < MIN_ROWS:
        raise PreparationError(
            f"Only {len(table)} usable ranking row(s): at least {MIN_ROWS} are needed to split "
            "into training, validation and test. Load a larger data set."
        )
    countries = sorted(table[LABEL].unique())
    if len(countries) < 2:
        raise PreparationError(
            f"The data has a single country ({countries[0]}): a model that predicts the country "
            "needs at least two. Load data with rankings from several countries."
        )
    dates = pd.to_datetime(table[DATE])
    unique_dates = np.sort(dates.unique())
    if len(unique_dates) < 2:
        raise PreparationError(
            "The rankings cover a single chart date, so no later period is left to test on. "
            "Load rankings from at least two dates (the latest 20% of dates are the test set)."
        )
    n_test_dates = max(1, round(TEST_FRACTION * len(unique_dates)))
    test_from = pd.Timestamp(unique_dates[-n_test_dates])
    is_test = (dates >= test_from).to_numpy()
    rest, test = table[~is_test], table[is_test]

    # A country needs two rows before the test period to appear in both training and validation.
    counts = rest[LABEL].value_counts()
    rare = sorted(counts[counts < 2].index.astype(str))
    if rare:
        notes.append(
            f"{len(rare)} country(ies) with fewer than 2 rows before the test period were left "
            f"out: {', '.join(rare[:10])}{'…' if len(rare) > 10 else ''}."
        )
        rest = rest[~rest[LABEL].isin(rare)]
    if rest[LABEL].nunique() < 2:
        raise PreparationError(
            "Before the test period the data has fewer than two countries with at least two "
            "rows each, so there is nothing to learn from. Load a larger data set."
        )

    encoder = LabelEncoder().fit(rest[LABEL].astype(str))
    labels = tuple(str(c) for c in encoder.classes_)
    unseen = ~test[LABEL].isin(labels)
    if unseen.any():
        notes.append(
            f"{int(unseen.sum()):,} test row(s) of countries absent before the test period were "
            "left out (the model cannot know them)."
        )
        test = test[~unseen]
    if len(test) == 0:
        raise PreparationError(
            "No test rows are left: every country of the latest dates is new. Load rankings that "
            "cover the same countries over several dates."
        )

    x_rest = rest[list(FEATURES)].to_numpy(dtype=np.float64)
    y_rest = encoder.transform(rest[LABEL].astype(str))
    try:
        x_train, x_val, y_train, y_val = train_test_split(
            x_rest, y_rest, test_size=VALIDATION_FRACTION, random_state=seed, stratify=y_rest
        )
    except ValueError:
        # Stratification needs at least one validation row per country; tiny sets lack that.
        notes.append("Too few rows per country to stratify the validation split: drawn at random.")
        x_train, x_val, y_train, y_val = train_test_split(
            x_rest, y_rest, test_size=VALIDATION_FRACTION, random_state=seed
        )

    scaler = MinMaxScaler().fit(x_train)
    return Prepared(
        features=tuple(FEATURES),
        labels=labels,
        x_train=x_train.astype(np.float32),
        y_train=y_train.astype(np.int64),
        x_val=x_val.astype(np.float32),
        y_val=y_val.astype(np.int64),
        x_test=test[list(FEATURES)].to_numpy(dtype=np.float32),
        y_test=encoder.transform(test[LABEL].astype(str)).astype(np.int64),
        minima=tuple(float(v) for v in scaler.data_min_),
        maxima=tuple(float(v) for v in scaler.data_max_),
        test_from=test_from,
        test_to=pd.Timestamp(unique_dates[-1]),
        seed=seed,
        notes=tuple(notes),
    )
