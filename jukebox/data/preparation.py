"""Preparation: from the merged training table to train, validation and test arrays.

The test split is the **latest** 20% of chart dates, so the model is tested on the future it will
face rather than on days it has seen. Validation is 20% of the **songs** charting before the test
period (a fixed seed), held out whole: every chart row of a validation song is in validation, so
validation scores songs the model never saw and shows overfitting (a split by rows would hold the
same songs on other days, and reward memorising them). Each training and validation row keeps its
song's id (``songs_train``, ``songs_val``), so training can go song by song
(:func:`song_table`).
The min-max scaler is fitted on the training split only; its minima and maxima travel with the
model (``preprocessing.json`` and the scaling layer inside the network), and the arrays kept here
are the **raw** feature values, because the model scales them itself.

Scikit-learn fits the labels and the scaler: ``LabelEncoder``, ``MinMaxScaler``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jukebox.data.preprocessing import Preprocessing
from jukebox.data.schema import FEATURES, LABEL
from jukebox.errors import JukeboxError

DATE = "snapshot_date"
SONG = "spotify_id"
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
    songs_train: np.ndarray | None = None
    songs_val: np.ndarray | None = None
    validation_by: str = "song"

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

    def song_counts(self) -> dict[str, int]:
        """Distinct songs of the training and validation splits (0 when not known)."""

        def count(songs):
            return 0 if songs is None else int(len(np.unique(songs)))

        return {"train_songs": count(self.songs_train), "validation_songs": count(self.songs_val)}

    def summary(self) -> dict[str, object]:
        """Sizes, classes, how validation was held out and the test period (JSON-ready)."""
        return {
            **self.sizes(),
            **self.song_counts(),
            "validation_by": self.validation_by,
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
    # Imported here: scikit-learn and the SciPy it loads take about 2 s to import, and most who
    # read a Prepared (training, export, registering: each a new process in a pipeline) fit
    # nothing.
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelEncoder, MinMaxScaler

    missing = [c for c in (*FEATURES, LABEL, DATE) if c not in merged.columns]
    if missing:
        raise PreparationError(
            f"The training table lacks the column(s) {', '.join(missing)}. It must be the song "
            "rankings joined to the song properties (see jukebox.data.merge.merge_tables)."
        )
    notes: list[str] = []
    table = merged[[*FEATURES, LABEL, DATE, *([SONG] if SONG in merged.columns else [])]]
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
    song_rest = _song_ids(rest, x_rest)
    validation_by = "song"
    unique_songs = np.unique(song_rest)
    n_val_songs = round(VALIDATION_FRACTION * len(unique_songs))
    if 1 <= n_val_songs < len(unique_songs):
        held = np.random.default_rng(seed).choice(unique_songs, n_val_songs, replace=False)
        is_val = np.isin(song_rest, held)
        x_train, x_val = x_rest[~is_val], x_rest[is_val]
        y_train, y_val = y_rest[~is_val], y_rest[is_val]
        songs_train, songs_val = song_rest[~is_val], song_rest[is_val]
    else:
        # Too few songs to hold some out whole: rows at random, said in the notes.
        validation_by = "row"
        notes.append(
            f"Only {len(unique_songs)} song(s) before the test period: validation is a random "
            f"{VALIDATION_FRACTION:.0%} of their rows, so it holds songs the model trains on."
        )
        positions = np.arange(len(y_rest))
        train_at, val_at = train_test_split(
            positions, test_size=VALIDATION_FRACTION, random_state=seed
        )
        x_train, x_val, y_train, y_val = (
            x_rest[train_at], x_rest[val_at], y_rest[train_at], y_rest[val_at]
        )  # fmt: skip
        songs_train, songs_val = song_rest[train_at], song_rest[val_at]

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
        songs_train=songs_train,
        songs_val=songs_val,
        validation_by=validation_by,
    )


def _song_ids(table: pd.DataFrame, x: np.ndarray) -> np.ndarray:
    """A whole number per row naming its song: ``spotify_id`` when the table has it, otherwise
    the row's feature values (rows with the same features are the same song to the model)."""
    if SONG in table.columns:
        return pd.factorize(table[SONG].astype(str))[0].astype(np.int64)
    return np.unique(x, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)


def song_table(
    x: np.ndarray, y: np.ndarray, songs: np.ndarray | None, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of one split folded into one row per song: its features and its chart rows per
    country (``[songs, n_classes]`` counts).

    A song's chart rows all carry the same features, so the cross-entropy over rows equals the
    cross-entropy over songs with each song's country counts as weights: training on this table
    learns the same thing from about 60 times fewer rows. Without song ids (``None``), rows with
    identical features are taken as one song, which gives the same loss.
    """
    x = np.asarray(x)
    if songs is None:
        _, first, inverse = np.unique(x, axis=0, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(songs, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(
        inverse * n_classes + np.asarray(y, dtype=np.int64), minlength=len(first) * n_classes
    ).reshape(len(first), n_classes)
    return x[first].astype(np.float32), counts.astype(np.float32)
