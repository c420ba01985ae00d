"""The synthetic song data set: the offline default, deterministic for a seed.

Songs get audio features whose marginals and correlations follow the real workshop songs (a
Gaussian copula over quantile tables calibrated once on ``../shared/data``; no real song is in
here). Each of the 72 chart countries has a hidden *taste*: a preference over the song features,
shared in part with its region. Daily top-50 charts are then filled country by country: a chart
slot holds a song for a run of days, and each run's song is drawn with weight
``appeal(song) * exp(min(taste(country) . f(features), cap))`` among the songs out at that time;
a song drawn twice for one chart day is drawn again.

Because the draw is explicit, the generator knows ``P(country | features)`` for every song: the
softmax of the capped taste plus one offset per country, with a temperature and the offsets
fitted to the charts it made (the no-repeat rule flattens tastes a little). From it comes the best
accuracy any classifier can reach on the ranking rows (``bayes_accuracy``, computed by
:func:`jukebox.data.synthetic.ceiling.bayes_ceiling`); ``taste_model`` returns that classifier.

Everything is vectorised numpy; the only Python loops run over countries, never over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.optimize import minimize
from scipy.special import log_softmax, ndtr, ndtri

from jukebox.data.schema import CHART_COUNTRIES, FEATURES, KEY, LABEL, PROPERTIES_COLUMNS
from jukebox.data.songdata import SongData, song_data
from jukebox.data.synthetic.ceiling import bayes_ceiling

DEFAULT_SONGS = 14_000
FIRST_DAY = np.datetime64("2023-10-18")
N_DAYS = 314  # 2023-10-18 .. 2024-08-26, the span of the workshop's charts
CHART_SIZE = 50
ACTIVE_DAYS = 400  # how long after its release a song can enter a chart
MEAN_RUN_DAYS = 12  # mean time a song holds a chart slot
TASTE_STRENGTH = 2.4  # spread of a country's log-weights over songs
_APPEAL_SIGMA = 0.5
TASTE_CAP = 2.2  # log-weights saturate this many standard deviations above the mean

# Quantiles of the real features at these probabilities (quirks excluded), with plausible
# extremes at 0 and 1. Calibrated once on ../shared/data/song_properties.parquet.
_P = np.array(
    [0, 0.001, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6,
     0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99, 0.999, 1]
)  # fmt: skip
_QUANTILES: dict[str, list[float]] = {
    "duration_ms": [30000, 41600, 82250, 105000, 118600, 132600, 142000, 148800, 155200, 160500,
                    166000, 171300, 176300, 181400, 187000, 192800, 199200, 207000, 215300,
                    225400, 237300, 255400, 285200, 322800, 400700, 660000, 900000],
    "danceability": [0.06, 0.179, 0.293, 0.36, 0.422, 0.486, 0.5285, 0.561, 0.587, 0.614, 0.636,
                     0.657, 0.676, 0.695, 0.713, 0.729, 0.745, 0.762, 0.779, 0.797, 0.818, 0.843,
                     0.879, 0.903, 0.928, 0.968, 0.985],
    "energy": [0.005, 0.0369, 0.159, 0.247, 0.33, 0.4167, 0.4675, 0.507, 0.54, 0.568, 0.595,
               0.622, 0.645, 0.668, 0.686, 0.707, 0.728, 0.75, 0.775, 0.802, 0.829, 0.862, 0.902,
               0.932, 0.955, 0.9878, 0.999],
    "loudness": [-37.3, -29.74, -19.18, -14.94, -12.6, -10.67, -9.618, -8.95, -8.418, -7.998,
                 -7.606, -7.245, -6.92, -6.613, -6.328, -6.035, -5.739, -5.452, -5.149, -4.808,
                 -4.42, -3.946, -3.282, -2.727, -1.92, -0.0033, 3.2],
    "speechiness": [0.022, 0.0242, 0.0264, 0.0278, 0.0297, 0.0326, 0.03565, 0.0389, 0.0425,
                    0.0466, 0.0511, 0.0561, 0.0619, 0.0698, 0.0807, 0.0935, 0.112, 0.136, 0.164,
                    0.2, 0.2444, 0.29, 0.355, 0.415, 0.48, 0.694, 0.95],
    "acousticness": [1e-6, 5.2e-05, 0.00093, 0.00234, 0.00629, 0.0179, 0.0315, 0.0474, 0.066,
                     0.0876, 0.11, 0.136, 0.166, 0.197, 0.235, 0.276, 0.322, 0.374, 0.439, 0.5086,
                     0.587, 0.682, 0.795, 0.875, 0.939, 0.988, 0.996],
    "instrumentalness": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1.2e-06, 2.83e-06, 7.31e-06,
                         1.92e-05, 5.34e-05, 0.000155, 0.000519, 0.0019, 0.0107, 0.125, 0.584,
                         0.8736, 0.959, 0.99],
    "liveness": [0.014, 0.0237, 0.0412, 0.052, 0.063, 0.0767, 0.0853, 0.0922, 0.098, 0.104, 0.108,
                 0.112, 0.118, 0.126, 0.136, 0.149, 0.167, 0.19, 0.223, 0.265, 0.31, 0.353, 0.452,
                 0.593, 0.731, 0.953, 0.99],
    "valence": [0.02, 0.0365, 0.0767, 0.123, 0.165, 0.225, 0.276, 0.324, 0.361, 0.396, 0.433,
                0.469, 0.505, 0.536, 0.569, 0.603, 0.64, 0.678, 0.715, 0.758, 0.804, 0.8543,
                0.917, 0.951, 0.965, 0.978, 0.99],
    "tempo": [40.0, 60.72, 73.03, 76.51, 80.87, 88.87, 93.03, 96.1, 99.98, 103.6, 109.0, 113.0,
              118.0, 121.8, 125.0, 128.0, 131.0, 136.0, 140.0, 144.9, 150.1, 160.0, 172.1, 180.0,
              194.0, 207.8, 230.0],
}  # fmt: skip
_INSTRUMENTAL_ZERO = 0.491  # share of songs with instrumentalness exactly 0
_CONTINUOUS = tuple(_QUANTILES)
_LATENT = ("is_explicit", "mode", *_CONTINUOUS)

# Rank correlations of the real features (normal scores), in the order of _LATENT.
_CORRELATION = np.array(
    [
        [1.00, -0.05, -0.19, 0.20, 0.03, 0.03, 0.39, -0.12, -0.09, 0.03, -0.07, -0.01],
        [-0.05, 1.00, 0.05, -0.09, -0.06, -0.02, -0.13, 0.02, -0.04, 0.01, -0.04, 0.00],
        [-0.19, 0.05, 1.00, -0.21, 0.00, -0.00, -0.25, 0.02, -0.04, -0.05, -0.09, -0.02],
        [0.20, -0.09, -0.21, 1.00, 0.13, 0.13, 0.27, -0.19, 0.06, -0.17, 0.34, -0.07],
        [0.03, -0.06, 0.00, 0.13, 1.00, 0.71, 0.12, -0.47, -0.10, 0.12, 0.34, 0.13],
        [0.03, -0.02, -0.00, 0.13, 0.71, 1.00, 0.02, -0.31, -0.27, 0.08, 0.28, 0.06],
        [0.39, -0.13, -0.25, 0.27, 0.12, 0.02, 1.00, -0.07, -0.11, 0.02, 0.08, 0.04],
        [-0.12, 0.02, 0.02, -0.19, -0.47, -0.31, -0.07, 1.00, -0.04, 0.00, -0.04, -0.10],
        [-0.09, -0.04, -0.04, 0.06, -0.10, -0.27, -0.11, -0.04, 1.00, -0.10, -0.10, 0.01],
        [0.03, 0.01, -0.05, -0.17, 0.12, 0.08, 0.02, 0.00, -0.10, 1.00, -0.04, 0.03],
        [-0.07, -0.04, -0.09, 0.34, 0.34, 0.28, 0.08, -0.04, -0.10, -0.04, 1.00, 0.06],
        [-0.01, 0.00, -0.02, -0.07, 0.13, 0.06, 0.04, -0.10, 0.01, 0.03, 0.06, 1.00],
    ]
)
_EXPLICIT_SHARE = 0.3265
_MAJOR_SHARE = 0.5118
_KEY_SHARES = np.array(
    [0.0986, 0.1274, 0.0845, 0.0339, 0.0715, 0.0837, 0.0802, 0.0919, 0.0786, 0.0873, 0.0731,
     0.0892]
)  # fmt: skip
_TIME_SIGNATURES = np.array([0, 1, 3, 4, 5])
_TIME_SIGNATURE_SHARES = np.array([0.0001, 0.0046, 0.0608, 0.9141, 0.0204])
# Quirks of the real file, as shares of songs: missing names/artists, zero duration or tempo.
_QUIRK_SHARES = {"name": 6 / 14245, "artists": 6 / 14245, "duration_ms": 6 / 14245,
                 "tempo": 1 / 14245}  # fmt: skip
_ROUND_DECIMALS = {"danceability": 3, "energy": 3, "loudness": 3, "valence": 3, "liveness": 4,
                   "tempo": 3}  # fmt: skip
_ROUND_SIGNIFICANT = {"speechiness": 3, "acousticness": 3, "instrumentalness": 3}

# Regions and what their listeners lean towards, over the taste features (see _taste_features):
# duration, danceability, energy, loudness, speechiness, acousticness, instrumentalness,
# liveness, valence, tempo, explicit, major.
_REGIONS: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "latin": (
        ("AR", "BO", "BR", "CL", "CO", "CR", "DO", "EC", "GT", "HN", "MX", "NI", "PA", "PE", "PY",
         "SV", "UY", "VE"),
        (-0.2, 1.0, 0.3, 0.2, 0.4, -0.3, -0.2, 0.0, 0.6, -0.2, 0.3, -0.1),
    ),
    "anglo": (
        ("US", "CA", "GB", "IE", "AU", "NZ"),
        (-0.2, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0, -0.2, 0.1, 0.7, 0.1),
    ),
    "west_europe": (
        ("DE", "AT", "CH", "NL", "BE", "FR", "LU", "IT", "ES", "PT"),
        (0.0, 0.2, 0.3, 0.2, 0.3, -0.2, 0.3, 0.0, 0.0, 0.1, 0.2, -0.2),
    ),
    "nordic_baltic": (
        ("SE", "NO", "DK", "FI", "IS", "EE", "LV", "LT"),
        (0.1, -0.1, -0.2, -0.3, -0.2, 0.3, 0.3, 0.1, -0.5, 0.0, -0.1, 0.3),
    ),
    "east_europe": (
        ("PL", "CZ", "SK", "HU", "RO", "BG", "UA", "BY", "KZ", "GR", "TR"),
        (0.1, 0.2, 0.4, 0.4, 0.0, -0.2, 0.0, 0.1, -0.1, 0.3, -0.2, -0.3),
    ),
    "east_asia": (
        ("JP", "KR", "TW", "HK"),
        (0.4, -0.4, 0.0, 0.0, -0.4, 0.5, 0.1, 0.1, 0.1, 0.2, -0.8, 0.4),
    ),
    "south_asia_pacific": (
        ("ID", "MY", "PH", "SG", "TH", "VN", "IN", "PK"),
        (0.3, -0.3, -0.4, -0.2, -0.2, 0.6, 0.0, 0.1, -0.2, -0.1, -0.6, 0.3),
    ),
    "mena_africa": (
        ("AE", "SA", "EG", "MA", "IL", "NG", "ZA"),
        (0.2, 0.5, 0.0, 0.1, 0.3, 0.0, 0.2, 0.3, 0.2, 0.2, -0.3, -0.3),
    ),
}  # fmt: skip
_CALIBRATION_SONGS = 4000
_COUNTRY_SPREAD = 0.45  # how far a country's taste strays from its region's
_N_LEANS = 12  # taste features regions lean on; the shapes after them are each country's own
_N_TASTE = 22


@dataclass(frozen=True, eq=False)
class TasteModel:
    """``P(country | song features)`` under the generator: the Bayes classifier of the data.

    ``weights`` is ``(n_countries, n_taste_features)``, ``cap`` the level where a country's
    liking saturates, and ``offsets`` one number per country for how much chart room it gives a
    song (fitted, with the temperature folded into ``weights`` and ``cap``, to the charts made).
    """

    countries: tuple[str, ...]
    weights: np.ndarray
    offsets: np.ndarray
    cap: float = np.inf

    def logits(self, features: pd.DataFrame) -> np.ndarray:
        return np.minimum(_taste_features(features) @ self.weights.T, self.cap) + self.offsets

    def probabilities(self, features: pd.DataFrame) -> np.ndarray:
        """Rows of probabilities over ``countries`` for each song (any frame with FEATURES)."""
        return np.exp(log_softmax(self.logits(features), axis=1))

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """The country the Bayes classifier names for each song."""
        return np.asarray(self.countries)[self.logits(features).argmax(axis=1)]


def generate(
    n_songs: int = DEFAULT_SONGS,
    seed: int = 0,
    *,
    n_days: int = N_DAYS,
    chart_size: int = CHART_SIZE,
    countries: tuple[str, ...] = CHART_COUNTRIES,
    taste_strength: float = TASTE_STRENGTH,
    quirks: bool = True,
) -> SongData:
    """A synthetic data set shaped like the workshop's: ``n_songs`` songs, daily top-``chart_size``
    charts of ``countries`` over ``n_days`` days from 2023-10-18 (about 1.1 million ranking rows
    at the defaults). The same arguments always give the same tables.

    ``quirks`` keeps the real data's small oddities (a few missing names, zero durations, time
    signatures 0 and 1) so validation has something true to report.
    """
    tables, model = _generate(
        n_songs, seed, n_days, chart_size, tuple(countries), taste_strength, quirks
    )
    properties, rankings, bayes = tables
    source = f"synthetic (seed {seed}, {n_songs:,} songs)"
    return song_data(properties, rankings, source, bayes_accuracy=bayes, seed=seed)


def taste_model(
    n_songs: int = DEFAULT_SONGS,
    seed: int = 0,
    *,
    n_days: int = N_DAYS,
    chart_size: int = CHART_SIZE,
    countries: tuple[str, ...] = CHART_COUNTRIES,
    taste_strength: float = TASTE_STRENGTH,
    quirks: bool = True,
) -> TasteModel:
    """The hidden ``P(country | features)`` of the data set ``generate`` makes from the same
    arguments (it regenerates the set, which takes a few seconds at the default size)."""
    return _generate(n_songs, seed, n_days, chart_size, tuple(countries), taste_strength, quirks)[1]


def _generate(
    n_songs: int,
    seed: int,
    n_days: int,
    chart_size: int,
    countries: tuple[str, ...],
    taste_strength: float,
    quirks: bool,
) -> tuple[tuple[pd.DataFrame, pd.DataFrame, float], TasteModel]:
    if n_songs < chart_size:
        raise ValueError(f"Need at least {chart_size} songs to fill a top-{chart_size} chart.")
    if n_days < 1:
        raise ValueError("Need at least one chart day.")
    if not countries:
        raise ValueError("Need at least one country.")
    song_rng, taste_rng, chart_rng, text_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    features = _song_features(song_rng, n_songs, quirks)
    weights = _country_tastes(taste_rng, countries)
    # Every country's taste spreads its songs' weights equally (log-weights with standard
    # deviation ``taste_strength``): a sharper taste would fill its charts with a handful of songs.
    taste = _taste_features(features)
    weights *= taste_strength / np.maximum((taste @ weights.T).std(axis=0), 1e-9)[:, None]
    # Songs come out through the period (and up to ACTIVE_DAYS before it), some more appealing.
    release = song_rng.integers(-ACTIVE_DAYS + 1, n_days, n_songs)
    appeal = song_rng.lognormal(0.0, _APPEAL_SIGMA, n_songs)
    # A country's love for a song saturates: no song may crowd a chart into repeating it.
    cap = TASTE_CAP * taste_strength
    taste_logits = np.minimum(taste @ weights.T, cap)  # (songs, countries)

    charts = _fill_charts(
        chart_rng, release, appeal, taste_logits, n_days, chart_size, len(countries)
    )
    charted = charts.song[charts.valid]
    in_country = np.broadcast_to(np.arange(len(countries))[:, None, None], charts.song.shape)[
        charts.valid
    ]
    temperature, offsets = _calibrate(taste_logits, charts.offsets, charted, in_country)
    model = TasteModel(countries, weights * temperature, offsets, cap * temperature)
    song_probs = np.exp(log_softmax(taste_logits * temperature + offsets, axis=1))
    bayes = bayes_ceiling(song_probs, charted)

    texts = _song_texts(text_rng, n_songs, release, quirks)
    days = np.broadcast_to(np.arange(n_days)[None, :, None], charts.song.shape)[charts.valid]
    first_day = np.full(n_songs, n_days, dtype=np.int64)
    np.minimum.at(first_day, charted, days)
    never = first_day == n_days
    first_day[never] = np.clip(release[never], 0, n_days - 1)
    properties = _properties_table(features, texts, first_day)
    rankings = _rankings_table(chart_rng, charts, texts, appeal, countries)
    return (properties, rankings, bayes), model


def _song_features(rng: np.random.Generator, n: int, quirks: bool) -> pd.DataFrame:
    """Features through a Gaussian copula: real correlations, real marginals."""
    latent = rng.multivariate_normal(
        np.zeros(len(_LATENT)), _CORRELATION, size=n, method="cholesky"
    )
    uniform = ndtr(latent)
    columns: dict[str, np.ndarray] = {
        "is_explicit": uniform[:, 0] < _EXPLICIT_SHARE,
        "mode": (uniform[:, 1] < _MAJOR_SHARE).astype(np.int64),
    }
    for j, name in enumerate(_CONTINUOUS, start=2):
        probs, values = _quantile_table(name)
        x = np.interp(uniform[:, j], probs, values)
        if name in _ROUND_DECIMALS:
            x = np.round(x, _ROUND_DECIMALS[name])
        elif name in _ROUND_SIGNIFICANT:
            x = _round_significant(x, _ROUND_SIGNIFICANT[name])
        columns[name] = x
    columns["duration_ms"] = np.round(columns["duration_ms"]).astype(np.int64)
    columns["key"] = rng.choice(12, size=n, p=_KEY_SHARES / _KEY_SHARES.sum()).astype(np.int64)
    signature_shares = _TIME_SIGNATURE_SHARES.copy()
    if not quirks:
        signature_shares[:2] = 0
    columns["time_signature"] = rng.choice(
        _TIME_SIGNATURES, size=n, p=signature_shares / signature_shares.sum()
    ).astype(np.int64)
    if quirks:
        for name in ("duration_ms", "tempo"):
            hit = rng.random(n) < _QUIRK_SHARES[name]
            columns[name] = np.where(hit, 0, columns[name]).astype(columns[name].dtype)
    frame = pd.DataFrame(columns)
    return frame[[*FEATURES, "time_signature"]]


def _quantile_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    probs, values = _P, np.asarray(_QUANTILES[name], dtype=float)
    if name == "instrumentalness":
        at = np.searchsorted(probs, _INSTRUMENTAL_ZERO)
        probs = np.insert(probs, at, _INSTRUMENTAL_ZERO)
        values = np.insert(values, at, 0.0)
    return probs, values


def _round_significant(x: np.ndarray, digits: int) -> np.ndarray:
    magnitude = np.floor(np.log10(np.abs(np.where(x == 0, 1, x))))
    scale = 10.0 ** (digits - 1 - magnitude)
    return np.round(x * scale) / scale


def _normal_scores(name: str, values: np.ndarray) -> np.ndarray:
    """A feature mapped monotonically to a standard normal scale, from the quantile table."""
    probs, table = _quantile_table(name)
    table, first = np.unique(table, return_index=True)
    # A value shared by a range of quantiles (instrumentalness 0) takes the middle of that range.
    last = np.r_[first[1:] - 1, len(probs) - 1]
    middle = (probs[first] + probs[last]) / 2
    return np.interp(values, table, ndtri(np.clip(middle, 0.002, 0.998)))


def _taste_features(features: pd.DataFrame) -> np.ndarray:
    """What tastes act on: each feature's normal score, explicit and major as +-1, and a few
    shapes (a liking for middling tempos, for danceable *and* energetic songs, …)."""
    scores = {name: _normal_scores(name, features[name].to_numpy(float)) for name in _CONTINUOUS}
    explicit = features["is_explicit"].to_numpy(float) * 2 - 1
    major = features["mode"].to_numpy(float) * 2 - 1
    pairs = [("danceability", "energy"), ("valence", "tempo"), ("loudness", "acousticness"),
             ("liveness", "danceability"), ("speechiness", "valence")]  # fmt: skip
    squares = ["tempo", "duration_ms", "valence", "energy"]
    shapes = [np.clip(scores[a] * scores[b], -3, 3) / 2 for a, b in pairs]
    shapes += [np.clip(scores[a] ** 2 - 1, -1, 3) / 2 for a in squares]
    shapes.append(np.clip(scores["speechiness"], -3, 3) * explicit / 2)
    return np.column_stack([*scores.values(), explicit, major, *shapes])


def _country_tastes(rng: np.random.Generator, countries: tuple[str, ...]) -> np.ndarray:
    region_of = {c: lean for members, lean in _REGIONS.values() for c in members}
    neutral = (0.0,) * _N_LEANS
    weights = np.zeros((len(countries), _N_TASTE))
    for i, country in enumerate(countries):
        lean = np.r_[region_of.get(country, neutral), np.zeros(_N_TASTE - _N_LEANS)]
        weights[i] = lean + _COUNTRY_SPREAD * rng.standard_normal(_N_TASTE)
    # What all countries share cannot tell them apart; it would only crowd every chart with the
    # same few songs, so it goes.
    return weights - weights.mean(axis=0)


@dataclass(frozen=True, eq=False)
class _Charts:
    """Every chart day as a grid ``(country, day, slot)``: song, run and days since the run began.

    ``valid`` is False for the rare repeat of a song within one chart day, left out of the data.
    """

    song: np.ndarray
    run: np.ndarray
    age: np.ndarray
    valid: np.ndarray
    offsets: np.ndarray


def _fill_charts(
    rng: np.random.Generator,
    release: np.ndarray,
    appeal: np.ndarray,
    taste_logits: np.ndarray,
    n_days: int,
    chart_size: int,
    n_countries: int,
) -> _Charts:
    """Daily charts as runs: each slot of each country's chart holds a song for some days.

    A run starting on day t draws its song among those released in (t - ACTIVE_DAYS, t], with
    weight appeal * exp(taste). Songs repeated within one chart day are redrawn, and the rare
    repeat left after a few rounds is dropped.
    """
    n_songs = len(release)
    order = np.argsort(release, kind="stable")
    sorted_release = release[order]
    slots = n_countries * chart_size
    per_slot = int(np.ceil(n_days / MEAN_RUN_DAYS * 2)) + 8
    lengths = rng.geometric(1 / MEAN_RUN_DAYS, size=(slots, per_slot))
    lengths[:, -1] = n_days  # the last run of a slot always reaches the end
    ends = np.cumsum(lengths, axis=1)
    starts = ends - lengths
    used = starts < n_days
    # Runs in slot order; within a slot they tile the days exactly, so rows form a full grid.
    run_start = starts[used]
    run_length = np.minimum(ends[used], n_days) - run_start
    run_country = np.broadcast_to((np.arange(slots) // chart_size)[:, None], used.shape)[used]
    lo = np.searchsorted(sorted_release, run_start - ACTIVE_DAYS, side="right")
    hi = np.searchsorted(sorted_release, run_start, side="right")
    if np.any(hi <= lo):
        raise ValueError("Some chart day has no released song: use more songs or fewer days.")

    # Per country: cumulative weights over songs in release order, to draw from any window.
    logw = taste_logits + np.log(appeal)[:, None]
    logw -= logw.max()
    cumulative = np.zeros((n_countries, n_songs + 1))
    cumulative[:, 1:] = np.cumsum(np.exp(logw[order]).T, axis=1)

    def draw(runs: np.ndarray) -> np.ndarray:
        songs = np.empty(len(runs), dtype=np.int64)
        run_countries = run_country[runs]
        for c in np.unique(run_countries):
            mine = run_countries == c
            a, b, cum = lo[runs[mine]], hi[runs[mine]], cumulative[c]
            target = cum[a] + rng.random(len(a)) * (cum[b] - cum[a])
            pos = np.searchsorted(cum, target, side="right") - 1
            songs[mine] = order[np.clip(pos, a, b - 1)]
        return songs

    run_song = draw(np.arange(len(run_start)))
    run_grid = (
        np.repeat(np.arange(len(run_start)), run_length)
        .reshape(n_countries, chart_size, n_days)
        .transpose(0, 2, 1)
    )
    # Redraw runs whose song repeats within a chart day; after the first full check only the
    # chart days those runs touch can change.
    cells = run_grid.reshape(-1, chart_size)
    repeat = _repeats_per_cell(run_song[cells])
    for _ in range(12):
        if not repeat.any():
            break
        again = np.unique(cells[repeat])
        run_song[again] = draw(again)
        touched = np.zeros(len(run_song), dtype=bool)
        touched[again] = True
        redo = np.flatnonzero(touched[cells].any(axis=1))
        repeat[redo] = _repeats_per_cell(run_song[cells[redo]])
    valid = ~repeat.reshape(run_grid.shape)

    # How much chart room a country gives any one song: over the run starts inside the song's
    # window, the days a run holds its slot over the total weight competing for it; averaged
    # over release days, since a classifier never sees when a song came out.
    competing = cumulative[run_country, hi] - cumulative[run_country, lo]
    room = np.zeros((n_countries, n_days))
    np.add.at(room, (run_country, run_start), run_length / competing)
    prefix = np.zeros((n_countries, n_days + 1))
    prefix[:, 1:] = np.cumsum(room, axis=1)
    releases = np.arange(-ACTIVE_DAYS + 1, n_days)
    window = (
        prefix[:, np.clip(releases + ACTIVE_DAYS, 0, n_days)]
        - prefix[:, np.clip(releases, 0, n_days)]
    )
    offsets = np.log(window.mean(axis=1))
    offsets -= offsets.mean()
    day = np.arange(n_days)[None, :, None]
    return _Charts(
        song=run_song[run_grid],
        run=run_grid,
        age=day - run_start[run_grid],
        valid=valid,
        offsets=offsets,
    )


def _calibrate(
    taste_logits: np.ndarray, offsets: np.ndarray, song: np.ndarray, country: np.ndarray
) -> tuple[float, np.ndarray]:
    """Temperature and country offsets that make ``P(country | features)`` match the charts.

    The chart rule that a song appears at most once per chart day caps the favourite songs of
    each country, which flattens the taste a little and shifts the countries' offsets. Rather
    than leave the Bayes ceiling slightly optimistic, the two are fitted by maximum likelihood
    (73 numbers from a million rows) on the charts just made.
    """
    n_songs, n_countries = taste_logits.shape
    counts = np.bincount(song * n_countries + country, minlength=n_songs * n_countries)
    counts = counts.reshape(n_songs, n_countries).astype(float)
    # Songs are drawn independently, so a few thousand of them pin 73 numbers down well.
    charted = np.flatnonzero(counts.sum(axis=1) > 0)[:_CALIBRATION_SONGS]
    counts, eta = counts[charted], taste_logits[charted]
    per_song = counts.sum(axis=1)
    per_country = counts.sum(axis=0)
    observed_eta = float((counts * eta).sum())
    total = per_song.sum()

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        logits = params[0] * eta + params[1:]
        log_p = log_softmax(logits, axis=1)
        expected = per_song[:, None] * np.exp(log_p)
        nll = -float((counts * log_p).sum())
        gradient = np.r_[(expected * eta).sum() - observed_eta, expected.sum(axis=0) - per_country]
        return nll / total, gradient / total

    fitted = minimize(loss, np.r_[1.0, offsets], jac=True, method="L-BFGS-B")
    temperature, fitted_offsets = float(fitted.x[0]), fitted.x[1:]
    return temperature, fitted_offsets - fitted_offsets.mean()


def _repeats_per_cell(songs: np.ndarray) -> np.ndarray:
    """True where a song already appears earlier in the same chart day (last axis)."""
    order = np.argsort(songs, axis=-1, kind="stable")
    ordered = np.take_along_axis(songs, order, axis=-1)
    repeat_sorted = np.zeros(songs.shape, dtype=bool)
    repeat_sorted[..., 1:] = ordered[..., 1:] == ordered[..., :-1]
    repeat = np.empty_like(repeat_sorted)
    np.put_along_axis(repeat, order, repeat_sorted, axis=-1)
    return repeat


_WORDS = np.array(
    [
        "love", "night", "heart", "fuego", "baby", "corazón", "dance", "summer", "rain", "fire",
        "dream", "gold", "luna", "noche", "amor", "vida", "stars", "alone", "forever", "tonight",
        "paradise", "ocean", "shadow", "city", "lights", "wild", "young", "free", "money",
        "crazy", "sweet", "bad", "good", "blue", "red", "black", "white", "diamond", "angel",
        "ghost", "river", "moon", "sun", "sky", "storm", "thunder", "echo", "midnight", "sunrise",
        "highway", "lonely", "broken", "perfect", "dancing", "running", "falling", "flying",
        "calling", "waiting", "missing", "chica", "mami", "papi", "bonita", "loca", "dime",
        "quiero", "siempre", "nunca", "contigo", "sin", "ti", "tú", "yo", "mi", "feel", "real",
        "hold", "back", "home", "away", "close", "again", "more", "less", "lost", "found", "sea",
        "sakura", "yume", "hana", "kimi", "ai", "sarang", "maeum", "byul", "herz", "liebe",
        "nacht", "sommer", "amore", "cuore", "notte", "sole", "mare", "cielo", "vie", "nuit",
        "coeur", "soleil", "kärlek", "natt", "hjärta", "miłość", "noc", "serce", "aşk", "gece",
        "kalp", "dil", "pyaar", "raat", "ishq", "sapna", "tình", "yêu", "đêm", "rindu", "cinta",
        "malam", "habibi", "layali", "albi"
    ]
)  # fmt: skip
_SYLLABLES = np.array(
    [
        "ka", "lu", "na", "ri", "mo", "sa", "ve", "li", "to", "ra", "ne", "zo", "mi", "ta", "el",
        "ar", "on", "yo", "be", "da", "ki", "ro", "sha", "lo", "ni", "vi", "jo", "fe", "le", "ma",
        "ze", "xi", "qu", "ba", "dy", "ce"
    ]
)  # fmt: skip
_ARTIST_PREFIXES = np.array(["", "", "", "", "", "", "DJ ", "Lil ", "MC ", "The ", "Young "])


def _capitalize(words: np.ndarray) -> np.ndarray:
    return np.char.capitalize(words.astype(str))


def _song_texts(
    rng: np.random.Generator, n: int, release: np.ndarray, quirks: bool
) -> dict[str, np.ndarray]:
    """Names, artists, albums and release dates: invented, varied, and readable in a table."""
    picks = _WORDS[rng.integers(0, len(_WORDS), size=(n, 3))]
    n_words = rng.choice([1, 2, 3], size=n, p=[0.35, 0.45, 0.2])
    name = _capitalize(picks[:, 0])
    name = np.where(n_words >= 2, np.char.add(np.char.add(name, " "), picks[:, 1]), name)
    name = np.where(n_words >= 3, np.char.add(np.char.add(name, " "), picks[:, 2]), name)

    n_artists = max(n // 4, 1)
    syllables = _SYLLABLES[rng.integers(0, len(_SYLLABLES), size=(n_artists, 5))]
    first = _capitalize(np.char.add(np.char.add(syllables[:, 0], syllables[:, 1]), syllables[:, 2]))
    last = _capitalize(np.char.add(syllables[:, 3], syllables[:, 4]))
    artist_names = np.where(
        rng.random(n_artists) < 0.5, np.char.add(np.char.add(first, " "), last), first
    )
    prefix = _ARTIST_PREFIXES[rng.integers(0, len(_ARTIST_PREFIXES), n_artists)]
    artist_names = np.char.add(prefix, artist_names)
    # A few artists make many songs: Zipf-like choice of the main artist.
    main = np.minimum(rng.zipf(1.6, size=n) - 1, n_artists - 1)
    main = rng.permutation(n_artists)[main]
    featured = rng.integers(0, n_artists, size=n)
    artists = np.where(
        (rng.random(n) < 0.25) & (featured != main),
        np.char.add(np.char.add(artist_names[main], ", "), artist_names[featured]),
        artist_names[main],
    )
    album_words = _WORDS[rng.integers(0, len(_WORDS), size=(n, 2))]
    album = np.where(
        rng.random(n) < 0.55,
        name,
        np.char.add(np.char.add(_capitalize(album_words[:, 0]), " "), album_words[:, 1]),
    )
    # Releases before the period reach back years for some songs (catalogue hits).
    days_before = np.where(rng.random(n) < 0.12, rng.integers(365, 365 * 40, n), 0)
    released = FIRST_DAY + (release - days_before).astype("timedelta64[D]")
    release_date = np.datetime_as_string(released, unit="D")

    name = name.astype(object)
    artists = artists.astype(object)
    if quirks:
        name[rng.random(n) < _QUIRK_SHARES["name"]] = None
        artists[rng.random(n) < _QUIRK_SHARES["artists"]] = None
    ids = _spotify_ids(rng, n)
    return {
        "spotify_id": ids,
        "name": name,
        "artists": artists,
        "album_name": album.astype(object),
        "album_release_date": release_date.astype(object),
    }


def song_texts(n: int, seed: int, taken: set[str] | frozenset[str] = frozenset()) -> pd.DataFrame:
    """Invented ``spotify_id``, ``name``, ``artists`` and ``album_name`` for ``n`` songs, as the
    generator makes them (no quirks), with ids none of ``taken``: names for songs a change adds
    to an existing data set."""
    rng = np.random.default_rng(seed)
    while True:
        texts = _song_texts(rng, n, np.zeros(n, dtype=np.int64), quirks=False)
        if not taken.intersection(texts["spotify_id"]):
            break
    return pd.DataFrame(
        {k: pd.Series(texts[k], dtype="str") for k in (KEY, "name", "artists", "album_name")}
    )


_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)


def _spotify_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """22-character base-62 ids like Spotify's, unique within the set."""
    while True:
        chars = _BASE62[rng.integers(0, 62, size=(n, 22))]
        ids = chars.view("S22").ravel().astype(str).astype(object)
        if len(np.unique(ids)) == n:
            return ids


def _text_column(values: np.ndarray, index: np.ndarray | None = None) -> pd.Series:
    """A pandas ``str`` column, built through Arrow's take (fast for a million rows)."""
    array = pa.array(values, type=pa.string())
    if index is not None:
        array = array.take(pa.array(index))
    return pd.Series(array.to_pandas(), dtype="str")


def _properties_table(
    features: pd.DataFrame, texts: dict[str, np.ndarray], first_day: np.ndarray
) -> pd.DataFrame:
    columns = {
        "spotify_id": _text_column(texts["spotify_id"]),
        "name": _text_column(texts["name"]),
        "artists": _text_column(texts["artists"]),
        "event_timestamp": pd.Series(
            (FIRST_DAY + first_day.astype("timedelta64[D]")).astype("datetime64[ns]")
        ),
    }
    frame = pd.concat([pd.DataFrame(columns), features.reset_index(drop=True)], axis=1)
    return frame[list(PROPERTIES_COLUMNS)]


def _rankings_table(
    rng: np.random.Generator,
    charts: _Charts,
    texts: dict[str, np.ndarray],
    appeal: np.ndarray,
    countries: tuple[str, ...],
) -> pd.DataFrame:
    """Ranks within each chart day by appeal, freshness and luck; movements from earlier days."""
    n_countries, n_days, chart_size = charts.song.shape
    n_songs = len(appeal)
    run_luck = rng.normal(0, 0.6, charts.run.max() + 1)
    freshness = -0.04 * charts.age + 0.5 * np.exp(-charts.age / 3.0)
    score = np.log(appeal)[charts.song] + run_luck[charts.run] + freshness
    score += rng.normal(0, 0.15, score.shape)
    score[~charts.valid] = -np.inf  # repeats sort last, after every real entry
    by_score = np.argsort(-score, axis=-1)
    song = np.take_along_axis(charts.song, by_score, axis=-1)
    age = np.take_along_axis(charts.age, by_score, axis=-1)
    valid = np.take_along_axis(charts.valid, by_score, axis=-1)
    rank = np.broadcast_to(np.arange(1, chart_size + 1), song.shape)

    # Ranks on earlier days: keys (cell, song) sorted within each cell are sorted overall, so
    # one searchsorted finds any (country, day, song); repeats get a song id past the last.
    cell = (np.arange(n_countries)[:, None] * n_days + np.arange(n_days)[None, :])[..., None]
    findable = np.where(valid, song, n_songs)
    by_song = np.argsort(findable, axis=-1)
    keys = (cell * (n_songs + 1) + np.take_along_axis(findable, by_song, axis=-1)).ravel()
    ranks_by_song = np.take_along_axis(rank, by_song, axis=-1).ravel()
    day = np.broadcast_to(np.arange(n_days)[None, :, None], song.shape)

    def rank_before(days: int) -> np.ndarray:
        wanted = ((cell - days) * (n_songs + 1) + song).ravel()
        pos = np.clip(np.searchsorted(keys, wanted), 0, len(keys) - 1)
        found = (keys[pos] == wanted) & (day.ravel() >= days)
        return np.where(found, ranks_by_song[pos], -1).reshape(song.shape)

    yesterday, last_week = rank_before(1), rank_before(7)
    daily_movement = np.where(yesterday > 0, yesterday - rank, 0)
    weekly_movement = np.where(last_week > 0, last_week - rank, 0)
    base = 100 - 60 * (1 - pd.Series(appeal).rank(pct=True).to_numpy())
    popularity = base[song] - 0.03 * age + rng.normal(0, 3, song.shape)
    popularity = np.clip(np.round(popularity), 0, 100)

    def rows(grid: np.ndarray) -> np.ndarray:
        """Newest day first, each country's chart top-down, as the Kaggle file lists them."""
        return grid.transpose(1, 0, 2)[::-1][valid.transpose(1, 0, 2)[::-1]]

    song_rows = rows(song)
    country_rows = rows(np.broadcast_to(np.arange(n_countries)[:, None, None], song.shape))
    codes = np.asarray(countries, dtype=object)
    return pd.DataFrame(
        {
            "spotify_id": _text_column(texts["spotify_id"], song_rows),
            "name": _text_column(texts["name"], song_rows),
            "artists": _text_column(texts["artists"], song_rows),
            "popularity": rows(popularity).astype(np.int64),
            "daily_rank": rows(rank).astype(np.int64),
            "daily_movement": rows(daily_movement).astype(np.int64),
            "weekly_movement": rows(weekly_movement).astype(np.int64),
            LABEL: _text_column(codes, country_rows),
            "snapshot_date": (FIRST_DAY + rows(day).astype("timedelta64[D]")).astype(
                "datetime64[ns]"
            ),
            "album_name": _text_column(texts["album_name"], song_rows),
            "album_release_date": _text_column(texts["album_release_date"], song_rows),
        }
    )


__all__ = ["SongData", "TasteModel", "generate", "song_texts", "taste_model"]
