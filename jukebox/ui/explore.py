"""What the Explore page shows, as plain functions: data in, summaries and plotly figures out.

The training table (rankings joined to properties) repeats each song's features on every chart
entry: a million rows for fourteen thousand songs. Explore never materialises it: it keeps the
chart entries as small integer codes (:class:`ExploreTables`) and reduces them with
``numpy.bincount`` to a song x country count matrix, from which every view (country means,
correlations over chart entries, distributions over songs) follows exactly in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from jukebox.data.countries import country_name
from jukebox.data.schema import FEATURE_SPECS, FEATURES, KEY, LABEL

POPULARITY = "popularity"
DATE = "snapshot_date"
VARIABLES: tuple[str, ...] = (*FEATURES, POPULARITY)
"""What the correlation heatmap relates to each other (and to country)."""

BAR_COLOUR = "#1DB954"

QUANTILE_COLUMNS = ("mean", "min", "5%", "median", "95%", "max")
"""The numbers beside each feature's histogram in the distributions table."""

# Features with a handful of values, shown as bars per value rather than as histograms.
DISCRETE = {"is_explicit", "mode", "key"}


@dataclass(frozen=True)
class ExploreTables:
    """The merged data in the shape Explore reads it.

    ``rows``: one chart entry per row, columns ``song`` (int32 index into ``songs``),
    ``country`` (categorical ISO alpha-2 code), ``snapshot_date`` and ``popularity``.
    ``songs``: one row per song, ``spotify_id``, ``name``, ``artists`` and the features.
    """

    rows: pd.DataFrame
    songs: pd.DataFrame

    @property
    def countries(self) -> list[str]:
        return [str(c) for c in self.rows[LABEL].cat.categories]

    @property
    def date_range(self) -> tuple[date, date] | None:
        if self.rows.empty:
            return None
        dates = self.rows[DATE]
        return dates.min().date(), dates.max().date()


def explore_tables(properties: pd.DataFrame, rankings: pd.DataFrame) -> ExploreTables:
    """The training table's rows, joined as ``jukebox.data.merge.merge_tables`` joins them
    (inner join on ``spotify_id``, the first properties row of a repeated id), but kept compact:
    four small columns per chart entry and one row of features per charting song."""
    catalogue = properties[properties[KEY].notna()].drop_duplicates(KEY, keep="first")
    ids = pd.Index(catalogue[KEY].astype("str"))
    position = ids.get_indexer(rankings[KEY].astype("str"))
    matched = position >= 0
    charting, song = np.unique(position[matched], return_inverse=True)
    songs = catalogue.iloc[charting][
        [c for c in (KEY, "name", "artists") if c in catalogue.columns] + list(FEATURES)
    ].reset_index(drop=True)
    songs[list(FEATURES)] = songs[list(FEATURES)].astype("float64")
    country = pd.Categorical(rankings[LABEL].astype("str"))[matched].remove_unused_categories()
    rows = pd.DataFrame(
        {
            "song": song.astype(np.int32),
            LABEL: country,
            DATE: pd.to_datetime(rankings[DATE]).to_numpy()[matched],
            POPULARITY: rankings[POPULARITY].to_numpy(dtype=np.float32)[matched],
        }
    )
    return ExploreTables(rows=rows, songs=songs)


def select_rows(
    rows: pd.DataFrame,
    start: date | None = None,
    end: date | None = None,
    countries: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Chart entries from ``start`` to ``end`` (both included) in ``countries`` (all if empty)."""
    mask = np.ones(len(rows), dtype=bool)
    if start is not None:
        mask &= (rows[DATE] >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        mask &= (rows[DATE] < pd.Timestamp(end) + pd.Timedelta(days=1)).to_numpy()
    if countries:
        mask &= rows[LABEL].isin(list(countries)).to_numpy()
    return rows if mask.all() else rows[mask]


@dataclass(frozen=True)
class Summary:
    """Everything Explore draws for one selection of chart entries; small enough to cache."""

    rows: int
    songs: int
    countries: int
    first_day: date | None
    last_day: date | None
    by_country: pd.DataFrame
    """Index: country code; columns: country, entries, songs, popularity, then each feature."""
    correlations: pd.DataFrame
    """Pearson over chart entries for VARIABLES; the ``country`` row/column is eta."""
    song_features: pd.DataFrame
    """Features of the songs that chart in the selection, one row per song."""
    popularity_counts: pd.Series
    """Chart entries per popularity score."""
    typical_entries: int = 1
    """The median number of chart entries of a song that charts in the selection."""


def summarize(rows: pd.DataFrame, songs: pd.DataFrame) -> Summary:
    """Reduce a selection of chart entries to the figures of the page."""
    categories = list(rows[LABEL].cat.categories)
    n_countries = len(categories)
    song = rows["song"].to_numpy(dtype=np.int64)
    country = rows[LABEL].cat.codes.to_numpy(dtype=np.int64)
    popularity = rows[POPULARITY].to_numpy(dtype=np.float64)
    n_songs = len(songs)

    # counts[s, c]: chart entries of song s in country c
    counts = np.bincount(song * n_countries + country, minlength=n_songs * n_countries).reshape(
        n_songs, n_countries
    )
    per_song = counts.sum(axis=1)
    per_country = counts.sum(axis=0)
    pop_sum_song = np.bincount(song, weights=popularity, minlength=n_songs)
    pop_sq_song = np.bincount(song, weights=popularity**2, minlength=n_songs)
    pop_sum_country = np.bincount(country, weights=popularity, minlength=n_countries)

    features = songs[list(FEATURES)].to_numpy(dtype=np.float64)
    charting = per_song > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        country_feature_means = (counts.T @ np.nan_to_num(features)) / per_country[:, None]
        country_popularity = pop_sum_country / per_country

    present = per_country > 0
    by_country = pd.DataFrame(country_feature_means[present], columns=list(FEATURES))
    by_country.insert(0, POPULARITY, country_popularity[present])
    by_country.insert(0, "songs", (counts[:, present] > 0).sum(axis=0))
    by_country.insert(0, "entries", per_country[present])
    codes = [str(c) for c, p in zip(categories, present, strict=True) if p]
    by_country.insert(0, "country", [country_name(c) for c in codes])
    by_country.index = pd.Index(codes, name="code")

    correlations = _correlations(
        features[charting],
        per_song[charting],
        pop_sum_song[charting],
        pop_sq_song[charting],
        by_country,
    )
    dates = rows[DATE]
    return Summary(
        rows=len(rows),
        songs=int(charting.sum()),
        countries=int(present.sum()),
        first_day=dates.min().date() if len(rows) else None,
        last_day=dates.max().date() if len(rows) else None,
        by_country=by_country,
        correlations=correlations,
        song_features=songs.loc[charting, list(FEATURES)].reset_index(drop=True),
        popularity_counts=rows[POPULARITY].round().astype(int).value_counts().sort_index(),
        typical_entries=max(1, int(np.median(per_song[charting]))) if charting.any() else 1,
    )


def default_map_colouring(summary: Summary) -> str:
    """What the map shows first: the feature (or popularity) whose country means differ most,
    as the correlation ratio eta with country measures it; chart entries are the same in every
    country (each chart has the same length), so a map of them says nothing."""
    eta = summary.correlations.loc[LABEL, list(VARIABLES)].astype("float64").dropna()
    if summary.countries < 2 or not len(eta) or eta.max() < 1e-6:
        return "songs"
    return str(eta.idxmax())


def _correlations(
    features: np.ndarray,
    entries: np.ndarray,
    pop_sum: np.ndarray,
    pop_sq: np.ndarray,
    by_country: pd.DataFrame,
) -> pd.DataFrame:
    """Pearson correlation over chart entries, and eta (correlation ratio) with country.

    Features are constant per song, so sums over entries are sums over songs weighted by their
    entry counts; popularity enters through its per-song sum and sum of squares. Everything is
    centred first so large-valued features (duration in ms) lose no precision.
    """
    labels = [*VARIABLES, LABEL]
    total = entries.sum()
    if total == 0:
        return pd.DataFrame(np.nan, index=labels, columns=labels)
    weights = entries.astype(np.float64)
    feature_mean = weights @ features / total
    centred = features - feature_mean
    pop_mean = pop_sum.sum() / total
    pop_centred_sum = pop_sum - weights * pop_mean

    k = len(FEATURES)
    cov = np.empty((k + 1, k + 1))
    cov[:k, :k] = (centred * weights[:, None]).T @ centred
    cov[:k, k] = cov[k, :k] = centred.T @ pop_centred_sum
    cov[k, k] = (pop_sq - 2 * pop_mean * pop_sum + weights * pop_mean**2).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.sqrt(np.diag(cov))
        pearson = cov / np.outer(scale, scale)
        # eta^2 = variance of the country means (weighted by entries) / total variance
        country_means = by_country[list(VARIABLES)].to_numpy(dtype=np.float64)
        country_entries = by_country["entries"].to_numpy(dtype=np.float64)
        means = np.append(feature_mean, pop_mean)
        between = country_entries @ (country_means - means) ** 2
        eta = np.sqrt(np.clip(between / np.diag(cov), 0, 1))

    matrix = np.ones((k + 2, k + 2))
    matrix[: k + 1, : k + 1] = pearson
    matrix[k + 1, : k + 1] = matrix[: k + 1, k + 1] = eta
    return pd.DataFrame(matrix, index=labels, columns=labels)


def top_songs(
    rows: pd.DataFrame, songs: pd.DataFrame, n: int = 20, min_entries: int = 1
) -> pd.DataFrame:
    """The ``n`` songs with the highest mean popularity over the given chart entries."""
    song = rows["song"].to_numpy(dtype=np.int64)
    n_songs, n_countries = len(songs), len(rows[LABEL].cat.categories)
    entries = np.bincount(song, minlength=n_songs)
    total = np.bincount(song, weights=rows[POPULARITY].to_numpy(np.float64), minlength=n_songs)
    pairs = np.bincount(
        song * n_countries + rows[LABEL].cat.codes.to_numpy(dtype=np.int64),
        minlength=n_songs * n_countries,
    ).reshape(n_songs, n_countries)
    countries = (pairs > 0).sum(axis=1)
    keep = np.flatnonzero(entries >= max(min_entries, 1))
    columns = [c for c in ("name", "artists", KEY) if c in songs.columns]
    table = songs.iloc[keep][columns].copy()
    table.insert(0, "mean popularity", total[keep] / entries[keep])
    table["chart entries"] = entries[keep]
    table["countries"] = countries[keep]
    table = table.sort_values(["mean popularity", "chart entries"], ascending=False).head(n)
    table.index = pd.RangeIndex(1, len(table) + 1, name="rank")
    return table[["name", "artists", "mean popularity", "chart entries", "countries", KEY]]


def feature_label(name: str) -> str:
    """``"Loudness (dB)"``: how a feature is named on axes and pickers."""
    if name == POPULARITY:
        return "Popularity"
    if name == LABEL:
        return "Country"
    spec = FEATURE_SPECS[name]
    return f"{name} ({spec.unit})" if spec.unit else name


def histogram(summary: Summary, name: str, bins: int = 30) -> tuple[np.ndarray, np.ndarray, float]:
    """Bar centres, counts and bar width of ``name`` in view: a feature over the songs (each
    once), popularity over chart entries (it is measured on each chart day)."""
    if name == POPULARITY:
        counts = summary.popularity_counts
        return counts.index.to_numpy(dtype=float), counts.to_numpy(), 0.9
    values = summary.song_features[name].dropna()
    if name in DISCRETE:
        counts = values.round().astype(int).value_counts().sort_index()
        return counts.index.to_numpy(dtype=float), counts.to_numpy(), 0.8
    if values.empty:
        return np.array([]), np.array([], dtype=int), 1.0
    counts, edges = np.histogram(values.to_numpy(), bins=bins)
    return (edges[:-1] + edges[1:]) / 2, counts, float(edges[1] - edges[0])


def feature_overview(summary: Summary) -> pd.DataFrame:
    """One row per feature (and popularity): its spread in view and its histogram as a list,
    for a table with a small chart per row (cheap to draw, every distribution at a glance)."""
    rows = []
    for name in (*FEATURES, POPULARITY):
        _, counts, _ = histogram(summary, name)
        if name == POPULARITY:
            values = summary.popularity_counts
            expanded = np.repeat(values.index.to_numpy(dtype=float), values.to_numpy())
        else:
            expanded = summary.song_features[name].dropna().to_numpy()
        quantiles = (
            np.quantile(expanded, [0, 0.05, 0.5, 0.95, 1]) if len(expanded) else [np.nan] * 5
        )
        rows.append(
            {
                "feature": feature_label(name),
                "distribution": counts.tolist(),
                "mean": float(expanded.mean()) if len(expanded) else np.nan,
                "min": quantiles[0],
                "5%": quantiles[1],
                "median": quantiles[2],
                "95%": quantiles[3],
                "max": quantiles[4],
                "about": "Spotify popularity (chart entries)"
                if name == POPULARITY
                else FEATURE_SPECS[name].description,
            }
        )
    return pd.DataFrame(rows).set_index("feature")


def format_value(name: str, value: float) -> str:
    """One value of a feature as a person reads it: a duration as ``3:12``, loudness in dB to a
    tenth, tempo to the BPM, a 0-1 share to three decimals; whole numbers never get a fraction."""
    if value is None or not np.isfinite(value):
        return "—"
    if name == "duration_ms":
        seconds = round(value / 1000)
        return f"{seconds // 60}:{seconds % 60:02d}"
    if float(value).is_integer() and name in (*DISCRETE, POPULARITY):
        return f"{value:.0f}"
    if name in ("loudness", POPULARITY, "key"):
        return f"{value:.1f}"
    if name == "tempo":
        return f"{value:.0f}"
    return f"{value:.3f}"


def readable_overview(summary: Summary) -> pd.DataFrame:
    """:func:`feature_overview` for the page: every number written for its feature, so no cell
    needs clipping (``3:12``, not ``1.92e+05`` ms)."""
    overview = feature_overview(summary)
    names = [*FEATURES, POPULARITY]
    for column in QUANTILE_COLUMNS:
        overview[column] = [
            format_value(n, v) for n, v in zip(names, overview[column], strict=True)
        ]
    return overview.rename(index={feature_label("duration_ms"): "duration (min:s)"})


def histogram_figure(summary: Summary, name: str) -> go.Figure:
    """One feature's histogram in view, with what it counts on the y axis."""
    x, y, width = histogram(summary, name)
    unit = "chart entries" if name == POPULARITY else "songs"
    figure = go.Figure(
        go.Bar(
            x=x,
            y=y,
            width=width,
            marker_color=BAR_COLOUR,
            marker_line_width=0,
            hovertemplate=f"{feature_label(name)} %{{x:.4~g}}: %{{y:,}} {unit}<extra></extra>",
        )
    )
    figure.update_layout(
        height=340,
        bargap=0.05,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis_title=feature_label(name),
        yaxis_title=unit,
    )
    return figure


def correlation_figure(matrix: pd.DataFrame) -> go.Figure:
    """Heatmap of the correlation matrix, values written in the cells."""
    labels = [feature_label(name) for name in matrix.columns]
    values = matrix.to_numpy()
    text = np.where(np.isnan(values), "", np.vectorize(lambda v: f"{v:.2f}")(values))
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=labels,
            y=labels,
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=10),
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            reversescale=True,
            colorbar=dict(title=dict(text="r / η")),
            hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        height=620,
        margin=dict(l=10, r=10, t=10, b=10),
        yaxis=dict(autorange="reversed"),
        xaxis=dict(tickangle=-40),
    )
    return figure


def country_table(summary: Summary) -> pd.DataFrame:
    """Mean features per country, the most charted countries first."""
    return summary.by_country.sort_values("entries", ascending=False)
