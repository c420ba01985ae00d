"""Check the two song tables against the schema, reporting every problem at once.

Validation never drops a row by itself. Problems that make a table unusable (it is empty, a column
is missing or has no value at all, a column holds values that cannot be read as its type) are
*errors*: the report says all of them and ``raise_for_errors`` stops with that message. Problems
of single rows (missing values, values outside the plausible range of a feature, duplicated ids,
unknown countries) are *warnings* with counts; ``report.clean(df)`` drops those rows when the
user asks for it and says how many went.

``conform_properties`` / ``conform_rankings`` also return the table coerced to the schema's
dtypes (numbers read from text, dates parsed, country codes upper-cased), which is what every
source hands on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from jukebox.data.countries import is_country_code
from jukebox.data.schema import (
    FEATURE_SPECS,
    KEY,
    LABEL,
    PROPERTIES_COLUMNS,
    PROPERTIES_TABLE,
    RANKINGS_COLUMNS,
    RANKINGS_SPECS,
    RANKINGS_TABLE,
    TIME_SIGNATURE_SPEC,
    FeatureSpec,
)
from jukebox.errors import JukeboxError

Level = Literal["error", "warning", "info"]

TEXT_COLUMNS = frozenset({"name", "artists", "album_name", "album_release_date"})
"""Descriptive columns: a missing value is counted but the row is kept, since no model reads it."""

_COLUMNS = {PROPERTIES_TABLE: PROPERTIES_COLUMNS, RANKINGS_TABLE: RANKINGS_COLUMNS}
_DUPLICATE_KEYS = {PROPERTIES_TABLE: (KEY,), RANKINGS_TABLE: (KEY, LABEL, "snapshot_date")}
_RANGES: dict[str, dict[str, FeatureSpec]] = {
    PROPERTIES_TABLE: {**FEATURE_SPECS, "time_signature": TIME_SIGNATURE_SPEC},
    RANKINGS_TABLE: RANKINGS_SPECS,
}
_TRUE = {"true", "1", "yes", "t", "y", "1.0"}
_FALSE = {"false", "0", "no", "f", "n", "0.0"}


@dataclass(frozen=True)
class Finding:
    """One problem of one table: what, where, how many rows, and a sentence for people."""

    table: str
    level: Level
    kind: str
    column: str | None
    count: int
    message: str
    dropped_by_clean: bool = False

    def __str__(self) -> str:
        return self.message


class Cleaned(NamedTuple):
    """A table after ``clean``: the rows that are left and how many were dropped."""

    frame: pd.DataFrame
    dropped: int


class ValidationError(JukeboxError, ValueError):
    """A table cannot be used; ``report`` holds every problem found, not only the first."""

    def __init__(self, report: ValidationReport):
        self.report = report
        super().__init__(report.error_message())


@dataclass(frozen=True)
class ValidationReport:
    """Everything validation found in one or both tables.

    ``rows`` maps each table to its row count; ``droppable`` maps it to how many rows
    ``clean`` would drop (rows with at least one warning that cleaning removes).
    """

    findings: tuple[Finding, ...] = ()
    rows: dict[str, int] = field(default_factory=dict)
    droppable: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "warning")

    @property
    def infos(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "info")

    @property
    def ok(self) -> bool:
        """True when nothing stops the tables from being used (warnings may remain)."""
        return not self.errors

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self.rows)

    def count(self, kind: str, column: str | None = None, table: str | None = None) -> int:
        """Rows affected by findings of ``kind`` (optionally one column or table), summed."""
        return sum(
            f.count
            for f in self.findings
            if f.kind == kind
            and (column is None or f.column == column)
            and (table is None or f.table == table)
        )

    def missing_values(self, table: str | None = None) -> dict[str, int]:
        """Missing values per column, only columns that have some."""
        return {
            f.column: f.count
            for f in self.findings
            if f.kind == "missing_values" and f.column and (table is None or f.table == table)
        }

    def error_message(self) -> str:
        lines = [f"- {f.message}" for f in self.errors]
        if not lines:
            return "No errors."
        return "The data cannot be used:\n" + "\n".join(lines)

    def raise_for_errors(self) -> ValidationReport:
        """Raise ``ValidationError`` listing every error; return the report when there is none."""
        if self.errors:
            raise ValidationError(self)
        return self

    def summary(self) -> str:
        """Plain text: each table's size, then every finding, errors first."""
        lines = [f"{table}: {n:,} rows" for table, n in self.rows.items()]
        order = {"error": 0, "warning": 1, "info": 2}
        for f in sorted(self.findings, key=lambda f: order[f.level]):
            lines.append(f"{f.level}: {f.message}")
        if not self.findings:
            lines.append("No problems found.")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """One row per finding, for a table on a page."""
        columns = ["table", "level", "kind", "column", "count", "message", "dropped_by_clean"]
        return pd.DataFrame([f.__dict__ for f in self.findings], columns=columns)

    def __add__(self, other: ValidationReport) -> ValidationReport:
        return ValidationReport(
            self.findings + other.findings,
            {**self.rows, **other.rows},
            {**self.droppable, **other.droppable},
        )

    def clean(self, df: pd.DataFrame, table: str | None = None) -> Cleaned:
        """Drop the rows with problems and return them with the count, at the user's request.

        ``table`` is needed only when the report covers both tables. Rows are dropped for the
        warnings marked ``dropped_by_clean``: missing values outside the descriptive text
        columns, values outside a feature's plausible range, unknown countries and repeated ids
        (the first occurrence stays). Columns end with the schema's exact dtypes.
        """
        if table is None:
            if len(self.tables) != 1:
                raise ValueError("This report covers several tables: say which one to clean.")
            (table,) = self.tables
        return clean(df, table)


def conform_properties(
    df: pd.DataFrame, where: str | None = None
) -> tuple[pd.DataFrame, ValidationReport]:
    """``song_properties`` coerced to the schema, with the report of what was found."""
    return _conform(df, PROPERTIES_TABLE, where)


def conform_rankings(
    df: pd.DataFrame, where: str | None = None
) -> tuple[pd.DataFrame, ValidationReport]:
    """``song_rankings`` coerced to the schema, with the report of what was found."""
    return _conform(df, RANKINGS_TABLE, where)


def validate_properties(df: pd.DataFrame, where: str | None = None) -> ValidationReport:
    """Every problem of a ``song_properties`` table; ``where`` names the file in messages."""
    return conform_properties(df, where)[1]


def validate_rankings(df: pd.DataFrame, where: str | None = None) -> ValidationReport:
    """Every problem of a ``song_rankings`` table; ``where`` names the file in messages."""
    return conform_rankings(df, where)[1]


def validate_pair(properties: pd.DataFrame, rankings: pd.DataFrame) -> ValidationReport:
    """Problems between the tables: ranking rows whose song has no properties to join (a
    warning), and songs that never chart (information: the model never sees them)."""
    # Arrow's hash lookups: pandas' isin and get_indexer walk Arrow strings in Python.
    known = pa.array(properties[KEY].dropna().astype("str").unique())
    ids = pa.array(rankings[KEY].astype("str"), from_pandas=True)
    unmatched = ~pc.is_in(ids, value_set=known).to_numpy(zero_copy_only=False)
    unmatched &= rankings[KEY].notna().to_numpy()
    findings = []
    n = int(unmatched.sum())
    if n:
        songs = rankings.loc[unmatched, KEY].nunique()
        findings.append(
            Finding(
                RANKINGS_TABLE,
                "warning",
                "unmatched",
                KEY,
                n,
                f"{n:,} ranking rows ({songs:,} songs) have no row in song_properties; "
                "the training table leaves them out.",
            )
        )
    charted = pc.is_in(known, value_set=pc.unique(ids.drop_null()))
    idle = len(known) - int(pc.sum(charted).as_py() or 0)
    if idle:
        findings.append(
            Finding(
                PROPERTIES_TABLE,
                "info",
                "never_charted",
                KEY,
                idle,
                f"{idle:,} songs of song_properties have no ranking row; no model sees them.",
            )
        )
    return ValidationReport(tuple(findings))


def clean(df: pd.DataFrame, table: str) -> Cleaned:
    """Drop the rows of ``table`` that have row-level problems; see ``ValidationReport.clean``."""
    conformed, report = _conform(df, table, None)
    report.raise_for_errors()
    drop = np.zeros(len(conformed), dtype=bool)
    for _finding, mask in _row_problems(conformed, table):
        if _finding.dropped_by_clean:
            drop |= mask
    kept = conformed.loc[~drop]
    for column, dtype in _COLUMNS[table].items():
        if dtype in ("int64", "bool") and kept[column].dtype != dtype:
            kept = kept.assign(**{column: kept[column].astype(dtype)})
    return Cleaned(kept.reset_index(drop=True), int(drop.sum()))


def _prefix(table: str, where: str | None) -> str:
    return f"{table} ({where})" if where else table


def _conform(
    df: pd.DataFrame, table: str, where: str | None
) -> tuple[pd.DataFrame, ValidationReport]:
    label = _prefix(table, where)
    columns = _COLUMNS[table]
    if not isinstance(df, pd.DataFrame):
        finding = Finding(
            table, "error", "not_a_table", None, 0, f"{label}: is not a table ({type(df)})."
        )
        return pd.DataFrame(columns=list(columns)), ValidationReport((finding,), {table: 0})
    findings: list[Finding] = []
    if len(df) == 0:
        findings.append(
            Finding(table, "error", "empty", None, 0, f"{label}: the table has no rows.")
        )
    missing = [c for c in columns if c not in df.columns]
    if missing:
        findings.append(
            Finding(
                table,
                "error",
                "missing_column",
                ", ".join(missing),
                len(missing),
                f"{label}: missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} (expected {', '.join(columns)}).",
            )
        )
    extra = [str(c) for c in df.columns if c not in columns]
    if extra:
        findings.append(
            Finding(
                table,
                "info",
                "extra_columns",
                ", ".join(extra),
                len(extra),
                f"{label}: ignored column{'s' if len(extra) > 1 else ''} {', '.join(extra)}.",
            )
        )
    out: dict[str, pd.Series] = {}
    for column, dtype in columns.items():
        if column not in df.columns:
            continue
        series, problem = _coerce(df[column], dtype, column)
        if column == LABEL and not problem:
            series = series.str.strip().str.upper().replace("", np.nan)
        if problem:
            findings.append(
                Finding(table, "error", "wrong_type", column, 0, f"{label}: column {problem}")
            )
        elif len(df) and column not in TEXT_COLUMNS and series.isna().all():
            # Cleaning would drop every row for it, and "no rows" would hide which column.
            findings.append(
                Finding(
                    table,
                    "error",
                    "empty_column",
                    column,
                    len(df),
                    f"{label}: column {column} has no values (all {len(df):,} are missing); "
                    "fill it in, or use tables that have it.",
                )
            )
        else:
            out[column] = series
    conformed = pd.DataFrame(out, index=df.index).reset_index(drop=True)
    conformed = conformed[[c for c in columns if c in conformed.columns]]
    # Row problems of the readable columns are reported even beside errors: every problem at once.
    drop = np.zeros(len(conformed), dtype=bool)
    for finding, mask in _row_problems(conformed, table, label):
        findings.append(finding)
        if finding.dropped_by_clean:
            drop |= mask
    droppable = int(drop.sum())
    report = ValidationReport(tuple(findings), {table: len(df)}, {table: droppable})
    return conformed, report


def _examples(values: pd.Series) -> str:
    shown = ", ".join(repr(v) for v in values.drop_duplicates().head(3).tolist())
    return f"e.g. {shown}"


def _coerce(series: pd.Series, dtype: str, column: str) -> tuple[pd.Series, str | None]:
    """The column as ``dtype`` (float if an integer column has gaps), or the reason it can't be."""
    present = series.notna()
    if dtype == "object":
        if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
            return series, None
        text = series.astype("str")
        return text.where(present), None
    if dtype == "datetime64[ns]":
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        if pd.api.types.is_datetime64_dtype(series.dtype):
            return series.astype("datetime64[ns]"), None
        parsed = pd.to_datetime(series, errors="coerce", format="mixed")
        bad = present & parsed.isna()
        if bad.any():
            return series, (
                f"{column} has {int(bad.sum()):,} values that are not dates "
                f"({_examples(series[bad])}); use dates such as 2024-05-31."
            )
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        return parsed.astype("datetime64[ns]"), None
    if dtype == "bool":
        if pd.api.types.is_bool_dtype(series.dtype):
            return series, None
        text = series.astype("str").str.strip().str.lower()
        value = pd.Series(pd.NA, index=series.index, dtype="boolean")
        value[text.isin(_TRUE) & present] = True
        value[text.isin(_FALSE) & present] = False
        bad = present & value.isna()
        if bad.any():
            return series, (
                f"{column} has {int(bad.sum()):,} values that are not true/false "
                f"({_examples(series[bad])})."
            )
        return (value.astype("bool") if present.all() else value), None
    # int64 and float64
    if dtype == "int64" and pd.api.types.is_integer_dtype(series.dtype) and present.all():
        return series.astype("int64"), None
    if dtype == "float64" and pd.api.types.is_float_dtype(series.dtype):
        return series.astype("float64"), None
    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype("float64")
    numbers = pd.to_numeric(series, errors="coerce")
    bad = present & numbers.isna()
    if bad.any():
        return series, (
            f"{column} has {int(bad.sum()):,} values that are not numbers "
            f"({_examples(series[bad])})."
        )
    numbers = numbers.astype("float64")
    if dtype == "int64":
        finite = numbers.dropna()
        fractional = finite != np.round(finite)
        if fractional.any():
            return series, (
                f"{column} must hold whole numbers but has {int(fractional.sum()):,} "
                f"fractional values ({_examples(finite[fractional])})."
            )
        if present.all():
            return numbers.astype("int64"), None
    return numbers, None


def _row_problems(
    df: pd.DataFrame, table: str, label: str | None = None
) -> Iterable[tuple[Finding, np.ndarray]]:
    """Each row-level problem with the mask of the rows it affects."""
    label = label or table
    for column in df.columns:
        mask = df[column].isna().to_numpy()
        n = int(mask.sum())
        if n:
            keep = column in TEXT_COLUMNS
            effect = "kept (no model reads it)" if keep else "dropped by cleaning"
            yield (
                Finding(
                    table,
                    "warning",
                    "missing_values",
                    column,
                    n,
                    f"{label}: {n:,} missing value{'s' if n > 1 else ''} in {column}; "
                    f"rows {effect}.",
                    dropped_by_clean=not keep,
                ),
                mask,
            )
    for column, spec in _RANGES[table].items():
        if column not in df.columns:
            continue
        values = df[column].astype("float64")
        mask = ((values < spec.low) | (values > spec.high)).to_numpy()
        n = int(mask.sum())
        if n:
            yield (
                Finding(
                    table,
                    "warning",
                    "out_of_range",
                    column,
                    n,
                    f"{label}: {n:,} row{'s' if n > 1 else ''} with {column} outside "
                    f"{_fmt(spec.low)}–{_fmt(spec.high)}{' ' + spec.unit if spec.unit else ''} "
                    f"({_describe_values(values[mask])}); dropped by cleaning.",
                    dropped_by_clean=True,
                ),
                mask,
            )
    if LABEL in df.columns:
        codes = df[LABEL]
        unique = codes.dropna().unique()
        unknown = [c for c in unique if not is_country_code(c)]
        if unknown:
            mask = codes.isin(unknown).to_numpy()
            n = int(mask.sum())
            shown = ", ".join(repr(c) for c in sorted(map(str, unknown))[:5])
            yield (
                Finding(
                    table,
                    "warning",
                    "unknown_country",
                    LABEL,
                    n,
                    f"{label}: {n:,} rows with a country that is not an ISO 3166-1 alpha-2 code "
                    f"({shown}); dropped by cleaning.",
                    dropped_by_clean=True,
                ),
                mask,
            )
    keys = [c for c in _DUPLICATE_KEYS[table] if c in df.columns]
    if len(keys) == len(_DUPLICATE_KEYS[table]):
        mask = _duplicated(df, keys)
        n = int(mask.sum())
        if n:
            what = "spotify_id" if len(keys) == 1 else "(spotify_id, country, snapshot_date)"
            yield (
                Finding(
                    table,
                    "warning",
                    "duplicate",
                    ", ".join(keys),
                    n,
                    f"{label}: {n:,} row{'s' if n > 1 else ''} repeat a {what} seen before; "
                    "the repeats are dropped by cleaning.",
                    dropped_by_clean=True,
                ),
                mask,
            )


def _duplicated(df: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Rows repeating an earlier key, via integer codes (fast on a million rows)."""
    combined = np.zeros(len(df), dtype=np.int64)
    for column in keys:
        codes, uniques = pd.factorize(df[column], use_na_sentinel=True)
        combined = combined * (len(uniques) + 1) + (codes.astype(np.int64) + 1)
    return pd.Series(combined).duplicated().to_numpy()


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


def _describe_values(values: pd.Series) -> str:
    counts = values.value_counts()
    if len(counts) <= 3:
        return ", ".join(f"{_fmt(v)}: {n:,}" for v, n in counts.items())
    return f"from {_fmt(values.min())} to {_fmt(values.max())}"
