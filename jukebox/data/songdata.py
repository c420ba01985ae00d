"""SongData: the two validated tables of one data set, with where they came from.

Every source (synthetic, parquet, S3, Kaggle CSV, upload) returns one, built by ``song_data``,
so the rest of Jukebox never has to know where the songs came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from jukebox.data.schema import LABEL, PROPERTIES_TABLE, RANKINGS_TABLE
from jukebox.data.validation import (
    ValidationReport,
    conform_properties,
    conform_rankings,
    validate_pair,
)


@dataclass(frozen=True, eq=False)
class SongData:
    """``song_properties`` and ``song_rankings`` as the schema defines them, validated.

    ``source`` says where the data came from in words (never a credential); ``report`` is what
    validation found; ``bayes_accuracy`` is the best accuracy any classifier can reach on the
    ranking rows, known only for synthetic data; ``seed`` is the generator's seed, if any.
    Compared and hashed by identity, so it can key a cache.
    """

    properties: pd.DataFrame
    rankings: pd.DataFrame
    source: str
    report: ValidationReport
    bayes_accuracy: float | None = None
    seed: int | None = None

    @property
    def n_songs(self) -> int:
        return len(self.properties)

    @property
    def countries(self) -> list[str]:
        """Country codes with at least one ranking row, sorted."""
        return sorted(self.rankings[LABEL].dropna().unique().tolist())

    @property
    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        dates = self.rankings["snapshot_date"]
        if dates.notna().any():
            return dates.min(), dates.max()
        return None

    def summary(self) -> dict[str, object]:
        """Size and origin in plain values, for the CLI and the pages."""
        span = self.date_range
        return {
            "source": self.source,
            "songs": self.n_songs,
            "ranking_rows": len(self.rankings),
            "countries": len(self.countries),
            "first_date": span[0].date().isoformat() if span else None,
            "last_date": span[1].date().isoformat() if span else None,
            "bayes_accuracy": self.bayes_accuracy,
            "seed": self.seed,
            "errors": len(self.report.errors),
            "warnings": len(self.report.warnings),
        }


def song_data(
    properties: pd.DataFrame,
    rankings: pd.DataFrame,
    source: str,
    *,
    properties_where: str | None = None,
    rankings_where: str | None = None,
    bayes_accuracy: float | None = None,
    seed: int | None = None,
    extra: ValidationReport | None = None,
) -> SongData:
    """Conform and validate both tables, raising ``ValidationError`` listing every error.

    ``*_where`` name the files in messages, so a user knows which one is wrong. ``extra`` adds
    findings a source made itself (such as rows set aside before validation).
    """
    properties, properties_report = conform_properties(properties, properties_where)
    rankings, rankings_report = conform_rankings(rankings, rankings_where)
    report = properties_report + rankings_report
    if report.ok:
        report = report + validate_pair(properties, rankings)
    if extra is not None:
        report = report + extra
    report.raise_for_errors()
    return SongData(properties, rankings, source, report, bayes_accuracy, seed)


__all__ = ["SongData", "song_data", "PROPERTIES_TABLE", "RANKINGS_TABLE"]
