"""The two tables of the workshop and the features the model reads, in their fixed order.

Everything that moves song data between parts of Jukebox (sources, validation, preparation, the
ONNX model's inputs, inference requests) takes its column names and order from here.
"""

from __future__ import annotations

from dataclasses import dataclass

FEATURES: tuple[str, ...] = (
    "is_explicit",
    "duration_ms",
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
)
"""Model inputs, in the order of the workshop's notebooks and pipeline."""

LABEL = "country"
"""ISO 3166-1 alpha-2 code of the country whose chart a ranking row belongs to."""

KEY = "spotify_id"


@dataclass(frozen=True)
class FeatureSpec:
    """What a feature means to a person, and the values a real song can plausibly have."""

    name: str
    dtype: str
    low: float
    high: float
    description: str
    unit: str = ""


FEATURE_SPECS: dict[str, FeatureSpec] = {
    s.name: s
    for s in (
        FeatureSpec("is_explicit", "bool", 0, 1, "Has explicit lyrics"),
        FeatureSpec("duration_ms", "int64", 1, 1_800_000, "Length", "ms"),
        FeatureSpec("danceability", "float64", 0, 1, "How danceable"),
        FeatureSpec("energy", "float64", 0, 1, "How energetic"),
        FeatureSpec("key", "int64", -1, 11, "Musical key (0 = C, -1 = unknown)"),
        FeatureSpec("loudness", "float64", -60, 5, "Loudness", "dB"),
        FeatureSpec("mode", "int64", 0, 1, "Major (1) or minor (0)"),
        FeatureSpec("speechiness", "float64", 0, 1, "How much speech"),
        FeatureSpec("acousticness", "float64", 0, 1, "How acoustic"),
        FeatureSpec("instrumentalness", "float64", 0, 1, "How instrumental"),
        FeatureSpec("liveness", "float64", 0, 1, "How live it sounds"),
        FeatureSpec("valence", "float64", 0, 1, "How happy it sounds"),
        FeatureSpec("tempo", "float64", 1, 260, "Tempo", "BPM"),
    )
}

PROPERTIES_COLUMNS: dict[str, str] = {
    "spotify_id": "object",
    "name": "object",
    "artists": "object",
    "event_timestamp": "datetime64[ns]",
    **{name: FEATURE_SPECS[name].dtype for name in FEATURES},
    "time_signature": "int64",
}
"""``song_properties``: one row per song, columns and dtypes as the workshop's parquet file."""

RANKINGS_COLUMNS: dict[str, str] = {
    "spotify_id": "object",
    "name": "object",
    "artists": "object",
    "popularity": "int64",
    "daily_rank": "int64",
    "daily_movement": "int64",
    "weekly_movement": "int64",
    "country": "object",
    "snapshot_date": "datetime64[ns]",
    "album_name": "object",
    "album_release_date": "object",
}
"""``song_rankings``: one row per song, country and chart day."""

PROPERTIES_TABLE = "song_properties"
RANKINGS_TABLE = "song_rankings"

TIME_SIGNATURE_SPEC = FeatureSpec("time_signature", "int64", 3, 7, "Beats per bar")
"""Spotify reports 3 to 7 beats per bar; 0 and 1 are quirks of its analysis, not real metres."""

RANKINGS_SPECS: dict[str, FeatureSpec] = {
    s.name: s
    for s in (
        FeatureSpec("popularity", "int64", 0, 100, "Spotify popularity"),
        FeatureSpec("daily_rank", "int64", 1, 200, "Position in the daily chart"),
    )
}
"""Plausible values of the numeric ranking columns that validation checks."""

CHART_COUNTRIES: tuple[str, ...] = (
    "AE", "AR", "AT", "AU", "BE", "BG", "BO", "BR", "BY", "CA", "CH", "CL", "CO", "CR", "CZ",
    "DE", "DK", "DO", "EC", "EE", "EG", "ES", "FI", "FR", "GB", "GR", "GT", "HK", "HN", "HU",
    "ID", "IE", "IL", "IN", "IS", "IT", "JP", "KR", "KZ", "LT", "LU", "LV", "MA", "MX", "MY",
    "NG", "NI", "NL", "NO", "NZ", "PA", "PE", "PH", "PK", "PL", "PT", "PY", "RO", "SA", "SE",
    "SG", "SK", "SV", "TH", "TR", "TW", "UA", "US", "UY", "VE", "VN", "ZA",
)  # fmt: skip
"""The 72 countries of the Kaggle "Top Spotify Songs in 73 Countries" set (the 73rd is global)."""
