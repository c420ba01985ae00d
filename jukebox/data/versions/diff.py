"""What changed between two data versions: songs, chart rows, and each feature's distribution."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jukebox.config import Settings
from jukebox.data.schema import FEATURES, KEY, RANKINGS_COLUMNS
from jukebox.data.songdata import SongData
from jukebox.data.versions.records import DataVersion


@dataclass(frozen=True, eq=False)
class Contents:
    """One data set as a diff needs it: its songs, and its chart rows as fingerprints (the hash
    of each distinct row and how often it occurs). A few MB instead of a million rows, so a page
    can keep every version it has shown and diff any two of them at once."""

    properties: pd.DataFrame
    chart_rows: int
    row_hashes: np.ndarray = field(repr=False)
    row_counts: np.ndarray = field(repr=False)

    @property
    def n_songs(self) -> int:
        return len(self.properties)


def contents(data: SongData | Contents) -> Contents:
    """What :func:`diff_data` reads of ``data``."""
    if isinstance(data, Contents):
        return data
    rankings = data.rankings
    columns = [c for c in RANKINGS_COLUMNS if c in rankings.columns]
    hashes, counts = np.unique(_row_hashes(rankings[columns]), return_counts=True)
    return Contents(data.properties, len(rankings), hashes, counts)


def read_contents(settings: Settings, ref: str) -> Contents:
    """The contents of data version ``ref``: read once, they never change (a version is a
    commit), so a page may keep them by commit."""
    from jukebox.data.versions.operations import read_version

    return contents(read_version(settings, ref))


@dataclass(frozen=True, eq=False)
class DataDiff:
    """Version ``a`` against version ``b`` (``b`` is "after").

    - ``songs_added`` / ``songs_removed``: rows of ``song_properties`` whose ``spotify_id`` is
      only in ``b`` / only in ``a``;
    - ``songs_changed``: one row per changed value of a song in both (``spotify_id``, ``name``,
      ``column``, ``before``, ``after``);
    - ``rankings_added`` / ``rankings_removed``: chart rows only in ``b`` / only in ``a``
      (whole rows compared, duplicates counted);
    - ``features``: per feature, over the songs of each version, mean and standard deviation
      before and after and the two-sample Kolmogorov–Smirnov statistic (0: same distribution,
      1: disjoint) with its asymptotic p-value.

    ``before`` and ``after`` are the two data sets' :class:`Contents` (their songs, for pages
    that draw the distributions; their chart rows only as fingerprints).
    """

    a: DataVersion
    b: DataVersion
    songs_added: pd.DataFrame
    songs_removed: pd.DataFrame
    songs_changed: pd.DataFrame
    rankings_added: int
    rankings_removed: int
    features: pd.DataFrame
    before: Contents = field(repr=False)
    after: Contents = field(repr=False)

    @property
    def changed_song_ids(self) -> list[str]:
        return sorted(self.songs_changed[KEY].unique().tolist())

    @property
    def unchanged(self) -> bool:
        return not (
            len(self.songs_added)
            or len(self.songs_removed)
            or len(self.songs_changed)
            or self.rankings_added
            or self.rankings_removed
        )

    def summary(self) -> dict[str, object]:
        """The counts, in plain values."""
        return {
            "from": self.a.short,
            "to": self.b.short,
            "songs_before": self.before.n_songs,
            "songs_after": self.after.n_songs,
            "songs_added": len(self.songs_added),
            "songs_removed": len(self.songs_removed),
            "songs_changed": len(self.changed_song_ids),
            "values_changed": len(self.songs_changed),
            "rankings_before": self.before.chart_rows,
            "rankings_after": self.after.chart_rows,
            "rankings_added": self.rankings_added,
            "rankings_removed": self.rankings_removed,
            "largest_shift": self.features["ks"].idxmax() if len(self.features) else None,
        }

    def to_frame(self) -> pd.DataFrame:
        """The per-feature shift, one row per feature (the table pages and the CLI show)."""
        return self.features

    def describe(self) -> str:
        """The diff in a few lines of text, for the CLI."""
        s = self.summary()
        lines = [
            f"From {self.a.short} ({self.a.date:%Y-%m-%d %H:%M}) to {self.b.short} "
            f"({self.b.date:%Y-%m-%d %H:%M})",
            f"Songs:      {s['songs_before']:,} -> {s['songs_after']:,}: "
            f"{s['songs_added']:,} added, {s['songs_removed']:,} removed, "
            f"{s['songs_changed']:,} changed ({s['values_changed']:,} values)",
            f"Chart rows: {s['rankings_before']:,} -> {s['rankings_after']:,}: "
            f"{s['rankings_added']:,} added, {s['rankings_removed']:,} removed",
            "Feature shift (songs before vs after; KS 0 = same distribution):",
        ]
        table = self.features[["mean_a", "mean_b", "std_a", "std_b", "ks"]]
        lines += ["  " + line for line in table.to_string(float_format="{:.4g}".format).split("\n")]
        return "\n".join(lines)


def diff_versions(settings: Settings, a: str, b: str) -> DataDiff:
    """The diff from version ``a`` to version ``b`` (any refs :func:`resolve` takes)."""
    from jukebox.data.versions.operations import read_version, resolve

    version_a, version_b = resolve(settings, a), resolve(settings, b)
    before = read_version(settings, version_a.commit)
    after = read_version(settings, version_b.commit)
    return diff_data(version_a, version_b, before, after)


def diff_data(
    a: DataVersion, b: DataVersion, before: SongData | Contents, after: SongData | Contents
) -> DataDiff:
    """The diff of two data sets already read (what :func:`diff_versions` computes); given
    their :class:`Contents`, it takes well under a second on a million chart rows."""
    before, after = contents(before), contents(after)
    old = before.properties.set_index(KEY, drop=False)
    new = after.properties.set_index(KEY, drop=False)
    added = new.loc[~_is_in(new.index, old.index)].reset_index(drop=True)
    removed = old.loc[~_is_in(old.index, new.index)].reset_index(drop=True)
    added_rows = _surplus(after.row_hashes, after.row_counts, before.row_hashes, before.row_counts)
    removed_rows = _surplus(
        before.row_hashes, before.row_counts, after.row_hashes, after.row_counts
    )
    return DataDiff(
        a=a,
        b=b,
        songs_added=added,
        songs_removed=removed,
        songs_changed=_changed_values(old, new),
        rankings_added=added_rows,
        rankings_removed=removed_rows,
        features=_feature_shift(before.properties, after.properties),
        before=before,
        after=after,
    )


def _changed_values(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """One row per value that differs between the songs in both, column by column (vectorised:
    a shift touches thousands of songs)."""
    common = old.index[_is_in(old.index, new.index)]
    old, new = old.loc[common], new.loc[common]
    columns = [c for c in old.columns if c in new.columns and c != KEY]
    names = new["name"].to_numpy(dtype=object) if "name" in new.columns else None
    frames = []
    for column in columns:
        before, after = old[column], new[column]
        both_missing = before.isna().to_numpy() & after.isna().to_numpy()
        same = (before.to_numpy() == after.to_numpy()) | both_missing
        at = np.flatnonzero(~same)
        if len(at):
            frames.append(
                pd.DataFrame(
                    {
                        KEY: common[at].to_numpy(dtype=object),
                        "name": names[at] if names is not None else None,
                        "column": column,
                        "before": before.to_numpy(dtype=object)[at],
                        "after": after.to_numpy(dtype=object)[at],
                    }
                )
            )
    if not frames:
        frames = [pd.DataFrame(columns=[KEY, "name", "column", "before", "after"])]
    frame = pd.concat(frames, ignore_index=True)
    return frame.astype({"before": object, "after": object})


def _is_in(ids: pd.Index, others: pd.Index) -> np.ndarray:
    """Which of ``ids`` are among ``others``, through Arrow (pandas walks Arrow strings in
    Python)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.is_in(pa.array(ids.astype("str")), value_set=pa.array(others.astype("str")))
    return found.to_numpy(zero_copy_only=False)


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _surplus(keys: np.ndarray, counts: np.ndarray, other: np.ndarray, other_counts) -> int:
    """Copies of ``keys`` beyond those ``other`` holds (both sorted and unique)."""
    if not len(other):
        return int(counts.sum())
    at = np.clip(np.searchsorted(other, keys), 0, len(other) - 1)
    held = np.where(other[at] == keys, other_counts[at], 0)
    return int(np.maximum(counts - held, 0).sum())


def ks_statistic(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The two-sample Kolmogorov–Smirnov statistic (the largest gap between the two empirical
    distribution functions, as ``scipy.stats.ks_2samp`` gives it) and its asymptotic p-value.

    In numpy, because importing ``scipy.stats`` costs more than a whole small diff.
    """
    x, y = np.sort(x), np.sort(y)
    pooled = np.concatenate([x, y])
    gap = np.abs(
        np.searchsorted(x, pooled, side="right") / len(x)
        - np.searchsorted(y, pooled, side="right") / len(y)
    )
    statistic = float(gap.max())
    n = len(x) * len(y) / (len(x) + len(y))
    lam = (np.sqrt(n) + 0.12 + 0.11 / np.sqrt(n)) * statistic
    k = np.arange(1, 101)
    p = 2 * np.sum((-1.0) ** (k - 1) * np.exp(-2 * k**2 * lam**2)) if lam > 0 else 1.0
    return statistic, float(min(max(p, 0.0), 1.0))


def _feature_shift(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    rows = {}
    for feature in FEATURES:
        x = pd.to_numeric(before[feature], errors="coerce").dropna().to_numpy(dtype=float)
        y = pd.to_numeric(after[feature], errors="coerce").dropna().to_numpy(dtype=float)
        if len(x) and len(y):
            ks, p = ks_statistic(x, y)
        else:
            ks, p = np.nan, np.nan
        rows[feature] = {
            "mean_a": x.mean() if len(x) else np.nan,
            "mean_b": y.mean() if len(y) else np.nan,
            "mean_shift": (y.mean() if len(y) else np.nan) - (x.mean() if len(x) else np.nan),
            "std_a": x.std() if len(x) else np.nan,
            "std_b": y.std() if len(y) else np.nan,
            "ks": ks,
            "ks_pvalue": p,
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "feature"
    return frame
