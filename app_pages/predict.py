"""Predict: pick a song, ask a deployed model, and see where in the world it would chart."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import streamlit as st

from jukebox.config import load_settings
from jukebox.data import catalogue
from jukebox.data.countries import country_label, country_name
from jukebox.data.preprocessing import read_scaling_file
from jukebox.data.schema import FEATURES
from jukebox.data.sources import SourceError
from jukebox.errors import JukeboxError
from jukebox.explain import (
    DEFAULT_ALLOWED,
    bundle_reference,
    explain_song,
    find_counterfactual,
    predictor_from_bundle,
    realistic_ranges,
    what_if_sentence,
    why_headline,
    why_sentences,
)
from jukebox.registry.versions import list_all_versions
from jukebox.serving.client import split_model_url
from jukebox.serving.deploy import deploy_and_record, list_deployments, propose_name
from jukebox.serving.prediction import (
    Prediction,
    Target,
    answered_by_sentence,
    curl_command,
    deployment_targets,
    predict,
)
from jukebox.ui import song_words
from jukebox.ui.data import data_set_facts
from jukebox.ui.deploy import offer_title, version_to_offer
from jukebox.ui.explain import waterfall_figure, what_if_figure
from jukebox.ui.maps import show_map
from jukebox.ui.predict import (
    chance_sentence,
    comparison_bar_chart,
    comparison_table,
    headline,
    probability_bar_chart,
    probability_map,
    top_countries,
)
from jukebox.ui.song_words import DIALS, KEY_NAMES, PRESETS

settings = load_settings()

REAL_LIST, DATA_LIST = "Real songs (the workshop's list)", "This data set's invented songs"
DATA_SET_LIST = "This data set's songs"
REAL, PRESET, DESCRIBE = "🔎 Search for a song", "✨ A preset", "🎛️ Describe your own"
ONE, TWO_SONGS, TWO_MODELS = "One song", "Two songs", "One song on two models"
PASTE = "📋 Paste an address…"
DEPLOY_PROGRESS = {
    "starting": "Loading the model and checking its sha256…",
    "ready": "The server answers ready.",
}
TOP_N = 10
SEARCH_RESULTS = 50
SEARCH_PAUSE = "400ms"  # a typing pause this long searches: each search reruns the page
ANSWERS_KEPT = 8


class SongList(NamedTuple):
    """The songs one can pick: which list, its catalogue, labels, label positions, examples."""

    name: str
    songs: pd.DataFrame
    labels: list[str]
    positions: dict[str, int]
    examples: list[str]
    invented: bool


@st.cache_resource(show_spinner="Loading the song catalogue…")
def song_catalogue(path: str, modified: float) -> tuple:
    """The catalogue, its labels and label positions; read again only when the file changes."""
    songs = catalogue.load_catalogue(Path(path))
    labels = songs["label"].tolist()
    return songs, labels, {label: i for i, label in enumerate(labels)}


def load_songs() -> SongList | None:
    """The song list to pick from, or None (with a sentence) when there is none.

    A synthetic data set's songs are invented, so nobody finds a song they know among them:
    the page says so and offers the workshop's real song list in one click.
    """
    invented = catalogue.data_set_is_synthetic(settings)
    lists = {}
    if (real := catalogue.real_songs_path(settings)).is_file():
        lists[REAL_LIST] = real
    if (data := catalogue.catalogue_path(settings)).is_file():
        lists[DATA_LIST if invented else DATA_SET_LIST] = data
    name = next(iter(lists), None)
    if len(lists) > 1:
        name = st.segmented_control("Songs to search", list(lists), default=name, required=True,
                                    key="song_list")  # fmt: skip
    found = read_songs(name, lists[name]) if name else None
    if name is None:
        st.caption(
            "No songs to search yet: get the workshop's real songs here, load a data set on "
            "the Explore page, or start from a preset."
        )
    elif found and found.invented:
        examples = " or ".join(f"“{e}”" for e in found.examples[:2])
        st.caption(
            f"This data set is synthetic, so its song titles are invented and songs you know "
            f"are not among them: search for {examples}, or get the workshop's real songs."
        )
    if REAL_LIST not in lists and (name is None or found is None or found.invented):
        offer_real_songs()
    return found


def read_songs(name: str, path: Path) -> SongList | None:
    try:
        songs, labels, positions = song_catalogue(str(path), path.stat().st_mtime)
    except (OSError, ValueError) as error:
        st.warning(
            f"The song list cannot be read ({error}), so start from a preset or describe "
            "a song; loading the data again on the Explore page fixes it."
        )
        return None
    invented = name == DATA_LIST  # well-known titles found there would be invented namesakes
    examples = catalogue.search_examples(songs, prefer=() if invented else catalogue.WELL_KNOWN)
    return SongList(name, songs, labels, positions, examples, invented)


def offer_real_songs() -> None:
    """One click fetches the workshop's real song list; offline, one sentence and no loss."""
    if st.button("Get the workshop's real songs (about 14,000, a 1.3 MB download from "
                 "github.com)", key="get_real_songs"):  # fmt: skip
        with st.spinner("Downloading the workshop's real song list…"):
            try:
                catalogue.fetch_real_songs(settings)
            except SourceError as error:
                st.session_state["real_songs_error"] = str(error)
            else:
                st.session_state.pop("real_songs_error", None)
                st.rerun()
    if error := st.session_state.get("real_songs_error"):
        st.warning(error)


def choose_song(slot: str, songs_found: SongList | None) -> tuple[str, dict] | None:
    """A song from the catalogue, a preset or the dials; returns its title and raw features."""
    sources = [REAL, PRESET, DESCRIBE] if songs_found else [PRESET, DESCRIBE]
    source = st.segmented_control(
        "Start from", sources, default=sources[0], required=True, key=f"{slot}_source"
    )
    if source == REAL:
        songs, labels, positions = songs_found.songs, songs_found.labels, songs_found.positions
        wanted = st.query_params.get("song") if slot == "a" else None
        if wanted and f"{slot}_query" not in st.session_state:
            st.session_state[f"{slot}_query"] = wanted
        examples = songs_found.examples
        query = st.text_input(
            "Search by title or artist",
            placeholder="e.g. " + ", or ".join(examples[:2]) if examples else None,
            help="The best match is picked as you type; open the list below for the others.",
            live=SEARCH_PAUSE,
            key=f"{slot}_query",
        ).strip()
        placeholder = f"Type to search {len(labels):,} songs by name or artist…"
        key = f"{slot}_song"
        if query:
            # The library's ranking, kept: the list offers the best matches first.
            found = catalogue.search_songs(songs, query, limit=SEARCH_RESULTS)["label"].tolist()
            if not found:
                st.caption(song_words.no_match_sentence(query, examples, songs_found.invented))
                return None
            # The best match is chosen as the query changes (a new search, or another list),
            # so typing alone makes a song ready to ask about; a song picked from the list
            # afterwards stays picked.
            searched = (songs_found.name, query)
            if st.session_state.get(f"{slot}_searched") != searched or (
                st.session_state.get(key) not in found
            ):
                st.session_state[key] = found[0]
                st.session_state[f"{slot}_searched"] = searched
            label = st.selectbox("Song or artist", found, placeholder=placeholder, key=key)
        else:
            if st.session_state.get(key) not in positions:  # e.g. a song of the other list
                st.session_state[key] = None
            label = st.selectbox("Song or artist", labels, placeholder=placeholder,
                                 filter_mode="contains", key=key)  # fmt: skip
        st.caption(catalogue.catalogue_sentence(songs))
        if label is None:
            st.caption("Search above, or open the list and type, then pick a song.")
            return None
        title, start = label, catalogue.song_features(songs.iloc[positions[label]])
    elif source == PRESET:
        name = st.pills("Preset", list(PRESETS), default="Latin dance hit", required=True,
                        key=f"{slot}_preset")  # fmt: skip
        st.caption(PRESETS[name].description)
        title, start = name, dict(PRESETS[name].features)
    else:
        title, start = "Your song", dict(PRESETS["Typical chart song"].features)
    start_id = f"{source}:{title}"

    keys = {feature: f"{slot}_{feature}" for feature in DIALS}
    if st.session_state.get(f"{slot}_loaded") != start_id or any(
        k not in st.session_state for k in keys.values()
    ):
        for feature, value in song_words.dial_values(start).items():
            st.session_state[keys[feature]] = value
        st.session_state[f"{slot}_loaded"] = start_id

    with st.expander("🎛️ Adjust the sound in plain words", expanded=source == DESCRIBE):
        columns = st.columns(2)
        for i, dial in enumerate(DIALS.values()):
            with columns[i % 2]:
                draw_dial(dial, keys[dial.feature])
    song = song_words.describe_song({f: st.session_state[k] for f, k in keys.items()}, start)
    if song != start and source != DESCRIBE:
        title = f"{title} (adjusted)"
    st.caption(f"**{title}** · {song_words.song_summary(song)}")
    return title, song


def draw_dial(dial: song_words.Dial, key: str) -> None:
    if dial.kind == "percent":
        help_text = f"{dial.help} 0 % = {dial.ends[0]}, 100 % = {dial.ends[1]}."
        st.slider(dial.question, 0, 100, step=1, format="%d %%", help=help_text, key=key)
    elif dial.kind == "seconds":
        st.slider(f"{dial.question} (seconds; 180 s = 3:00)", int(dial.low), int(dial.high),
                  step=1, format="%d s", help=dial.help, key=key)  # fmt: skip
    elif dial.kind == "number":
        fmt = f"%.0f {dial.unit}" if dial.step >= 1 else f"%.1f {dial.unit}"
        st.slider(f"{dial.question} ({dial.unit_label})", dial.low, dial.high, step=dial.step,
                  format=fmt, help=dial.help, key=key)  # fmt: skip
    elif dial.kind == "key":
        st.select_slider(dial.question, options=list(KEY_NAMES.values()), help=dial.help, key=key)
    elif dial.kind == "mode":
        st.radio(dial.question, ["major", "minor"], horizontal=True, help=dial.help, key=key)
    else:
        st.toggle(dial.question, help=dial.help, key=key)


def offer_deployment() -> None:
    """Nothing answers yet: offer the one action that helps, deploying the production version
    (or the newest verified one) from here."""
    if not settings.registry_is_remote and not settings.registry_db.exists():
        st.info(
            "No model is deployed yet, and none is registered: train one, export it and "
            "register it, then come back here to deploy it in one click."
        )
        st.page_link("app_pages/train.py", label="Train a model", icon="🏋️")
        return
    try:
        with st.spinner("Looking for a registered model…"):
            offer = version_to_offer(list_all_versions(settings))
    except JukeboxError as error:
        st.warning(f"No model is deployed yet, and the model registry cannot be asked: {error}")
        return
    if offer is None:
        st.info(
            "No model is deployed yet, and no registered version passed the check that its "
            "packaged form answers as trained: register a checked one on the Registry page, or "
            "deploy one on the Deploy page."
        )
        st.page_link("app_pages/deploy.py", label="Deploy a model", icon="🚀")
        return
    title = offer_title(offer)
    st.info(f"No model is deployed yet. Deploy {title} to ask it where a song would chart.")
    if st.button(f"🚀 Deploy {title}", type="primary", key="deploy_offer"):
        taken = [d.name for d in list_deployments(settings)]
        name = propose_name(offer.model, offer.version, taken)
        with st.status(f"Starting {name} with {title}…", expanded=True) as box:
            try:
                deploy_and_record(
                    settings, name, model=offer.model, version=offer.version,
                    on_progress=lambda state: box.write(DEPLOY_PROGRESS.get(state, state)),
                )  # fmt: skip
            except JukeboxError as error:
                box.update(label=f"{name} was not deployed", state="error")
                st.error(str(error))
                return
            box.update(label=f"{name} is ready", state="complete")
        st.rerun()


def choose_target(slot: str, deployed: list[Target]) -> Target | None:
    """A deployment of the Deploy page, or any Open Inference Protocol address pasted here."""
    if not deployed:
        with st.expander("Another server…"):
            return paste_address(slot, deployed)
    options = [t.title for t in deployed] + [PASTE]
    # Comparing two deployments: the second column starts on the second one.
    index = 1 if slot == "b" and len(deployed) > 1 else 0
    choice = st.selectbox(
        "Model endpoint",
        options,
        index=index,
        help="Which running model answers: its version, and the name it was deployed under "
        "(the Deploy page shows its web address).",
        key=f"{slot}_target",
    )
    if choice != PASTE:
        target = deployed[options.index(choice)]
        if target.auth and not target.token:
            token = st.text_input(
                "Access key (bearer token)",
                type="password",
                help="This deployment wants the access key it was deployed with.",
                key=f"{slot}_deployment_token",
            )
            target = replace(target, token=token or None)
        return target
    return paste_address(slot, deployed)


def paste_address(slot: str, deployed: list[Target]) -> Target | None:
    """Any Open Inference Protocol address: the technical form."""
    address = st.text_input(
        "Address of the inference server",
        placeholder="http://127.0.0.1:8080  or  https://my-model.apps.example.com/v2/models/jukebox",
        help="A local Jukebox server, KServe or OpenVINO Model Server: anything that speaks the "
        "Open Inference Protocol v2 over REST.",
        key=f"{slot}_url",
    )
    name_column, version_column = st.columns(2)
    model_name = name_column.text_input(
        "Model name", placeholder="e.g. jukebox", key=f"{slot}_model"
    )
    version = version_column.text_input("Version (optional)", key=f"{slot}_version")
    token = st.text_input(
        "Access key, a bearer token (optional)",
        type="password",
        help="Sent as 'Authorization: Bearer …' to servers that need one; never shown again.",
        key=f"{slot}_token",
    )
    upload = st.file_uploader(
        "Model from elsewhere that expects scaled inputs? Its scaling, as JSON (optional)",
        # Any type is let through so that a pickle meets our refusal, which says what to do.
        type=None,
        help="Models of this project take raw values. A model whose inputs must be min-max "
        'scaled first gets them scaled by this file: {"minima": [...], "maxima": [...]} in '
        "feature order. Pickled scalers are never opened.",
        key=f"{slot}_scaling",
    )
    if not address.strip():
        st.caption("Paste an address to ask a model that is not on the Deploy page.")
        return None
    try:
        url, pasted_model, pasted_version = split_model_url(address)
    except JukeboxError as error:
        st.error(str(error))
        return None
    model_name = model_name.strip() or pasted_model
    if not model_name:
        st.warning("Which model on that server? Enter its model name (e.g. jukebox).")
        return None
    scaling = None
    if upload is not None:
        try:
            scaling = read_scaling_file(upload.getvalue(), name=upload.name)
        except JukeboxError as error:
            st.error(f"{upload.name}: {error}")
            return None
        st.caption("Inputs will be scaled with the uploaded minima and maxima before sending.")
    # A pasted address of a deployment listed here still gets its training ranges and labels.
    known = next((t for t in deployed if t.url == url and t.model_name == model_name), None)
    return Target(
        url=url,
        model_name=model_name,
        version=version.strip() or pasted_version,
        token=token or None,
        training=scaling or (known.training if known else None),
        scaling=scaling,
        labels=known.labels if known else None,
    )


def ask(target: Target, songs: list[dict], fresh: bool) -> Prediction | None:
    """One request, or the recent answer to the same question unless ``fresh`` (a click on
    Predict asks again); errors are shown as the client's sentence, never a traceback."""
    question = repr((target, songs, hash(target.token)))
    cache = st.session_state.setdefault("predict_answers", {})
    if fresh or question not in cache:
        try:
            with st.spinner(f"Asking {target.title}…"):
                cache[question] = predict(target, songs)
        except JukeboxError as error:
            st.error(f"**{target.title}** did not answer: {error}")
            return None
        while len(cache) > ANSWERS_KEPT:  # dicts keep insertion order: drop the oldest
            cache.pop(next(iter(cache)))
    answer = cache[question]
    for note in answer.notes:
        st.info(note)
    if said := answered_by_sentence(answer):  # a canary's deployment answers with two versions
        st.caption(said)
    return answer


def show_flags(target: Target, songs: list[tuple[str, dict]]) -> None:
    """Say which values the model never saw in training, or that nobody knows."""
    if target.training is None:
        st.caption(
            f"The training ranges of {target.title} are unknown here, so values it never saw "
            "cannot be flagged."
        )
        return
    for title, song in songs:
        flags = target.training.range_flags(song)
        if flags:
            st.warning(
                f"**{title}** has values outside what {target.title} learnt from:\n"
                + "\n".join(f"- {song_words.flag_sentence(flag)}" for flag in flags)
            )


def show_context(probabilities: dict) -> None:
    """The sentence that makes a 10-20 % top probability make sense (issue 17)."""
    facts = data_set_facts(settings) if catalogue.data_set_is_synthetic(settings) else None
    st.caption(chance_sentence(probabilities, facts.bayes_accuracy if facts else None))


def show_answer(
    probabilities: dict, key: str, *, compact: bool = False, top: float | None = None
) -> None:
    """Headline, top countries, map, and (unless ``compact``) a bar over every country."""
    best = top_countries(probabilities, 5 if compact else TOP_N)
    st.markdown(f"#### {headline(probabilities)}")
    if not compact:
        show_context(probabilities)
    table, world = (st.container(), st.container()) if compact else st.columns([2, 3])
    table.dataframe(
        best.assign(chance=best["probability"] * 100)[["rank", "country", "chance"]],
        column_config={
            "rank": st.column_config.NumberColumn("#", width="small"),
            # Wide enough for "Dominican Republic (DO)" in half the page (two answers).
            "country": st.column_config.TextColumn("Country", width="medium"),
            "chance": st.column_config.ProgressColumn(
                "Probability", format="%.1f %%", min_value=0, max_value=100, width="small"
            ),
        },
        hide_index=True,
        key=f"top_{key}",
    )
    with world:
        show_map(probability_map(probabilities, top=top), key=f"map_{key}")
    if not compact:
        st.plotly_chart(
            probability_bar_chart(probabilities, title="Every country the model knows"),
            key=f"bars_{key}",
            width="stretch",
        )


def show_comparison(left: dict, right: dict, labels: tuple[str, str], key: str) -> None:
    """Two answers in one chart, and every country side by side with the difference."""
    st.plotly_chart(
        comparison_bar_chart(
            left, right, labels, title="Side by side: the top countries of either"
        ),
        key=f"compare_{key}",
        width="stretch",
    )
    with st.expander("Every country side by side"):
        table = comparison_table(left, right, labels)
        percent = st.column_config.NumberColumn(format="%.1f %%")
        st.dataframe(
            table.drop(columns="code").assign(
                **{c: table[c] * 100 for c in (*labels, "difference")}
            ),
            column_config={labels[0]: percent, labels[1]: percent, "difference": percent},
            hide_index=True,
            key=f"table_{key}",
        )


@st.cache_resource(show_spinner="Reading the model and the songs it learned from…", max_entries=4)
def explainer(bundle: str, modified: float) -> tuple:
    """The model as a batched function, its training songs, and their realistic ranges; once
    per bundle (``modified`` makes a rewritten bundle read again)."""
    reference = bundle_reference(bundle)
    return predictor_from_bundle(bundle), reference, realistic_ranges(reference)


@st.cache_data(show_spinner="Working out why…", max_entries=32)
def why(bundle: str, modified: float, song: tuple, country: str):
    model, reference, _ = explainer(bundle, modified)
    return explain_song(model, dict(song), reference, countries=[country])[0]


def explain_answer(target: Target, song: dict, probabilities: dict) -> None:
    """Why the model answers as it does for this song, and what would change its answer: in
    words and one chart each, from the bundle the deployment serves."""
    st.subheader("4 · Why, and what would change it")
    if not target.bundle:
        st.caption(
            "Explanations read the model's own files, so they are shown for models deployed "
            "here, not for a pasted address."
        )
        return
    modified = Path(target.bundle, "model.onnx").stat().st_mtime
    try:
        model, reference, ranges = explainer(target.bundle, modified)
    except JukeboxError as error:
        st.caption(f"No explanation for {target.title}: {error}")
        return
    ranked = list(top_countries(probabilities, 5)["code"])
    song_key = tuple(sorted(song.items()))
    why_tab, what_if_tab = st.tabs(["🤔 Why these countries?", "🎯 What would it take?"])
    with why_tab:
        country = st.selectbox(
            "Why this country?", ranked, format_func=country_label, key="why_country"
        )
        attribution = why(target.bundle, modified, song_key, country)
        st.markdown(f"**{why_headline(attribution)}**")
        st.markdown("\n".join(f"- {sentence}" for sentence in why_sentences(attribution)))
        st.plotly_chart(waterfall_figure(attribution), key="why_chart", width="stretch")
    with what_if_tab:
        others = sorted(model.labels, key=country_name)
        wanted = next((c for c in others if c not in ranked[:1]), others[0])
        left, right = st.columns([2, 1])
        country = left.selectbox(
            "What would it take to chart in…", others, index=others.index(wanted),
            format_func=country_label, key="what_if_country",
        )  # fmt: skip
        now = probabilities.get(country, 0.0)
        goal = right.number_input(
            "…with a chance of at least (%)", 1, 99, min(99, int(now * 100) + 5), key="what_if_goal"
        )
        allowed = st.multiselect(
            "Which dials may move?", list(FEATURES), default=list(DEFAULT_ALLOWED),
            format_func=lambda f: DIALS[f].question, key="what_if_allowed",
        )  # fmt: skip
        asked = (target.bundle, song_key, country, goal, tuple(allowed))
        if st.button("Find the smallest change", key="what_if_go", disabled=not allowed):
            with st.spinner("Trying changes to the song…"):
                found = find_counterfactual(
                    model, song, country, goal / 100, reference, allowed=allowed, ranges=ranges
                )
            st.session_state["what_if"] = (asked, found)
        if st.session_state.get("what_if", (None,))[0] == asked:
            show_what_if(target, st.session_state["what_if"][1], ranges)


def show_what_if(target: Target, found, ranges) -> None:
    """The proposal in words and as dials moving, confirmed by asking the deployment itself."""
    (st.success if found.reached else st.warning)(what_if_sentence(found))
    if not found.reached:
        return
    st.plotly_chart(what_if_figure(found, ranges), key="what_if_chart", width="stretch")
    try:
        check = predict(target, [found.proposal]).probabilities[0].get(found.country, 0.0)
    except JukeboxError as error:
        st.caption(f"The deployment could not be asked to confirm it: {error}")
        return
    st.caption(
        f"Asked {target.title} with the changed song: {check:.1%} for "
        f"{country_name(found.country)}."
    )


def show_wire(answer: Prediction, key: str) -> None:
    with st.expander(
        f"🧾 For developers: what was sent to {answer.target.title} and what came back (JSON)"
    ):
        st.caption(f"POST {answer.infer_url} · answered in {answer.elapsed_ms:.0f} ms")
        st.code(json.dumps(answer.request, indent=2), language="json")
        st.code(json.dumps(answer.response, indent=2), language="json")
        st.caption("The same request from a terminal:")
        st.code(
            curl_command(answer.infer_url, answer.request, answer.target.token is not None),
            language="bash",
        )


# ------------------------------------------------------------------------------------------------

st.title("🌍 Where will this song chart?")
st.markdown(
    "Pick a song, ask a trained model, and see in which countries' Spotify charts it is most "
    "likely to appear. The model has only ever seen a song's sound (how danceable, how loud, "
    "how fast…), never its artist or its lyrics."
)

if catalogue.data_set_is_synthetic(settings):
    st.caption(
        "ℹ️ The current data set is synthetic: its countries' tastes are invented, so a preset's "
        "name (say, *K-pop banger*) says nothing about where this data's charts would place it."
    )

mode = st.segmented_control(
    "What would you like to see?", [ONE, TWO_SONGS, TWO_MODELS], default=ONE, required=True,
    key="compare",
)  # fmt: skip

st.subheader("1 · Choose a song")
songs_found = load_songs()
if mode == TWO_SONGS:
    left, right = st.columns(2)
    with left:
        song_a = choose_song("a", songs_found)
    with right:
        song_b = choose_song("b", songs_found)
else:
    song_a, song_b = choose_song("a", songs_found), None

st.subheader("2 · Choose a model")
deployed = deployment_targets(settings)
if not deployed:
    offer_deployment()
if mode == TWO_MODELS:
    left, right = st.columns(2)
    with left:
        target_a = choose_target("a", deployed)
    with right:
        target_b = choose_target("b", deployed)
else:
    target_a, target_b = choose_target("a", deployed), None

st.subheader("3 · See where it charts")
songs_ready = song_a is not None and (mode != TWO_SONGS or song_b is not None)
targets_ready = target_a is not None and (mode != TWO_MODELS or target_b is not None)
clicked = st.button("🔮 Predict", type="primary", disabled=not (songs_ready and targets_ready),
                    key="predict")  # fmt: skip
if clicked:
    st.session_state["predict_live"] = True
if not songs_ready:
    st.caption("Choose a song first.")
elif not targets_ready:
    st.caption("Choose a model endpoint first.")
elif st.session_state.get("predict_live"):
    if mode == ONE:
        answer = ask(target_a, [song_a[1]], clicked)
        if answer:
            show_flags(target_a, [song_a])
            show_answer(answer.probabilities[0], "one")
            show_wire(answer, "one")
            explain_answer(target_a, song_a[1], answer.probabilities[0])
    elif mode == TWO_SONGS:
        # Both songs travel in one request of two rows, as a batch client would send them.
        answer = ask(target_a, [song_a[1], song_b[1]], clicked)
        if answer:
            labels = ("A: " + song_a[0], "B: " + song_b[0])
            if labels[0][3:] == labels[1][3:]:
                labels = (labels[0] + " (left)", labels[1] + " (right)")
            show_flags(target_a, [song_a, song_b])
            top = max(max(p.values()) for p in answer.probabilities)
            columns = st.columns(2)
            for column, label, probabilities, key in zip(
                columns, labels, answer.probabilities, ("a", "b"), strict=True
            ):
                with column:
                    st.markdown(f"**{label}**")
                    show_answer(probabilities, f"song_{key}", compact=True, top=top)
            show_context(answer.probabilities[0])
            show_comparison(*answer.probabilities, labels, "songs")
            with st.expander("The two songs in plain words"):
                st.dataframe(song_words.feature_table({labels[0]: song_a[1], labels[1]: song_b[1]}))
            show_wire(answer, "two_songs")
    else:
        answers = [ask(target_a, [song_a[1]], clicked), ask(target_b, [song_a[1]], clicked)]
        if all(answers):
            labels = ("A: " + target_a.title, "B: " + target_b.title)
            if labels[0] == labels[1]:
                labels = (labels[0] + " (left)", labels[1] + " (right)")
            top = max(max(a.probabilities[0].values()) for a in answers)
            columns = st.columns(2)
            for column, label, answer, target, key in zip(
                columns, labels, answers, (target_a, target_b), ("a", "b"), strict=True
            ):
                with column:
                    st.markdown(f"**{label}**")
                    show_flags(target, [song_a])
                    show_answer(answer.probabilities[0], f"model_{key}", compact=True, top=top)
            show_context(answers[0].probabilities[0])
            show_comparison(
                answers[0].probabilities[0], answers[1].probabilities[0], labels, "models"
            )
            for answer, key in zip(answers, ("a", "b"), strict=True):
                show_wire(answer, f"model_{key}")
else:
    st.caption("Press Predict to ask the model; the answer then follows every change you make.")
