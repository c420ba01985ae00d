"""``python -m jukebox explain``: why a model predicts what it does for a song, and what if.

    python -m jukebox explain --song "Not Like Us" [--country TR]
    python -m jukebox explain --song "Not Like Us" --country TR --target 0.3 [--allow tempo,...]

Without ``--target``: why, for ``--country`` or else the song's five most likely countries,
in sentences and a table of every feature's points. With ``--target``: the smallest change to
the song (within the ranges of the training songs, changing only the ``--allow``ed features)
that makes ``--country`` reach it. These answer the workshop's two notebooks
(``4-metrics/5-SHAP.ipynb``, ``4-metrics/4-counterfactuals.ipynb``).

The model: ``--bundle DIR``; or ``--model NAME`` with ``--version V`` (a registered version,
fetched from object storage with every sha256 checked), its production version without
``--version``; or, with neither, the newest verified training under ``JUKEBOX_HOME/models``.
The song: words of its title or artists, or its Spotify id, searched in the current data set
and then in the workshop's real song list when it has been fetched.
Errors a user can cause print one sentence and exit with 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jukebox.config import load_settings
from jukebox.errors import JukeboxError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="why a model predicts a song's countries, and what change would reach a target",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--song", required=True, help="title or artist words, or a Spotify id")
    parser.add_argument("--country", help="an ISO country code, e.g. TR (default: the top 5)")
    parser.add_argument(
        "--target",
        type=float,
        help="what if: the smallest change that makes --country reach this (0.3 = 30 %%)",
    )
    parser.add_argument(
        "--allow",
        help="features the change may touch, comma-separated (default: all but is_explicit)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--bundle", type=Path, help="a model bundle directory")
    source.add_argument("--model", help="a registered model (its production version by default)")
    parser.add_argument("--version", help="the registered version (with --model)")
    parser.add_argument("--top", type=int, default=5, help="countries explained by default (5)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that `python -m jukebox --help` stays fast.
    from jukebox.data.countries import is_country_code
    from jukebox.explain.predictor import bundle_reference, predictor_from_bundle

    if args.target is not None and not args.country:
        return _fail("--target needs --country: say which country should reach it")
    if args.version and not args.model:
        return _fail("--version needs --model: say which registered model it is a version of")
    if args.country and not is_country_code(args.country):
        return _fail(
            f"“{args.country}” is not a country code: use two letters (ISO 3166-1), "
            "e.g. TR for Turkey"
        )
    settings = load_settings()
    try:
        bundle_dir, described = _choose_bundle(args, settings)
        predict = predictor_from_bundle(bundle_dir)
        reference = bundle_reference(bundle_dir)
        label, song = _find_song(args.song, settings)
        if args.country:
            predict.country_index(args.country)  # a country the model does not know: say so
        print(f"Song: {label}")
        print(f"Model: {described}")
        print()
        if args.target is None:
            _why(predict, song, reference, args)
        else:
            allowed = None if not args.allow else [f.strip() for f in args.allow.split(",")]
            _what_if(predict, song, reference, args.country, args.target, allowed)
    except JukeboxError as error:
        return _fail(str(error))
    return 0


def _why(predict, song, reference, args) -> None:
    from jukebox.data.countries import country_name
    from jukebox.explain.attributions import explain_song
    from jukebox.explain.words import why_headline, why_sentences, why_table

    countries = [args.country.upper()] if args.country else None
    attributions = explain_song(predict, song, reference, countries, top=args.top)
    for attribution in attributions:
        print(why_headline(attribution))
        for sentence in why_sentences(attribution, 3):
            print(f"  {sentence}")
        print()
    first = attributions[0]
    print(
        f"Every part, in points for {country_name(first.country)} (together they make the "
        "difference from a typical song):"
    )
    table = why_table(first)
    width = max(len(str(w)) for w in table["what"])
    print(f"{'what':<{width}}  {'this song':>10}  {'points':>6}")
    for what, value, points in table.itertuples(index=False):
        print(f"{what:<{width}}  {value:>10}  {points:>+6.1f}")


def _what_if(predict, song, reference, country, target, allowed) -> None:
    from jukebox.data.feature_words import NOUNS, say_value
    from jukebox.explain.counterfactuals import find_counterfactual
    from jukebox.explain.words import what_if_sentence

    cf = find_counterfactual(predict, song, country, target, reference, allowed)
    print(what_if_sentence(cf))
    if cf.changes:
        print()
        width = max(len(NOUNS[f]) for f in cf.changes)
        print(f"{'what':<{width}}  {'this song':>12}  {'proposal':>12}")
        for f, (before, after) in cf.changes.items():
            print(f"{NOUNS[f]:<{width}}  {say_value(f, before):>12}  {say_value(f, after):>12}")


def _choose_bundle(args: argparse.Namespace, settings) -> tuple[Path, str]:
    """The bundle to explain and how to name it: --bundle, a registered version, or the
    newest verified training."""
    from jukebox.explain.predictor import ExplainError

    if args.bundle:
        return args.bundle, str(args.bundle)
    if args.model:
        from jukebox.registry.fetch import fetch_bundle
        from jukebox.registry.versions import list_versions

        version = args.version
        if not version:
            production = [v for v in list_versions(args.model, settings) if v.production]
            if not production:
                raise ExplainError(
                    f"{args.model} has no production version: say which with --version"
                )
            version = production[0].version
        path = fetch_bundle(args.model, version, settings=settings)
        return path, f"{args.model} version {version}"
    from jukebox.model.runs import list_trainings

    trainings = [t for t in list_trainings(settings) if t.verification_passed]
    if not trainings:
        raise ExplainError(
            f"no verified training under {settings.models_dir}: train one "
            "(python -m jukebox train), or name a model with --bundle or --model"
        )
    return trainings[0].path, f"training {trainings[0].id} (the newest verified one)"


def _find_song(query: str, settings) -> tuple[str, dict[str, float]]:
    from jukebox.data.catalogue import (
        catalogue_path,
        data_set_is_synthetic,
        load_catalogue,
        real_songs_path,
    )
    from jukebox.explain.predictor import ExplainError
    from jukebox.explain.songs import find_song

    catalogues = [
        load_catalogue(path)
        for path in (catalogue_path(settings), real_songs_path(settings))
        if path.is_file()
    ]
    if not catalogues:
        raise ExplainError(
            "there is no song data set yet: make one (python -m jukebox data generate) "
            "to pick songs from"
        )
    return find_song(catalogues, query, invented=data_set_is_synthetic(settings))


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 2
