"""Data versions: the history of the song data kept by DVC, what changed between two versions,
which models learnt from each, and the loop from new data to a new model version.

New data goes in through the data pipeline (extract → transform → validate → load and version);
with continuous training on, each new version starts one training run, gated on production.
"""

from __future__ import annotations

import streamlit as st

from jukebox.config import load_settings
from jukebox.data import changes
from jukebox.data.schema import FEATURES
from jukebox.data.sources import load_source
from jukebox.data.store import load_current
from jukebox.data.versions import (
    find_version,
    list_versions,
    revert_to,
    version_current,
)
from jukebox.errors import JukeboxError
from jukebox.pipelines import automation, local
from jukebox.pipelines.params import DataRunParams, RunParams
from jukebox.ui import data_versions as ui
from jukebox.ui.data import file_pickers

REVERTED = "data_versions_reverted"  # what the last revert did, said once after its rerun

settings = load_settings()
st.title("Data versions")
st.caption(
    "Every version of the song data, kept by DVC in a git repository: what changed, which "
    "models learnt from it, and new data on its way to a new model."
)


@st.cache_data(ttl=10, show_spinner=False)
def trained_on(_settings, repo_key: str) -> dict[str, list[str]]:
    """Data version (commit) -> the registered model versions that learnt from it."""
    from jukebox.registry.versions import list_all_versions

    trained: dict[str, list[str]] = {}
    try:
        for version in list_all_versions(_settings):
            if version.data_commit:
                trained.setdefault(version.data_commit, []).append(
                    f"{version.model} v{version.version}"
                )
    except JukeboxError:
        pass  # the registry is unreachable: the history is still worth showing
    return trained


def start_data_run(data, message: str) -> None:
    """Hand ``data`` to the data pipeline in the background, and say where to watch it."""
    folder = local.stage_data(settings, data)
    params = DataRunParams(
        source="directory", source_options={"path": str(folder)}, message=message
    )
    run = local.start_in_background(settings, params)
    st.success(
        f"The data pipeline runs ([run {run.id}](/pipelines?run={run.id})): a new data version "
        "when the data changed, then, with continuous training on, a training run for it."
    )


try:
    versions = list_versions(settings)
except JukeboxError as error:
    st.error(str(error))
    st.stop()

# --- 1. History ---------------------------------------------------------------------------------
st.subheader("1 · History")
if done := st.session_state.pop(REVERTED, None):
    st.success(done)
if not versions:
    st.info(
        "No data version yet: version the current data set below (or `python -m jukebox data "
        "version`), or bring new data in with the data pipeline."
    )
else:
    trained = trained_on(settings, versions[0].commit)
    st.plotly_chart(ui.timeline_figure(versions, trained), key="timeline")
    st.dataframe(ui.versions_table(versions, trained), hide_index=True)
    # Older versions whose content differs from the newest's: reverting to the others is moot.
    older = {v.commit: v for v in versions[1:] if v.md5 != versions[0].md5}
    if older:
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        target = older[
            left.selectbox(
                "Make an older version current again",
                list(older),
                format_func=lambda commit: ui.version_label(older[commit]),
                help="A new version with its content; the history keeps every version.",
            )
        ]
        if right.button("Revert to it", key="revert"):
            try:
                with st.spinner(f"Reverting to {target.short}…"):
                    made = revert_to(settings, target.commit)
            except JukeboxError as error:
                st.error(str(error))
            else:
                st.session_state[REVERTED] = ui.revert_sentence(target, made, versions[0])
                st.rerun()

# --- 2. What changed ----------------------------------------------------------------------------
if len(versions) >= 2:
    st.subheader("2 · What changed")
    by_commit = {v.commit: v for v in versions}
    commits = list(by_commit)
    # A link from a model version ("trained on data version …") opens that version's changes;
    # it may name the version in any form the app prints (commit, short commit, md5).
    try:
        linked = find_version(versions, st.query_params.get("version") or "").commit
    except JukeboxError:
        linked = None
    newest = commits.index(linked) if linked in commits else 0
    named = lambda commit: ui.version_label(by_commit[commit])  # noqa: E731
    left, right = st.columns(2)
    before = left.selectbox(
        "From", commits, index=min(newest + 1, len(commits) - 1), format_func=named
    )
    after = right.selectbox("To", commits, index=newest, format_func=named)
    try:
        with st.spinner("Reading both versions (once: versions never change)…"):
            diff = ui.version_diff(settings, by_commit[before], by_commit[after])
    except JukeboxError as error:
        st.error(str(error))
    else:
        ui.read_ahead(settings, versions)  # after the first answer, not before it
        for column, (label, value) in zip(st.columns(5), ui.diff_counts(diff).items(), strict=True):
            column.metric(label, value)
        if len(diff.songs_changed):
            st.markdown("**Changed songs**")
            st.dataframe(diff.songs_changed.head(500), hide_index=True)
        shifts = ui.shift_table(diff)
        feature = st.selectbox("Feature", list(FEATURES), index=FEATURES.index(shifts.feature[0]))
        st.plotly_chart(ui.feature_overlay(diff, feature), key="overlay")
        with st.expander("Every feature's shift"):
            st.dataframe(shifts, hide_index=True)

# --- 3. New data --------------------------------------------------------------------------------
st.subheader("3 · New data")
st.caption(
    "New data goes through the data pipeline: it is validated first, and a file that does not "
    "validate makes no version and leaves the current one as it is."
)
upload_tab, simulate_tab, current_tab = st.tabs(
    ["Upload", "Simulate a change", "Version the current data set"]
)
with upload_tab:
    kind = st.radio("Files", ["Parquet (two tables)", "Kaggle CSV"], horizontal=True)
    files = file_pickers("kaggle" if kind == "Kaggle CSV" else "upload")
    message = st.text_input("What is new", "uploaded data", key="upload_message")
    if st.button("Version it", disabled=not all(files.values())):
        try:
            data = load_source("kaggle" if "file" in files else "upload", files, settings)
            start_data_run(data, message)
        except JukeboxError as error:
            st.error(f"No new version: {error} The current data set stays.")
with simulate_tab:
    st.caption(
        "Each change keeps what real charts keep: every daily top 50 full, songs entering at the "
        "data's own rate, nothing removed by an append. It starts from the current data set "
        "without the rows validation flags, so the new version differs only by the change."
    )
    change = st.radio("Change", list(changes.CHANGES), horizontal=True)
    cols = st.columns(3)
    feature = ""
    if change == changes.CHANGES[0]:
        amount = cols[0].number_input(
            "Songs", 1, 5_000, 200, step=50, help="new chart days follow, until they all charted"
        )
    elif change == changes.CHANGES[1]:
        amount = cols[0].number_input(
            "Share of chart rows", 0.01, 0.9, 0.1, step=0.05, help="whole daily charts go"
        )
    else:
        feature = cols[0].selectbox(
            "Feature", list(changes.SHIFTABLE), index=changes.SHIFTABLE.index("energy")
        )
        amount = cols[1].number_input("Shift", -1e6, 1e6, 0.1, step=0.05)
    seed = cols[2].number_input("Seed", 0, 2**31 - 1, 1)
    if st.button("Make the change and version it"):
        try:
            with st.spinner("Changing the current data set…"):
                changed = changes.simulate(
                    load_current(settings), change, amount, int(seed), feature
                )
            start_data_run(changed, changes.what_changed(changed))
        except (JukeboxError, ValueError) as error:
            st.error(str(error))
with current_tab:
    message = st.text_input("Message", "the current data set", key="current_message")
    if st.button("Version the current data set"):
        try:
            with st.spinner("Versioning with DVC…"):
                made = version_current(settings, message)
            if made is None:
                st.info("The current data set is already the newest version: nothing to do.")
            else:
                st.success(f"New data version {made.short}.")
                st.rerun()
        except JukeboxError as error:
            st.error(str(error))

# --- 4. The loop --------------------------------------------------------------------------------
st.subheader("4 · Continuous training and schedules")
state = automation.read_state(settings)
job = automation.running_job(settings)
waiting = automation.versions_to_train(state, [v.commit for v in versions])
left, right = st.columns([1, 2])
on = left.toggle(
    "Continuous training",
    value=state.enabled,
    help="each new data version starts one training run for it, gated on production",
)
from_now_on = False
if not state.enabled and waiting:
    from_now_on = left.checkbox(
        "From now on",
        help="skip the versions made while it was off: train only those made from now on",
    )
    right.caption(ui.waiting_caption(len(waiting)))
if on != state.enabled:
    try:
        if on:
            automation.switch_on(settings, from_now_on=from_now_on)
        else:
            automation.switch_off(settings)
    except JukeboxError as error:
        st.error(str(error))
    st.rerun()
if state.enabled:
    right.markdown(
        f"{'🟢 watching' if job else '🔴 not running'} · "
        f"{len(state.trained)} version(s) trained on so far"
        + (f" · last problem: {state.last_error}" if state.last_error else "")
    )
for commit, run_id in list(state.trained.items())[-5:]:
    right.caption(f"data {commit[:7]} → [run {run_id}](/pipelines?run={run_id})")

if state.schedules:
    st.dataframe(ui.schedules_table(state.schedules), hide_index=True)
with st.form("schedule"):
    cols = st.columns(4)
    pipeline = cols[0].selectbox("Pipeline", ["data", "training"])
    cron = cols[1].text_input("Cron (six fields, seconds first)", "0 0 6 * * *")
    every = cols[2].number_input("…or every (seconds, 0 = use the cron)", 0, 10**7, 0)
    source = cols[3].selectbox("Data", ["current", "synthetic"])
    add = st.form_submit_button("Schedule it")
if add:
    try:
        if pipeline == "training":
            params = RunParams(source=source)
        else:
            params = DataRunParams(source=source, message="scheduled")
        automation.add_schedule(
            settings,
            params,
            cron=None if every else cron,
            interval_seconds=int(every) if every else None,
        )
        st.rerun()
    except JukeboxError as error:
        st.error(str(error))
if state.schedules:
    remove = st.selectbox("Schedule to remove", [s.id for s in state.schedules])
    if st.button("Remove it"):
        automation.remove_schedule(settings, remove)
        st.rerun()
if state.schedules and not state.enabled:
    st.caption("Schedules run while continuous training is on (or `python -m jukebox watch`).")
