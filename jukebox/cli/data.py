"""``python -m jukebox data``: create the current data set and show what it holds.

- ``data generate [--songs N] [--seed S]``: the synthetic data set, saved under JUKEBOX_HOME;
- ``data load --parquet P R | --kaggle CSV | --s3 P R``: another source made current;
- ``data show``: rows, songs, countries, date range, source, Bayes ceiling, validation findings;
- ``data version [-m MSG]``: version the current data set with DVC, validated and cleaned as
  ``data load`` does (or say it is unchanged; bad tables are refused with a sentence);
- ``data versions``: the versions, newest first; ``data diff A B``: what changed from A to B;
- ``data revert A``: a new version with A's content; ``data checkout A``: make A current.
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

    version = commands.add_parser("version", help="version the current data set with DVC")
    version.add_argument("-m", "--message", default=None, help="the commit message")
    version.set_defaults(func=run_version)

    versions = commands.add_parser("versions", help="list the data versions, newest first")
    versions.set_defaults(func=run_versions)

    diff = commands.add_parser("diff", help="what changed from data version A to B")
    diff.add_argument("a", metavar="A", help="a commit, or a table's or the data set's md5")
    diff.add_argument("b", metavar="B", help="a commit, or a table's or the data set's md5")
    diff.set_defaults(func=run_diff)

    revert = commands.add_parser("revert", help="make a new data version with A's content")
    revert.add_argument("ref", metavar="A", help="a commit, or a table's or the data set's md5")
    revert.add_argument(
        "--keep-current",
        action="store_true",
        help="leave the current data set as it is (by default it becomes A's content)",
    )
    revert.set_defaults(func=run_revert)

    checkout = commands.add_parser("checkout", help="make data version A the current data set")
    checkout.add_argument("ref", metavar="A", help="a commit, or a table's or the data set's md5")
    checkout.set_defaults(func=run_checkout)


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


def _versions_step(step):
    """Run ``step(settings)``; a user's error is printed as its sentence, exit status 1."""
    from jukebox.config import load_settings
    from jukebox.errors import JukeboxError

    try:
        return step(load_settings()), 0
    except JukeboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return None, 1


def format_version(version) -> str:
    """One line per version: commit, date, rows of each table, combined md5, message. The short
    commit and the 12-character md5 are both accepted wherever a version is asked for."""
    rows = "/".join(f"{t.rows:,}" if t.rows is not None else "?" for t in version.tables.values())
    return (
        f"{version.short}  {version.date:%Y-%m-%d %H:%M}  {rows:>17} rows  "
        f"md5 {version.md5[:12]}  {version.message}"
    )


def run_version(args: argparse.Namespace) -> int:
    from jukebox.data.versions import version_current

    version, status = _versions_step(lambda s: version_current(s, args.message))
    if status == 0:
        if version is None:
            print("The current data set is unchanged since the newest data version: no new one.")
        else:
            print(f"New data version {version.short}:")
            print(format_version(version))
            for table in version.tables.values():
                print(f"  {table.name}: md5 {table.md5}, {table.size:,} bytes")
    return status


def run_versions(args: argparse.Namespace) -> int:
    from jukebox.data.versions import list_versions, remotes

    found, status = _versions_step(lambda s: (list_versions(s), remotes(s)))
    if status == 0:
        versions, where = found
        if not versions:
            print("No data versions yet: make one with `python -m jukebox data version`.")
        else:
            print("commit   date              properties/rankings      md5           message")
            for version in versions:
                print(format_version(version))
        for name, url in where.items():
            print(f"remote {name}: {url}")
    return status


def run_diff(args: argparse.Namespace) -> int:
    from jukebox.data.versions import diff_versions

    diff, status = _versions_step(lambda s: diff_versions(s, args.a, args.b))
    if status == 0:
        print(diff.describe())
    return status


def run_revert(args: argparse.Namespace) -> int:
    from jukebox.data.versions import revert_to

    version, status = _versions_step(
        lambda s: revert_to(s, args.ref, make_current=not args.keep_current)
    )
    if status == 0:
        print(f"Data version {version.short} now holds that content:")
        print(format_version(version))
    return status


def run_checkout(args: argparse.Namespace) -> int:
    from jukebox.data.versions import checkout

    data, status = _versions_step(lambda s: (checkout(s, args.ref), s.data_dir))
    if status == 0:
        songs, where = data
        print(
            f"The current data set is now {songs.source}: {songs.n_songs:,} songs, "
            f"{len(songs.rankings):,} ranking rows; saved to {where}."
        )
    return status
