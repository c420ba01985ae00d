"""Validation reports every problem at once, stops on errors, and drops rows only when asked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jukebox.data.schema import PROPERTIES_COLUMNS, RANKINGS_COLUMNS
from jukebox.data.validation import (
    ValidationError,
    clean,
    conform_properties,
    validate_pair,
    validate_properties,
    validate_rankings,
)


def assert_schema_dtypes(frame: pd.DataFrame, columns: dict[str, str]) -> None:
    assert list(frame.columns) == list(columns)
    for column, dtype in columns.items():
        if dtype == "object":
            assert pd.api.types.is_string_dtype(frame[column].dtype), column
        else:
            assert str(frame[column].dtype) == dtype, column


# --- the real file -------------------------------------------------------------------------


def test_real_file_is_accepted_with_its_quirks_counted(real_properties):
    conformed, report = conform_properties(real_properties, "song_properties.parquet")
    assert report.ok, report.summary()
    assert len(conformed) == len(real_properties) == 14_245  # validation itself drops nothing
    assert report.missing_values() == {"name": 6, "artists": 6}
    assert sum(report.missing_values().values()) == 12
    assert report.count("out_of_range", "duration_ms") == 6
    assert report.count("out_of_range", "tempo") == 1
    assert report.count("out_of_range", "time_signature") == 66  # 65 with 1, one with 0
    assert report.count("out_of_range", "loudness") == 0  # -37.3..+3.2 dB is plausible
    assert report.count("duplicate") == 0
    assert "song_properties.parquet" in report.summary()


def test_real_file_cleans_only_on_request(real_properties):
    report = validate_properties(real_properties)
    quirky = (
        real_properties["duration_ms"].eq(0)
        | real_properties["tempo"].eq(0)
        | ~real_properties["time_signature"].between(3, 7)
    )
    # The six songs without a name are also the six of duration 0 (local files, probably).
    assert real_properties.loc[real_properties["name"].isna(), "duration_ms"].eq(0).all()
    assert report.droppable == {"song_properties": int(quirky.sum())} == {"song_properties": 72}
    cleaned, dropped = report.clean(real_properties)
    assert dropped == 72 and len(cleaned) == 14_245 - 72
    assert set(cleaned["spotify_id"]) == set(real_properties.loc[~quirky, "spotify_id"])
    assert (cleaned["duration_ms"] > 0).all() and (cleaned["tempo"] > 0).all()
    assert cleaned["time_signature"].between(3, 7).all()
    assert_schema_dtypes(cleaned, PROPERTIES_COLUMNS)


# --- errors --------------------------------------------------------------------------------


def test_every_error_is_reported_at_once(small):
    broken = small.properties.drop(columns=["energy", "tempo"]).assign(
        danceability="very", key=1.5, event_timestamp="someday"
    )
    report = validate_properties(broken, "mine.parquet")
    kinds = sorted((f.kind, f.column) for f in report.errors)
    assert kinds == [
        ("missing_column", "energy, tempo"),
        ("wrong_type", "danceability"),
        ("wrong_type", "event_timestamp"),
        ("wrong_type", "key"),
    ]
    with pytest.raises(ValidationError) as caught:
        report.raise_for_errors()
    message = str(caught.value)
    for needle in ("mine.parquet", "energy, tempo", "danceability", "'very'", "key", "1.5"):
        assert needle in message
    assert caught.value.report is report


def test_empty_table_is_an_error(small):
    report = validate_rankings(small.rankings.iloc[:0])
    assert [f.kind for f in report.errors] == ["empty"]
    assert "no rows" in report.error_message()


def test_a_column_without_any_value_is_named(small):
    properties = small.properties.assign(danceability=np.nan, name=None)
    report = validate_properties(properties, "mine.parquet")
    # An error naming the column (cleaning would drop every row for it), not "no rows"; a text
    # column without values is only counted, since no model reads it.
    assert [(f.kind, f.column) for f in report.errors] == [("empty_column", "danceability")]
    message = report.error_message()
    assert "mine.parquet" in message and "danceability has no values" in message
    assert "no rows" not in message
    assert report.missing_values() == {"name": len(properties)}


def test_not_a_table_is_an_error():
    report = validate_properties([1, 2, 3])  # type: ignore[arg-type]
    assert not report.ok and "not a table" in report.error_message()


def test_clean_refuses_a_table_with_errors(small):
    report = validate_properties(small.properties.drop(columns=["energy"]))
    with pytest.raises(ValidationError):
        report.clean(small.properties.drop(columns=["energy"]))


# --- coercion ------------------------------------------------------------------------------


def test_text_from_csv_is_coerced_to_the_schema(small):
    as_text = small.properties.astype(str).assign(
        is_explicit=small.properties["is_explicit"].map({True: "True", False: "False"})
    )
    conformed, report = conform_properties(as_text)
    assert report.ok, report.summary()
    assert_schema_dtypes(conformed, PROPERTIES_COLUMNS)
    np.testing.assert_allclose(conformed["danceability"], small.properties["danceability"])
    assert (conformed["is_explicit"] == small.properties["is_explicit"]).all()
    assert (conformed["event_timestamp"] == small.properties["event_timestamp"]).all()


def test_country_codes_are_normalised(small):
    rankings = small.rankings.assign(country=small.rankings["country"].str.lower() + " ")
    from jukebox.data.validation import conform_rankings

    conformed, report = conform_rankings(rankings)
    assert report.count("unknown_country") == 0
    assert (conformed["country"] == small.rankings["country"]).all()


# --- warnings: counted, kept, dropped on request ---------------------------------------------


def test_row_problems_are_counted_and_dropped_only_on_request(small):
    properties = small.properties.copy()
    properties.loc[0, "energy"] = np.nan
    properties.loc[1, "danceability"] = 1.7
    properties.loc[2, "name"] = None
    properties = pd.concat([properties, properties.iloc[[5]]], ignore_index=True)  # a repeat
    conformed, report = conform_properties(properties)
    assert report.ok
    assert len(conformed) == len(properties)
    assert report.count("missing_values", "energy") == 1
    assert report.count("out_of_range", "danceability") == 1
    assert report.count("duplicate") == 1
    baseline = validate_properties(small.properties).droppable["song_properties"]
    assert report.droppable["song_properties"] == baseline + 3
    cleaned, dropped = report.clean(properties)
    assert dropped == baseline + 3
    assert cleaned["spotify_id"].is_unique
    assert cleaned["energy"].notna().all() and cleaned["danceability"].le(1).all()
    assert_schema_dtypes(cleaned, PROPERTIES_COLUMNS)


def test_ranking_problems(small):
    rankings = small.rankings.copy()
    rankings.loc[0, "country"] = "XX"
    rankings.loc[1, "daily_rank"] = 0
    rankings.loc[2, "popularity"] = 140
    rankings = pd.concat([rankings, rankings.iloc[[10, 11]]], ignore_index=True)
    report = validate_rankings(rankings)
    assert report.ok
    assert report.count("unknown_country") == 1 and "'XX'" in report.summary()
    assert report.count("out_of_range", "daily_rank") == 1
    assert report.count("out_of_range", "popularity") == 1
    assert report.count("duplicate") == 2
    cleaned, dropped = clean(rankings, "song_rankings")
    assert dropped == 5 and len(cleaned) == len(small.rankings) - 3
    assert_schema_dtypes(cleaned, RANKINGS_COLUMNS)


def test_rankings_without_properties_are_reported(small):
    some = small.properties.iloc[10:]
    missing = small.rankings["spotify_id"].isin(small.properties["spotify_id"].iloc[:10])
    report = validate_pair(some, small.rankings)
    assert report.count("unmatched") == int(missing.sum()) > 0
    idle = ~small.properties["spotify_id"].isin(small.rankings["spotify_id"])
    assert validate_pair(small.properties, small.rankings).count("never_charted") == idle.sum()
    assert validate_pair(small.properties, small.rankings).count("unmatched") == 0


def test_combined_report_needs_a_table_to_clean(small):
    report = small.report
    assert set(report.tables) == {"song_properties", "song_rankings"}
    with pytest.raises(ValueError, match="which one"):
        report.clean(small.properties)
    cleaned, _ = report.clean(small.rankings, table="song_rankings")
    assert len(cleaned) == len(small.rankings)
    frame = report.to_frame()
    assert list(frame["message"]) == [f.message for f in report.findings]
