"""Both compiled pipelines, run as KFP's driver and launcher would run them on a cluster
(:mod:`tests.pipelines.launcher`), against real stand-ins of the cluster's services started here:
the embedded registry server (with a token) as the cluster's registry, moto S3 as MinIO, a bare
git repository as the data repository, and the stand-in KFP API for the data pipeline's trigger.

Each task gets only what the YAML declares; these tests show that is enough, and that taking any
one declared setting away fails the task that needs it with a sentence that names it.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from jukebox.config import load_settings
from jukebox.data.schema import CHART_COUNTRIES
from jukebox.data.synthetic import generate
from tests.data.versioning import ACCESS_KEY, SECRET_KEY, s3_client, start_moto
from tests.pipelines.launcher import Cluster, run_compiled

pytestmark = pytest.mark.slow

REGISTRY_TOKEN = "registry-token-of-the-cluster"
KFP_TOKEN = "kfp-token-of-the-cluster"
MODELS_BUCKET = "models"
SMALL_TRAINING = {"epochs": 1, "width": 8, "depth": 2}
SMALL_DATA = {"songs": 300, "days": 20, "countries": 6}
SMALL_SPACE = {"width": [4, 16], "depth": [1, 2], "epochs": 2, "patience": 1}
SEARCH_PARALLELISM = 2


def small_songs(seed: int):
    return generate(300, seed, n_days=20, countries=CHART_COUNTRIES[:6])


class Stand:
    """The cluster's services, and a workstation's settings that reach them."""

    def __init__(self, root: Path, s3: str, registry: str, repo: Path, kfp) -> None:
        self.root, self.s3, self.registry, self.repo, self.kfp = root, s3, registry, repo, kfp
        self.workstation = replace(
            load_settings({"JUKEBOX_HOME": str(root / "workstation")}),
            s3_endpoint=s3,
            s3_access_key=ACCESS_KEY,
            s3_secret_key=SECRET_KEY,
            s3_bucket=MODELS_BUCKET,
            s3_region="us-east-1",
            registry_url=registry,
            registry_token=REGISTRY_TOKEN,
            data_git_url=str(repo),
        )
        self.runs = 0

    def cluster(self) -> Cluster:
        return Cluster(
            secrets={
                "aws-connection-models": {
                    "AWS_S3_ENDPOINT": self.s3,
                    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                    "AWS_S3_BUCKET": MODELS_BUCKET,
                    "AWS_DEFAULT_REGION": "us-east-1",
                },
                "jukebox-registry-token": {"token": REGISTRY_TOKEN},
                "jukebox-kfp-token": {"token": KFP_TOKEN},
            }
        )

    def run(self, package: Path, arguments: dict, cluster: Cluster | None = None):
        self.runs += 1
        return run_compiled(
            package, arguments, cluster or self.cluster(), self.root / f"run-{self.runs}"
        )


@pytest.fixture(scope="module")
def stand(tmp_path_factory):
    from jukebox.data import versions
    from jukebox.data.store import save_current
    from jukebox.registry.register import register_bundle
    from jukebox.registry.server.process import stop_server
    from jukebox.registry.versions import mark_production
    from tests.bundles import make_tiny_bundle
    from tests.pipelines.kfp_standin import StandIn
    from tests.registry.conftest import registry_in_thread

    root = tmp_path_factory.mktemp("cluster")
    moto, endpoint = start_moto()
    s3_client(endpoint).create_bucket(Bucket=MODELS_BUCKET)
    repo = root / "data.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(repo)], check=True)
    kfp = StandIn(token=KFP_TOKEN, polls_until_done=2)
    kfp.start()
    try:
        with registry_in_thread(root / "registry.sqlite", token=REGISTRY_TOKEN) as registry:
            stand = Stand(root, endpoint, registry, repo, kfp)
            settings = stand.workstation
            # Two data versions (the run names the first), and a production model to beat.
            save_current(small_songs(1), settings)
            stand.first = versions.version_current(settings, "first songs")
            save_current(small_songs(2), settings)
            stand.second = versions.version_current(settings, "second songs")
            bundle = make_tiny_bundle(root / "bundle")
            register_bundle(bundle.path, "jukebox", "1", settings=settings)
            mark_production("jukebox", "1", settings)
            yield stand
    finally:
        kfp.stop()
        moto.stop()
        stop_server(stand.workstation)


def compiled(stand: Stand, pipeline: str) -> Path:
    from jukebox.pipelines.data import compile_data_pipeline
    from jukebox.pipelines.search import compile_search_pipeline
    from jukebox.pipelines.training import compile_pipeline

    if pipeline == "search":
        path = stand.root / "search.yaml"
        return compile_search_pipeline(path, stand.workstation, parallelism=SEARCH_PARALLELISM)
    compile_ = compile_data_pipeline if pipeline == "data" else compile_pipeline
    return compile_(stand.root / f"{pipeline}.yaml", stand.workstation)


def training_arguments(stand: Stand, **changes) -> dict:
    return {
        "source": "version",
        "source_options": {"ref": stand.first.commit},
        "hyperparameters": SMALL_TRAINING,
        "tolerance": 1.0,  # the tiny production model may score anything: the gate must pass
        **changes,
    }


def nothing_embedded(run) -> list[str]:
    """What the tasks of ``run`` left that only an embedded default would make."""
    found = []
    for task in run.tasks.values():
        found += [f"{task.name}: {p}" for p in task.left_running]
        patterns = ["**/registry.sqlite", "**/.jukebox/s3"]
        if task.name != "load-and-version":  # which versions the data it was given, from there
            patterns.append("**/.jukebox/data/*.parquet")
        for pattern in patterns:
            found += [f"{task.name}: {p}" for p in task.workdir.glob(pattern)]
    return found


def test_the_yaml_carries_no_secret(stand):
    for pipeline in ("training", "data", "search"):
        text = compiled(stand, pipeline).read_text()
        for secret in (REGISTRY_TOKEN, KFP_TOKEN, SECRET_KEY, ACCESS_KEY):
            assert secret not in text
        assert stand.registry in text and str(stand.repo) in text


def test_the_training_pipeline_registers_in_the_clusters_registry(stand):
    from jukebox.registry.versions import get_version

    run = stand.run(compiled(stand, "training"), training_arguments(stand))
    assert run.succeeded, run.failed.output[-3000:]
    assert list(run.tasks) == [
        "fetch-data",
        "validate-and-prepare",
        "train",
        "convert-to-onnx",
        "evaluate",
        "verify-onnx",
        "register",
    ]
    version = get_version("jukebox", "2", stand.workstation)
    assert version.pipeline_run_id == run.job_id
    # The data came from the data repository, at the commit the run named (not the newest).
    assert version.properties["data.commit"] == stand.first.commit
    assert version.properties["data.version"] == stand.first.md5
    # Stored in the cluster's object store, where a serving runtime can fetch it.
    assert version.uri.startswith(f"s3://{MODELS_BUCKET}/")
    # The gate read the cluster's production version, and says so as a KFP metric.
    evaluate = run.tasks["evaluate"]
    gate = evaluate.artifacts["metrics"]["metadata"]
    assert gate["gate_passed"] == 1
    assert "against production version 1" in gate["gate"]
    assert nothing_embedded(run) == []
    # The train task logged its fitting as a run in the cluster's registry, linked to version 2.
    from jukebox.registry import experiments

    [logged] = [r for r in experiments.list_runs(stand.workstation) if run.job_id in r.name]
    assert logged.status == "FINISHED" and logged.source == "pipeline"
    history = experiments.metric_history(stand.workstation, logged.run_id)
    assert [step for step, _ in history["val_accuracy"]] == [1]
    assert "test_accuracy" in logged.metrics
    assert version.properties["experiment.run_id"] == logged.run_id
    assert logged.registered_as == "jukebox 2"


def test_the_search_pipeline_runs_trials_side_by_side_and_registers_the_best(stand):
    """Three trials in a ParallelFor of two at a time (as the compiled YAML says), each a run
    in the cluster's registry; the best, collected, trained again and registered through the
    gate."""
    from jukebox.registry.experiments import get_run, list_runs
    from jukebox.registry.versions import get_version, list_versions

    package = compiled(stand, "search")
    loop = next(yaml.safe_load_all(package.read_text()))["root"]["dag"]["tasks"]["for-loop-1"]
    assert loop["iteratorPolicy"]["parallelismLimit"] == SEARCH_PARALLELISM
    arguments = {
        "source": "version",
        "source_options": {"ref": stand.first.commit},
        "space": SMALL_SPACE,
        "trials": 3,
        "experiment": "search-on-the-cluster",
        "model_name": "jukebox-search",
        "tolerance": 1.0,
    }
    run = stand.run(package, arguments)
    assert run.succeeded, run.failed.output[-3000:]
    assert {"suggest", "trial-0", "trial-1", "trial-2", "pick-best"} <= set(run.tasks)
    ran = run.loops["for-loop-1"]
    assert (ran.limit, ran.items) == (SEARCH_PARALLELISM, 3)
    assert 1 <= ran.peak <= SEARCH_PARALLELISM

    runs = {r.name: r for r in list_runs(stand.workstation, "search-on-the-cluster")}
    assert set(runs) == {"trial-0", "trial-1", "trial-2"}
    assert {r.status for r in runs.values()} == {"FINISHED"}
    assert all(r.source == "search" and "best_val_loss" in r.metrics for r in runs.values())
    best = min(runs.values(), key=lambda r: r.metrics["best_val_loss"])
    (listed,) = list_versions("jukebox-search", stand.workstation)
    version = get_version("jukebox-search", listed.version, stand.workstation)
    assert version.pipeline_run_id == run.job_id
    assert version.uri.startswith(f"s3://{MODELS_BUCKET}/")
    assert get_run(stand.workstation, best.run_id).registered_as == "jukebox-search 1"
    assert "No production version of jukebox-search" in run.tasks["pick-best"].output
    assert nothing_embedded(run) == []


def test_the_data_pipeline_versions_and_starts_training_for_that_version(stand):
    """The data pipeline makes a version in the data repository, and its trigger submits the
    training pipeline for it; that submitted run, launched in turn, trains on exactly it."""
    from jukebox.data import versions
    from jukebox.registry.versions import list_versions

    arguments = {
        "source": "synthetic",
        "source_options": {**SMALL_DATA, "seed": 7},
        "model_name": "jukebox-data",
        "hyperparameters": SMALL_TRAINING,
        "tolerance": 1.0,
        "kfp_host": stand.kfp.url,
    }
    run = stand.run(compiled(stand, "data"), arguments)
    assert run.succeeded, run.failed.output[-3000:]
    commit = run.tasks["load-and-version"].parameters["Output"]
    assert versions.sync(stand.workstation).commit == commit  # pushed to the data repository
    assert nothing_embedded(run) == []

    assert stand.kfp.problems == []
    (submitted,) = stand.kfp.received("POST", "/runs")
    parameters = submitted.body["runtime_config"]["parameters"]
    assert parameters["source_options"] == {"ref": commit}
    assert parameters["model_name"] == "jukebox-data"
    assert parameters["registry_url"] == stand.registry
    assert parameters["data_repo_url"] == str(stand.repo)
    specs = submitted.body["pipeline_spec"]
    package = stand.root / "submitted.yaml"
    package.write_text(yaml.safe_dump_all([specs["pipeline_spec"], specs["platform_spec"]]))
    training = stand.run(package, parameters)
    assert training.succeeded, training.failed.output[-3000:]
    (version,) = list_versions("jukebox-data", stand.workstation)
    assert version.properties["data.commit"] == commit
    assert version.pipeline_run_id == training.job_id


def _without_secret(stand: Stand, name: str, key: str | None = None) -> Cluster:
    cluster = stand.cluster()
    if key is None:
        del cluster.secrets[name]
    else:
        cluster.secrets[name][key] = ""
    return cluster


@pytest.mark.parametrize(
    ("removed", "pipeline", "failing", "sentence"),
    [
        ("data_repo_url", "training", "fetch-data", "no embedded data repository: give the"),
        ("AWS_S3_ENDPOINT", "training", "fetch-data", "no embedded object storage: give"),
        ("s3 secret", "training", "fetch-data", 'secret "aws-connection-models" not found'),
        ("registry_url", "training", "evaluate", "no embedded model registry: give the"),
        ("registry token", "training", "evaluate", "refused the token (HTTP 401)"),
        ("data_repo_url", "data", "load-and-version", "no embedded data repository"),
        ("AWS_S3_ENDPOINT", "data", "load-and-version", "no embedded object storage"),
        ("registry_url", "data", "trigger-training", "no embedded model registry"),
        ("kfp token", "data", "trigger-training", "refused the token (401)"),
    ],
)
def test_each_declared_setting_removed_fails_its_task_with_a_sentence(
    stand, removed, pipeline, failing, sentence
):
    cluster = stand.cluster()
    if pipeline == "training":
        arguments = training_arguments(stand)
    else:
        seed = 100 + stand.runs  # new data each time, so the trigger always has a version
        arguments = {
            "source": "synthetic",
            "source_options": {**SMALL_DATA, "seed": seed},
            "kfp_host": stand.kfp.url,
        }
    if removed in ("data_repo_url", "registry_url"):
        arguments[removed] = ""
    elif removed == "AWS_S3_ENDPOINT":
        cluster = _without_secret(stand, "aws-connection-models", "AWS_S3_ENDPOINT")
    elif removed == "s3 secret":
        cluster = _without_secret(stand, "aws-connection-models")
    elif removed == "registry token":
        cluster = _without_secret(stand, "jukebox-registry-token")
    else:
        cluster = _without_secret(stand, "jukebox-kfp-token")
    run = stand.run(compiled(stand, pipeline), arguments, cluster)
    assert run.failed is not None, f"no task failed without {removed}"
    assert run.failed.name == failing, run.failed.output[-2000:]
    said = " ".join(run.failed.output.split())
    assert sentence in said, said[-2000:]
    assert "Traceback" not in said or "secret" in sentence
    assert nothing_embedded(run) == []
