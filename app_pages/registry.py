"""Registry: register the exported model, browse every version, see where one comes from, compare
versions, and archive, restore or mark one for production."""

import contextlib

import streamlit as st

from jukebox.config import load_settings
from jukebox.errors import JukeboxError
from jukebox.explain import bundle_reference, global_importance, predictor_from_bundle
from jukebox.registry.fetch import fetch_bundle, read_model_card
from jukebox.registry.register import exported_bundles, register_bundle
from jukebox.registry.versions import (
    archive_version,
    get_version,
    list_all_versions,
    mark_production,
    restore_version,
    suggest_next_version,
)
from jukebox.ui import registry as ui
from jukebox.ui.explain import importance_map, importance_table
from jukebox.ui.maps import show_map
from jukebox.ui.song_words import DIALS

FLASH = "registry_flash"


def done(message: str) -> None:
    """Say what was done after the rerun that shows its effect."""
    st.session_state[FLASH] = message
    st.rerun()


st.title("Registry")
settings = load_settings()
st.caption(
    f"Model registry: **{settings.registry_url or 'embedded (started on demand)'}** · "
    f"object storage: **{settings.s3_endpoint or settings.storage_dir}** · bucket "
    f"**{settings.s3_bucket}**"
)
if flash := st.session_state.pop(FLASH, None):
    st.success(flash)

try:
    with st.spinner("Connecting to the model registry…"):
        versions = list_all_versions(settings, include_incomplete=True)
except JukeboxError as error:
    st.error(str(error))
    versions = None
reachable = versions is not None
versions = versions or []
complete = [v for v in versions if v.complete]

# --- Register the model exported on the Export page -----------------------------------------
st.subheader("Register an exported model")
candidates = exported_bundles(settings)
if not candidates:
    st.info(
        f"No exported model under `{settings.models_dir}` yet: train a model and export it on "
        "the Export page, then come back here to register it."
    )
else:
    chosen = st.selectbox(
        "Exported bundle (newest first)",
        candidates,
        format_func=lambda c: (
            f"{c.path.relative_to(settings.models_dir)} · exported {c.modified:%Y-%m-%d %H:%M}"
            + (f" · accuracy {c.accuracy:.3f}" if c.accuracy is not None else "")
            + (" · ✅ verified" if c.registrable else " · ❌ cannot be registered")
        ),
    )
    if not chosen.registrable:
        st.warning(f"This bundle cannot be registered. {chosen.reason}")
    left, right = st.columns(2)
    default_name = versions[-1].model if versions else "jukebox"
    name = left.text_input(
        "Model name",
        value=default_name,
        key="register_name",
        help="Letters, digits, '-', '_' and '.'; no spaces or path characters.",
    )
    suggestion = "1"
    if reachable:
        with contextlib.suppress(JukeboxError):
            suggestion = suggest_next_version(name, settings, check_storage=False)
    # The suggestion is part of the key: after a registration the field shows the next one.
    version_key = f"register_version_{name}_{suggestion}"
    version = right.text_input(
        "Version",
        value=suggestion,
        key=version_key,
        help=f"A whole number; the next free one for this name is {suggestion}.",
    )
    twin = next(
        (v for v in complete if v.model == name.strip() and v.onnx_sha256 == chosen.onnx_sha256),
        None,
    )
    if twin is not None:
        st.warning(
            f"This bundle is already registered as **{twin.model} version {twin.version}** "
            "(the same model.onnx): registering it again would make an identical version. "
            "Train and export a new model to register a new version."
        )
    if st.button(
        "Register",
        type="primary",
        disabled=not chosen.registrable or not reachable,
        help="Uploads the bundle to object storage, then records it in the model registry.",
    ):
        try:
            with st.spinner("Uploading the bundle and registering it…"):
                info = register_bundle(chosen.path, name, version, settings=settings)
        except JukeboxError as error:
            st.error(str(error))
        else:
            done(f"Registered {info.model} version {info.version}, stored at {info.uri}.")

# --- Every registered version ---------------------------------------------------------------
st.subheader("Registered versions")
if reachable and not versions:
    st.info("Nothing is registered yet: register an exported model above.")
if versions:
    st.dataframe(
        ui.versions_table(versions),
        hide_index=True,
        column_config={"accuracy": st.column_config.NumberColumn(format="%.3f")},
    )
    if len(complete) < len(versions):
        st.caption(
            "⚠️ incomplete: a registration that was interrupted. Register the same version again "
            "to complete it."
        )


@st.cache_data(show_spinner="Asking the model about a sample of its training songs…")
def country_importance(model: str, version: str, sha256: str | None):
    """Mean effect of each feature on each country's answer over a sample of the version's
    training songs; cached by the version's sha256, which never changes once registered."""
    bundle = fetch_bundle(model, version, settings=settings)
    reference = bundle_reference(bundle)
    return global_importance(predictor_from_bundle(bundle), reference, reference)


def show_importance(detail) -> None:
    """The features that sway each country most, and the world coloured by one of them."""
    if not st.toggle("Work it out (a few seconds)", key=f"importance_{detail.id}"):
        st.caption(
            "Which features matter most for each country: the mean effect each has on the "
            "model's answers over a sample of the songs it learned from."
        )
        return
    try:
        importance = country_importance(detail.model, detail.version, detail.onnx_sha256)
    except JukeboxError as error:
        st.caption(f"Not available for this version: {error}")
        return
    feature = st.selectbox(
        "Where does it matter most?", list(importance.columns),
        format_func=lambda f: DIALS[f].question, key=f"importance_feature_{detail.id}",
    )  # fmt: skip
    show_map(importance_map(importance, feature), key=f"importance_map_{detail.id}")
    st.dataframe(importance_table(importance), hide_index=True)


# --- One version in detail ------------------------------------------------------------------
if versions:
    st.subheader("Version detail")
    names = sorted({v.model for v in versions})
    left, right = st.columns(2)
    # A link from elsewhere (a pipeline run's "see it in the registry") names the version.
    linked_model, linked_version = st.query_params.get("model"), st.query_params.get("version")
    model_name = left.selectbox(
        "Model",
        names,
        index=names.index(linked_model) if linked_model in names else 0,
        key="detail_model",
    )
    of_model = {v.id: v for v in versions if v.model == model_name}
    default = next(
        (v for v in of_model.values() if v.version == linked_version),
        next((v for v in of_model.values() if v.production), list(of_model.values())[-1]),
    )
    # Options are registry ids and labels never change: a label that showed the state went
    # stale after an action, and the next action on that pick was lost.
    picked = of_model[
        right.selectbox(
            "Version",
            list(of_model),
            index=list(of_model).index(default.id),
            format_func=lambda i: f"v{of_model[i].version}",
            key=f"detail_version_{model_name}",
        )
    ]
    right.caption(f"State: **{picked.status}**")
    try:
        detail = get_version(picked.model, picked.version, settings)
        card = read_model_card(detail, settings)
    except JukeboxError as error:
        st.error(str(error))
        detail, card = picked, ""

    actions = st.columns(3)
    if actions[0].button(
        "Mark for production",
        disabled=detail.status != "live",
        help="One version per model is the production version.",
    ):
        try:
            mark_production(detail.model, detail.version, settings)
            done(f"{detail.model} version {detail.version} is now the production version.")
        except JukeboxError as error:
            st.error(str(error))
    if actions[1].button(
        "Archive",
        disabled=detail.status != "live",
        help="Keeps the version and its files, but no longer offers it for use. The "
        "production version cannot be archived.",
    ):
        try:
            archive_version(detail.model, detail.version, settings)
            done(f"{detail.model} version {detail.version} is archived.")
        except JukeboxError as error:
            st.error(str(error))
    if actions[2].button("Restore", disabled=detail.status != "archived"):
        try:
            restore_version(detail.model, detail.version, settings)
            done(f"{detail.model} version {detail.version} is live again.")
        except JukeboxError as error:
            st.error(str(error))

    if detail.pipeline_run_id:
        st.markdown(
            f"Made by pipeline run [{detail.pipeline_run_id}]"
            f"(/pipelines?run={detail.pipeline_run_id})."
        )
    if detail.trigger:
        st.markdown(f"Trained because: {detail.trigger}.")
    if detail.data_commit:
        st.markdown(
            f"Trained on data version [{detail.data_commit[:7]}]"
            f"(/data_versions?version={detail.data_commit})."
        )
    st.markdown(
        f"Scanned by modelscan at registration: {detail.modelscan}."
        if detail.modelscan
        else "Not scanned by modelscan at registration (registered before Jukebox scanned, or "
        "by another tool)."
    )
    st.markdown("**Stored at**")
    st.code(detail.uri or "no artifact recorded", language=None)
    st.plotly_chart(ui.lineage_figure(detail), key="lineage")
    left, right = st.columns(2)
    with left:
        st.markdown("**Metadata**")
        st.dataframe(ui.metadata_table(detail), hide_index=True)
    with right:
        st.markdown("**Model card**")
        with st.container(border=True, height=400):
            st.markdown(ui.card_markdown(card) if card else "_This version has no model card._")

    with st.expander("What each country listens for"):
        show_importance(detail)

# --- Compare versions -----------------------------------------------------------------------
if len(complete) >= 2:
    st.subheader("Compare versions")
    labels = {ui.version_label(v): v for v in complete}
    default = [ui.version_label(v) for v in complete if v.model == complete[-1].model][-2:]
    chosen_labels = st.multiselect("Versions to compare", list(labels), default=default)
    compared = [labels[label] for label in chosen_labels]
    if len(compared) < 2:
        st.info("Pick two or more versions to compare them side by side.")
    else:
        st.plotly_chart(ui.metrics_figure(compared), key="compare_metrics")
        st.markdown("**Training parameters** (those that differ first)")
        diff = ui.parameters_diff(compared)
        if diff.empty:
            st.caption("None of these versions recorded training parameters.")
        else:
            st.dataframe(diff, hide_index=True)
