"""Deploy: serve a registered version (or an exported bundle) over the Open Inference Protocol,
on a local server or on KServe; see every deployment, stop or replace one."""

import contextlib

import streamlit as st

from jukebox.config import load_settings
from jukebox.errors import JukeboxError
from jukebox.registry.register import exported_bundles
from jukebox.registry.versions import get_version, list_all_versions
from jukebox.serving import canary, deploy, kserve
from jukebox.serving.loadtest import MAX_USERS, run_load, song_requests, workshop_request
from jukebox.serving.workers import worker_limit
from jukebox.ui.deploy import (
    canary_table,
    curl_example,
    deployable_versions,
    deployments_table,
    disagreement_sentence,
    first_not_deployed,
    grpc_example,
    infer_url,
    load_figure,
    served_by,
    version_label,
)

FLASH = "deploy_flash"
PROGRESS = {
    "starting": "Loading the model and checking its sha256…",
    "ready": "The server answers ready.",
    "switched": "The deployment now points at the new server; the old one finishes its requests.",
}


def done(message: str) -> None:
    """Say what was done after the rerun that shows its effect."""
    st.session_state[FLASH] = message
    st.rerun()


st.title("Deploy")
settings = load_settings()
st.caption(
    "Serve a model version over the Open Inference Protocol v2, the REST API of KServe and "
    "OpenVINO Model Server. Local servers run in the background and survive a page reload."
)
if flash := st.session_state.pop(FLASH, None):
    st.success(flash)

deployments = deploy.list_deployments(settings)
by_name = {d.name: d for d in deployments}

# --- 1. What to deploy --------------------------------------------------------------------------
st.subheader("1. Choose a model version")
source = st.radio("From", ["Model registry", "Exported bundle"], horizontal=True)
choice = None  # what deploy.deploy_local needs, plus what the KServe form and messages show
if source == "Model registry":
    try:
        with st.spinner("Connecting to the model registry…"):
            versions = list_all_versions(settings)
    except JukeboxError as error:
        st.error(f"{error} You can still deploy an exported bundle.")
        versions = []
    models = sorted({v.model for v in versions})
    if not models:
        st.info(
            "No registered model yet: register one on the Registry page, or choose "
            "'Exported bundle' to serve a model straight from the Export page."
        )
    else:
        model = st.selectbox("Model", models)
        options = deployable_versions(v for v in versions if v.model == model)
        if not options:
            st.info(f"Every version of {model} is archived: restore one on the Registry page.")
        else:
            # On arriving, the first version not served yet is proposed; after that the pick
            # stays as chosen (switching to another version after a deployment offered to
            # replace what was just deployed).
            by_id = {v.id: v for v in options}
            kept = st.session_state.get(f"deploy_version_{model}")
            version = by_id[
                st.selectbox(
                    "Version (production first)",
                    list(by_id),
                    index=list(by_id).index(kept)
                    if kept in by_id
                    else first_not_deployed(options, deployments),
                    format_func=lambda i: version_label(by_id[i]),
                    key=f"deploy_version_{model}",
                )
            ]
            serving = served_by(version, deployments)
            if serving:
                st.caption(f"Version {version.version} is served by **{', '.join(serving)}**.")
            choice = {
                "model": model,
                "version": version.version,
                "bundle_dir": None,
                "uri": version.uri,
                "label": f"{model} version {version.version}",
            }
else:
    candidates = exported_bundles(settings)
    if not candidates:
        st.info(f"No exported model under `{settings.models_dir}`: train and export one first.")
    else:
        bundle = st.selectbox(
            "Exported bundle (newest first)",
            candidates,
            format_func=lambda c: (
                f"{c.path.relative_to(settings.models_dir)} · {c.modified:%Y-%m-%d %H:%M}"
                + (f" · accuracy {c.accuracy:.3f}" if c.accuracy is not None else "")
            ),
        )
        bundle_version = st.text_input("Version to report", value="1")
        choice = {
            "model": None,
            "version": bundle_version.strip() or "1",
            "bundle_dir": bundle.path,
            "uri": None,
            "label": f"bundle {bundle.path.name}",
        }


def deploy_locally(name: str, workers: int = 1) -> None:
    """Deploy ``choice`` under ``name`` (replacing what it serves, if anything), then record it."""
    replacing = name in by_name
    verb = "Replacing" if replacing else "Starting"
    with st.status(f"{verb} {name} with {choice['label']}…", expanded=True) as box:
        say = lambda state: box.write(PROGRESS.get(state, state))  # noqa: E731
        arguments = {k: choice[k] for k in ("model", "version", "bundle_dir")}
        try:
            deployment, note = deploy.deploy_and_record(
                settings, name, on_progress=say, workers=workers, **arguments
            )
        except JukeboxError as error:
            box.update(label=f"{name} was not deployed", state="error")
            st.error(str(error))
            return
        box.update(label=f"{name} is ready", state="complete")
    done(f"{name} serves {choice['label']} at {deployment.endpoint}. {note}".strip())


# --- 2. Where to deploy it ----------------------------------------------------------------------
st.subheader("2. Deploy it")
local_tab, kserve_tab = st.tabs(["Local server", "KServe (OpenShift AI)"])

with local_tab:
    # A name no deployment uses yet (jukebox, then jukebox-v2…): replacing is never the default.
    default_name = deploy.propose_name(
        choice["model"] or "jukebox" if choice else "jukebox",
        choice["version"] if choice else "1",
        by_name,
    )
    name = st.text_input(
        "Deployment name",
        value=default_name,
        help="Also the model name in its URLs (/v2/models/<name>/infer). Lowercase letters, "
        "digits and dashes.",
    ).strip()
    if name in by_name:
        st.info(
            f"**{name}** serves {by_name[name].source} now: deploying replaces it without "
            "dropping a request (the new server starts, the name switches to it, then the old "
            "one stops)."
        )
    workers = st.number_input(
        "Worker processes",
        1,
        worker_limit(),
        1,
        key="l_workers",
        help="Server processes sharing the deployment's port: more answer more requests at once, "
        "up to one per core. Each counts its own /metrics.",
    )
    if settings.serving_token:
        st.caption("Local servers require the bearer token set in JUKEBOX_SERVING_TOKEN.")
    replacing = name in by_name
    if st.button(
        f"Replace {name}" if replacing else "Deploy locally",
        type="secondary" if replacing else "primary",
        disabled=choice is None,
        key="deploy_local",
    ):
        deploy_locally(name, int(workers))

with kserve_tab:
    storage_bucket, storage_path, stored_version = None, None, None
    if choice and choice["model"] and not choice["uri"]:
        try:
            choice["uri"] = get_version(choice["model"], choice["version"], settings).uri
        except JukeboxError as error:
            st.error(str(error))
    if choice and choice["uri"]:
        try:
            storage_bucket, storage_path, stored_version = kserve.storage_from_uri(choice["uri"])
        except JukeboxError as error:
            st.warning(str(error))
    elif choice and not choice["model"]:
        st.warning(
            "An exported bundle is not in object storage, so a cluster cannot read it: register "
            "it first (with S3 settings) to deploy it on KServe."
        )
    left, middle, right = st.columns(3)
    k_name = left.text_input(
        "Name",
        value=deploy.suggest_name(choice["model"] or "jukebox") if choice else "jukebox",
        key="k_name",
    )
    k_display = middle.text_input("Display name", value=choice["label"] if choice else "")
    k_namespace = right.text_input(
        "Namespace (project)",
        value=settings.kserve_namespace or kserve.current_namespace() or "",
        help="The OpenShift AI project to deploy into.",
    )
    left, right = st.columns(2)
    storage_key = left.text_input(
        "Data connection",
        value=f"aws-connection-{storage_bucket}" if storage_bucket else "",
        help="The secret of the project's data connection to the bucket; leave empty to use a "
        "storage URI instead.",
    )
    k_path = right.text_input("Path in the bucket", value=storage_path or "")
    left, middle, right = st.columns(3)
    mode = left.selectbox("Deployment mode", kserve.DEPLOYMENT_MODES)
    min_replicas = middle.number_input(
        "Min replicas", 0, 20, 1, key="k_min", help="0 scales to zero when idle (Serverless)."
    )
    max_replicas = right.number_input("Max replicas", 1, 20, 1, key="k_max")
    left, right = st.columns(2)
    scale_metric = left.selectbox(
        "Scale metric",
        [None, *kserve.SCALE_METRICS],
        format_func=lambda metric: metric or "KServe's default",
        key="k_metric",
        help="What the autoscaler watches between the min and max replicas.",
    )
    scale_target = right.number_input(
        "Scale target",
        1,
        10_000,
        None,
        key="k_target",
        disabled=scale_metric is None,
        help=f"Per replica, in {kserve.SCALE_UNITS[scale_metric]}."
        if scale_metric
        else "Choose a scale metric first.",
    )
    left, middle, right, last = st.columns(4)
    cpu_request = left.text_input("CPU request", "1")
    cpu_limit = middle.text_input("CPU limit", "2")
    memory_request = right.text_input("Memory request", "4Gi")
    memory_limit = last.text_input("Memory limit", "8Gi")
    left, middle, right = st.columns(3)
    external = left.checkbox("External route", help="Reachable from outside the cluster.")
    token_auth = middle.checkbox("Token authentication", help="Callers need a bearer token.")
    with_runtime = right.checkbox(
        "Include the OVMS serving runtime", value=True, help="Needed once per project."
    )
    k_canary = st.number_input(
        "Canary traffic %",
        0,
        100,
        None,
        key="k_canary",
        help="Applied over a running InferenceService (Serverless), the new model gets this "
        "share of the traffic and the last ready revision the rest; 100 promotes it. Empty: all "
        "traffic at once.",
    )
    payload_logging = st.checkbox(
        "Log every inference for monitoring",
        value=True,
        help="KServe's payload logger sends each request and answer to "
        f"{kserve.monitoring_url(k_namespace.strip() or None, settings)} (TrustyAI), which "
        "watches the songs sent for drift.",
    )
    options = kserve.KServeOptions(
        name=k_name.strip(),
        namespace=k_namespace.strip() or None,
        display_name=k_display.strip() or None,
        storage_key=storage_key.strip() or None,
        storage_path=k_path.strip() or None,
        storage_uri=f"s3://{storage_bucket}/{k_path.strip()}" if storage_bucket else None,
        model_version=stored_version or (choice["version"] if choice else None),
        min_replicas=int(min_replicas),
        max_replicas=int(max_replicas),
        scale_metric=scale_metric,
        scale_target=int(scale_target) if scale_metric and scale_target else None,
        cpu_request=cpu_request,
        cpu_limit=cpu_limit,
        memory_request=memory_request,
        memory_limit=memory_limit,
        deployment_mode=mode,
        external_route=external,
        token_auth=token_auth,
        payload_logging=payload_logging,
        logger_url=kserve.monitoring_url(k_namespace.strip() or None, settings),
        canary_traffic_percent=None if k_canary is None else int(k_canary),
    )
    manifests = []
    if not (options.storage_key and options.storage_path) and not options.storage_uri:
        st.info(
            "Say where the model is (a data connection and the path in its bucket) to see the "
            "InferenceService."
        )
    else:
        try:
            manifests = [kserve.build_inference_service(options)]
            if with_runtime:
                manifests.insert(0, kserve.build_serving_runtime(namespace=options.namespace))
        except JukeboxError as error:
            st.error(str(error))
    if manifests:
        text = kserve.to_yaml(*manifests)
        st.code(text, language="yaml")
        left, right = st.columns(2)
        left.download_button(
            "Download YAML", text, file_name=f"{options.name}.yaml", mime="application/yaml"
        )
        if right.button("Apply to the cluster", disabled=not options.namespace):
            with st.status(f"Applying {options.name} to {options.namespace}…") as box:
                try:
                    applied = kserve.deploy_to_kserve(
                        settings,
                        options,
                        with_runtime=with_runtime,
                        model=choice["model"] if choice else None,
                        version=choice["version"] if choice else None,
                        on_progress=box.write,
                    )
                except JukeboxError as error:
                    box.update(label="Not deployed on KServe", state="error")
                    st.error(str(error))
                else:
                    box.update(label=f"{options.name} is ready at {applied.url}", state="complete")
                    if applied.registry_error:
                        st.warning(
                            f"It is not recorded in the model registry: {applied.registry_error}"
                        )

# --- 3. Deployments -----------------------------------------------------------------------------
st.subheader("3. Deployments")
if not deployments:
    st.info("Nothing is deployed locally yet.")
else:
    st.dataframe(deployments_table(deployments), hide_index=True, width="stretch")
    selected = by_name[st.selectbox("Deployment", list(by_name), key="selected_deployment")]
    if selected.error and selected.state == "failed":
        st.error(f"{selected.name} failed: {selected.error}")
    left, middle, right = st.columns(3)
    if left.button("Check health", key="health"):
        try:
            report = deploy.health(settings, selected.name)
        except JukeboxError as error:
            report = {"healthy": False, "state": f"gone ({error})"}
        if report["healthy"]:
            st.success(f"{selected.name} answers ready at {report['endpoint']}.")
        else:
            st.warning(f"{selected.name} is {report['state']} and does not answer.")
    if middle.button(
        f"Replace with {choice['label']}" if choice else "Replace",
        disabled=choice is None,
        key="replace_selected",
    ):
        deploy_locally(selected.name)
    if right.button("Stop", key="stop_selected"):
        # The registry's record is history; stopping matters more than updating it.
        with contextlib.suppress(JukeboxError):
            deploy.unrecord_deployment(settings, selected)
        try:
            deploy.stop_deployment(settings, selected.name)
        except JukeboxError as error:
            st.error(str(error))
        else:
            done(f"{selected.name} is stopped.")
    running_canary = canary.get_canary(settings, selected.name)
    if running_canary:
        status = running_canary.status
        st.markdown(
            f"**Canary:** version {running_canary.canary_version} answers "
            f"{status.canary_percent:g} % of {selected.name}'s requests, version "
            f"{running_canary.primary_version} the rest. Each answer names its version "
            f"(header `{canary.VERSION_HEADER}` and `model_version`)."
        )
        st.dataframe(canary_table(status), hide_index=True, width="stretch")
        st.caption(disagreement_sentence(status))
        left, middle, right = st.columns(3)
        left.button("Refresh figures", key="canary_refresh")
        if middle.button(
            f"Promote version {running_canary.canary_version}", type="primary", key="promote"
        ):
            try:
                canary.promote_canary(settings, selected.name)
            except JukeboxError as error:
                st.error(str(error))
            else:
                done(f"{selected.name} now serves version {running_canary.canary_version} only.")
        if right.button(f"Roll back to version {running_canary.primary_version}", key="rollback"):
            try:
                canary.rollback_canary(settings, selected.name)
            except JukeboxError as error:
                st.error(str(error))
            else:
                done(f"{selected.name} serves version {running_canary.primary_version} again.")
    elif selected.ready:
        with st.expander("Start a canary"):
            st.caption(
                "Serve the version chosen above beside this one with a share of the traffic, "
                "compare them, then promote it or roll it back; no request is refused."
            )
            percent = st.slider("Canary's share of the traffic (%)", 1, 99, 20, key="canary_pct")
            same = choice is not None and str(choice["version"]) == selected.version
            if same:
                st.caption(f"{selected.name} already serves version {selected.version}.")
            if st.button(
                f"Start {choice['label']} as a canary" if choice else "Start a canary",
                disabled=choice is None or same,
                key="start_canary",
            ):
                with st.status(f"Starting a canary of {selected.name}…", expanded=True) as box:
                    try:
                        canary.start_canary(
                            settings,
                            selected.name,
                            percent=percent,
                            on_progress=lambda state: box.write(PROGRESS.get(state, state)),
                            **{k: choice[k] for k in ("model", "version", "bundle_dir")},
                        )
                    except JukeboxError as error:
                        box.update(label="The canary did not start", state="error")
                        st.error(str(error))
                    else:
                        done(
                            f"{choice['label']} answers {percent} % of {selected.name}'s "
                            "requests as a canary."
                        )
    if selected.ready:
        with st.expander("Call it from code"):
            st.markdown("REST (Open Inference Protocol v2, as KServe and OpenVINO Model Server)")
            st.code(curl_example(selected), language="bash")
            if selected.grpc_address:
                st.markdown(f"gRPC at `{selected.grpc_address}`, with tritonclient")
                st.code(grpc_example(selected), language="python")
    if selected.ready:
        with st.expander("Load test: how much can it take?"):
            left, middle, right = st.columns(3)
            users = left.slider("Users at once", 1, MAX_USERS, 8, key="load_users")
            seconds = middle.slider("Seconds", 5, 120, 15, key="load_seconds")
            kind = right.radio(
                "Requests", ["The workshop's request", "Real songs"], key="load_kind"
            )
            if st.button("Start the load test", key="load_go"):
                bodies = (
                    [workshop_request()]
                    if kind == "The workshop's request"
                    else song_requests(settings)
                )
                chart, said = st.empty(), st.empty()
                live = []

                def show(second) -> None:
                    live.append(second)
                    chart.plotly_chart(load_figure(live), width="stretch")
                    said.caption(f"{second.second} of {seconds} s")

                try:
                    report = run_load(
                        infer_url(selected), bodies, users=users, duration=seconds,
                        token=settings.serving_token, on_second=show,
                    )  # fmt: skip
                except JukeboxError as error:
                    st.error(str(error))
                else:
                    (st.success if not report.errors else st.warning)(report.sentence)
                    for error in report.first_errors:
                        st.caption(error)
