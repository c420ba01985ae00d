"""``python -m jukebox data``: create the current data set and show what it holds.

- ``data generate [--songs N] [--seed S]``: the synthetic data set, saved under JUKEBOX_HOME;
- ``data load --parquet P R | --kaggle CSV | --s3 P R``: another source made current;
- ``data show``: rows, songs, countries, date range, source, Bayes ceiling, validation findings.
"""

from __future__ import annotations

import argparse
import sys
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="create and inspect the current song data set")
    commands = parser.add_subparsers(dest="data_command", required=True)

    generate = commands.add_parser("generate", help="generate the synthetic data set and save it")
    generate.add_argument("--songs", type=int, default=None, help="number of songs (14,000)")
    generate.add_argument("--seed", type=int, default=0, help="random seed (0)")
    generate.add_argument("--days", type=int, default=None, help="chart days (314)")
    generate.set_defaults(func=run_generate)

    load = commands.add_parser("load", help="make another source the current data set")
    source = load.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--parquet", nargs=2, metavar=("PROPERTIES", "RANKINGS"), help="paths or http(s) URLs"
    )
    source.add_argument("--kaggle", metavar="CSV", help='the Kaggle "Top Spotify Songs" CSV')
    source.add_argument(
        "--s3", nargs=2, metavar=("PROPERTIES_KEY", "RANKINGS_KEY"), help="keys in the bucket"
    )
    load.set_defaults(func=run_load)

    show = commands.add_parser("show", help="summarise the current data set")
    show.set_defaults(func=run_show)


def run_generate(args: argparse.Namespace) -> int:
    from jukebox.config import load_settings
    from jukebox.data.store import save_current
    from jukebox.data.synthetic import DEFAULT_SONGS, N_DAYS, generate

    settings = load_settings()
    songs = DEFAULT_SONGS if args.songs is None else args.songs
    started = time.perf_counter()
    try:
        data = generate(songs, args.seed, n_days=args.days or N_DAYS)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    save_current(data, settings)
    print(
        f"Generated {data.n_songs:,} songs and {len(data.rankings):,} ranking rows "
        f"in {elapsed:.1f} s; saved to {settings.data_dir}."
    )
    return 0


def source_of(args: argparse.Namespace) -> tuple[str, dict]:
    """The source kind and parameters the flags name, as :func:`sources.load_source` takes them."""
    if args.parquet:
        return "parquet", {"properties": args.parquet[0], "rankings": args.parquet[1]}
    if args.kaggle:
        return "kaggle", {"file": args.kaggle}
    return "s3", {"properties": args.s3[0], "rankings": args.s3[1]}


def run_load(args: argparse.Namespace) -> int:
    from jukebox.config import load_settings
    from jukebox.data.sources import load_source
    from jukebox.data.store import adopt
    from jukebox.errors import JukeboxError

    settings = load_settings()
    try:
        data = adopt(load_source(*source_of(args), settings), settings)
    except JukeboxError as error:
        print(f"error: {error}", file=sys.stderr)
        print("The current data set is unchanged.", file=sys.stderr)
        return 1
    print(
        f"Loaded {data.source}: {len(data.rankings):,} ranking rows; saved to {settings.data_dir}."
    )
    return 0


def run_show(args: argparse.Namespace) -> int:
    from jukebox.config import load_settings
    from jukebox.data.store import NoDataError, load_current

    settings = load_settings()
    try:
        data = load_current(settings)
    except NoDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(format_summary(data))
    return 0


def format_summary(data) -> str:
    """The summary ``data show`` prints, as text."""
    facts = data.summary()
    bayes = facts["bayes_accuracy"]
    lines = [
        f"Source:        {facts['source']}",
        f"Ranking rows:  {facts['ranking_rows']:,}",
        f"Songs:         {facts['songs']:,}",
        f"Countries:     {facts['countries']}",
        f"Dates:         {facts['first_date']} to {facts['last_date']}",
        "Bayes ceiling: "
        + (
            f"{bayes:.1%} (the best accuracy any classifier can reach from the features)"
            if bayes
            else "unknown"
        ),
        "Validation:",
    ]
    findings = data.report.findings
    lines += [f"  {f.level}: {f.message}" for f in findings] or ["  no problems found"]
    return "\n".join(lines)
