"""The app on OpenShift, without a cluster: the manifests in deploy/app/ are valid Kubernetes
objects (checked against the Kubernetes 1.30 schemas kubernetes-validate carries, and the
OpenShift Route against the fields of openshift/api's route/v1), they fit together, they
configure the app for the project's real services, and the image's command starts the app as
OpenShift's random user."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import kubernetes_validate
import pytest
import requests
import yaml

from jukebox.config import load_settings
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "deploy" / "app"
K8S_VERSION = "1.30.0"

# openshift/api route/v1 (types.go): what a Route's spec may hold, and the values it takes.
ROUTE_SPEC = {"host", "subdomain", "path", "to", "alternateBackends", "port", "tls",
              "wildcardPolicy", "httpHeaders"}  # fmt: skip
TLS_TERMINATIONS = {"edge", "passthrough", "reencrypt"}
INSECURE_POLICIES = {"Allow", "None", "Redirect", ""}


def manifests() -> dict[str, dict]:
    out = {}
    for path in sorted(APP.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            document = yaml.safe_load(path.read_text())
            out[document["kind"]] = document
    return out


def container(deployment: dict, name: str) -> dict:
    return next(
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name
    )


def test_every_manifest_is_a_valid_object_and_kustomize_lists_them_all():
    listed = yaml.safe_load((APP / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in APP.glob("*.yaml") if p.stem != "kustomization")
    found = manifests()
    assert set(found) == {"ServiceAccount", "Role", "RoleBinding", "Secret", "Deployment",
                          "Service", "Route"}  # fmt: skip
    for kind, document in found.items():
        if kind == "Route":
            continue
        kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def test_an_invalid_object_would_be_caught():
    broken = manifests()["Deployment"]
    broken["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": "app"}]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_the_route_has_only_openshift_route_fields():
    route = manifests()["Route"]
    assert route["apiVersion"] == "route.openshift.io/v1"
    assert set(route["spec"]) <= ROUTE_SPEC
    assert route["spec"]["to"]["kind"] == "Service"
    assert route["spec"]["tls"]["termination"] in TLS_TERMINATIONS
    assert route["spec"]["tls"]["insecureEdgeTerminationPolicy"] in INSECURE_POLICIES


def test_the_objects_fit_together():
    m = manifests()
    deployment, service, route = m["Deployment"], m["Service"], m["Route"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    proxy = container(deployment, "oauth-proxy")
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in proxy["ports"]}
    assert route["spec"]["to"]["name"] == service["metadata"]["name"]
    assert route["spec"]["port"]["targetPort"] == port["name"]
    account = m["ServiceAccount"]["metadata"]["name"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account
    assert m["RoleBinding"]["subjects"] == [{"kind": "ServiceAccount", "name": account}]
    assert m["RoleBinding"]["roleRef"]["name"] == m["Role"]["metadata"]["name"]
    redirect = json.loads(
        m["ServiceAccount"]["metadata"]["annotations"][
            "serviceaccounts.openshift.io/oauth-redirectreference.primary"
        ]
    )
    assert redirect["reference"] == {"kind": "Route", "name": route["metadata"]["name"]}
    # The proxy's certificate is the one the service CA writes for the Service.
    tls = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls")
    annotation = "service.beta.openshift.io/serving-cert-secret-name"
    assert tls["secret"]["secretName"] == service["metadata"]["annotations"][annotation]
    args = dict(a.split("=", 1) for a in proxy["args"] if "=" in a)
    assert args["--openshift-service-account"] == account
    sar = json.loads(args["--openshift-sar"])
    assert (sar["resource"], sar["resourceName"]) == ("services", service["metadata"]["name"])


def test_the_role_lets_the_app_deploy_and_run_pipelines_and_nothing_cluster_wide():
    rules = manifests()["Role"]["rules"]

    def allowed(group: str, resource: str, verb: str) -> bool:
        return any(
            group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
            for r in rules
        )

    for verb in ("create", "get", "list", "patch", "delete"):
        assert allowed("serving.kserve.io", "inferenceservices", verb)
    assert allowed(
        "datasciencepipelinesapplications.opendatahub.io",
        "datasciencepipelinesapplications/api",
        "get",
    )
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in rules)
    assert not allowed("", "secrets", "get")  # the data connection comes in as environment


def test_the_app_is_configured_for_the_projects_real_services():
    app = container(manifests()["Deployment"], "jukebox")
    assert "command" not in app and "args" not in app  # the image's own command
    assert app["envFrom"] == [{"secretRef": {"name": "aws-connection-models"}}]
    env = {e["name"]: e for e in app["env"]}
    values = {name: e.get("value", "") for name, e in env.items()}
    config = (ROOT / "jukebox" / "config.py").read_text()
    for name in values:
        assert name == "POD_NAMESPACE" or f'"{name}"' in config, f"{name} is no setting"
    assert env["KSERVE_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    resolved = {k: v.replace("$(POD_NAMESPACE)", "project") for k, v in values.items()}
    resolved["KSERVE_NAMESPACE"] = "project"
    token = Path(__file__).parent / "sa"
    token.mkdir(exist_ok=True)
    (token / "token").write_text("service-account-token\n")
    settings = load_settings(resolved, service_account=token)
    assert settings.kfp_host == "https://ds-pipeline-dspa.project.svc:8443"
    assert settings.trustyai_url == "http://trustyai-service.project.svc.cluster.local"
    assert settings.serving_is_remote and settings.pipelines_are_remote
    assert settings.monitoring_is_remote and settings.registry_url
    assert settings.registry_token == settings.kfp_token == "service-account-token"
    assert not settings.in_pipeline_pod  # the app is no pipeline task
    (token / "token").unlink()
    token.rmdir()


def test_no_secret_is_in_the_manifests():
    cookie = manifests()["Secret"]["stringData"]["secret"]
    assert cookie.startswith("REPLACE")
    text = "\n".join(p.read_text() for p in APP.glob("*.yaml"))
    assert not re.search(r"(?i)(sha256~|aws_secret_access_key:\s*\S|password:\s*\S)", text)


def image_command() -> list[str]:
    lines = (ROOT / "Containerfile").read_text().splitlines()
    (line,) = [line for line in lines if line.startswith("CMD")]
    return json.loads(line[len("CMD") :])


def test_the_proxy_forwards_to_where_the_image_command_listens():
    command = image_command()
    assert command[:3] == ["streamlit", "run", "app.py"]
    options = dict(a.split("=", 1) for a in command[3:])
    proxy = container(manifests()["Deployment"], "oauth-proxy")
    upstream = next(a for a in proxy["args"] if a.startswith("--upstream="))
    host = (
        "localhost" if options["--server.address"] == "127.0.0.1" else options["--server.address"]
    )
    assert upstream == f"--upstream=http://{host}:{options['--server.port']}"


def test_the_image_runs_as_a_random_user_of_group_0():
    """What lets OpenShift's arbitrary user id run the image: a non-root USER, and the folders it
    writes (HOME, JUKEBOX_HOME) owned by group 0 and group-writable."""
    text = (ROOT / "Containerfile").read_text()
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users[-1] not in ("0", "root")
    assert "chgrp -R 0 /opt/jukebox && chmod -R g=u /opt/jukebox" in text
    assert "HOME=/opt/jukebox/home" in text and "JUKEBOX_HOME=/opt/jukebox/home/.jukebox" in text
    ignored = (ROOT / ".containerignore").read_text().split()
    for copied in ("app_pages/", "static/", ".streamlit/"):
        assert f"COPY {copied} ./{copied}" in text and copied not in ignored
    assert "COPY pyproject.toml app.py ./" in text and "app.py" not in ignored


@pytest.mark.slow  # starts the app
def test_the_image_command_starts_the_app_with_nothing_but_a_fresh_home(tmp_path):
    """The image's CMD, run here as the image runs it: from the project folder, a HOME and a
    JUKEBOX_HOME that are new and empty, no setting. (Not under another user id: this machine's
    interpreter lives in root's home, which another user cannot read.)"""
    port = free_port()
    command = [c for c in image_command() if not c.startswith("--server.port=")]
    command = [str(Path(sys.executable).parent / command[0]), *command[1:], f"--server.port={port}"]
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "JUKEBOX_HOME": str(home / ".jukebox")}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stdout.read().decode()[-2000:]
            try:
                if requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text == "ok":
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the app did not answer within 90 s"
            time.sleep(0.5)
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "<title>" in page.text
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        process.stdout.close()
