"""Remote runs through ``kfp.Client`` against a stand-in KFP v2beta1 API server on 127.0.0.1.

The stand-in (``kfp_standin``) checks every request against the API and records it; these tests
assert on what it received. The package is a tiny two-task pipeline compiled here, with a
``kfp.kubernetes`` secret so the run carries a platform spec, as the real pipeline's does.
"""

# No "from __future__ import annotations": kfp reads the components' annotations as types.
import logging
import socket
from pathlib import Path

import pytest
import yaml
from kfp import compiler, dsl, kubernetes

from jukebox.config import Settings
from jukebox.errors import JukeboxError
from jukebox.pipelines import remote
from tests.pipelines.kfp_standin import StandIn

TOKEN = "stand-in-token"


@dsl.component(base_image="python:3.11-slim", install_kfp_package=False)
def make_data(songs: int, source: str) -> str:
    return f"{source}:{songs}"


@dsl.component(base_image="python:3.11-slim", install_kfp_package=False)
def train(data: str, epochs: int, tolerance: float) -> float:
    return float(len(data) * epochs) * tolerance


@dsl.pipeline(name="tiny-jukebox")
def tiny_pipeline(songs: int, epochs: int = 2, source: str = "synthetic", tolerance: float = 0.05):
    data = make_data(songs=songs, source=source)
    kubernetes.use_secret_as_env(
        data,
        secret_name="aws-connection-jukebox",
        secret_key_to_env={"AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID"},
    )
    train(data=data.output, epochs=epochs, tolerance=tolerance)


ARGUMENTS = {"songs": 200, "epochs": 3, "source": "synthetic", "tolerance": 0.1}


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("package") / "tiny.yaml"
    compiler.Compiler().compile(tiny_pipeline, str(path))
    return path


@pytest.fixture
def standin():
    server = StandIn(token=TOKEN, polls_until_done=3)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(standin, tmp_path) -> Settings:
    return Settings(home=tmp_path, kfp_host=standin.url, kfp_token=TOKEN)


def _no_problems(standin: StandIn) -> None:
    assert standin.problems == [], standin.problems


def test_submit_run_sends_the_compiled_spec_and_the_arguments(standin, settings, package):
    run = remote.submit_run(settings, package, ARGUMENTS, run_name="first run")

    _no_problems(standin)
    (created,) = standin.received("POST", "/runs")
    body = created.body
    assert body["display_name"] == "first run"
    assert body["runtime_config"]["parameters"] == ARGUMENTS
    # The IR and the platform spec (the secret) travel as the compiled YAML's two documents.
    ir, platform = list(yaml.safe_load_all(package.read_text()))
    assert body["pipeline_spec"]["pipeline_spec"] == ir
    assert body["pipeline_spec"]["platform_spec"] == platform
    spec = body["pipeline_spec"]["pipeline_spec"]
    assert spec["pipelineInfo"]["name"] == "tiny-jukebox"
    assert set(spec["root"]["dag"]["tasks"]) == {"make-data", "train"}
    assert {"components", "deploymentSpec"} <= set(spec)
    executor = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert executor["exec-make-data"]["secretAsEnv"][0]["secretName"] == "aws-connection-jukebox"
    # The experiment "jukebox" was looked up by name, created, and the run put in it.
    (lookup,) = standin.received("GET", "/experiments")
    assert '"display_name"' in lookup.query["filter"][0]
    assert '"jukebox"' in lookup.query["filter"][0]
    (made,) = standin.received("POST", "/experiments")
    assert made.body["display_name"] == "jukebox"
    (experiment_id,) = standin.experiments
    assert body["experiment_id"] == experiment_id
    # Every request carried the token.
    assert {r.headers.get("authorization") for r in standin.requests} == {f"Bearer {TOKEN}"}

    assert run.id in standin.runs
    assert run.name == "first run"
    assert run.state == "PENDING"
    assert not run.finished and not run.succeeded
    assert run.experiment_id == experiment_id
    assert run.pipeline == "tiny-jukebox"
    assert run.parameters == ARGUMENTS
    assert run.created_at is not None and run.finished_at is None


def test_a_second_run_reuses_the_experiment(standin, settings, package):
    remote.submit_run(settings, package, {"songs": 10}, run_name="one", experiment="nightly")
    remote.submit_run(settings, package, {"songs": 20}, run_name="two", experiment="nightly")

    _no_problems(standin)
    assert len(standin.received("POST", "/experiments")) == 1
    assert len(standin.received("GET", "/experiments")) == 2
    first, second = (r.body for r in standin.received("POST", "/runs"))
    assert first["experiment_id"] == second["experiment_id"]
    assert [first["display_name"], second["display_name"]] == ["one", "two"]
    assert second["runtime_config"]["parameters"] == {"songs": 20}


def test_the_standin_refuses_what_the_api_refuses(standin, settings, package):
    # A parameter the pipeline does not declare: the stand-in answers 400 like the real server,
    # and the error reaches the user as a sentence with the server's reason.
    with pytest.raises(remote.RemotePipelinesError, match="'colour' is not an input"):
        remote.submit_run(settings, package, {"songs": 1, "colour": "red"}, run_name="bad")
    assert standin.problems == [
        "POST /apis/v2beta1/runs: parameter 'colour' is not an input of the pipeline"
    ]
    assert standin.runs == {}


def test_recurring_run_by_cron(standin, settings, package):
    schedule = remote.create_recurring_run(
        settings, package, ARGUMENTS, name="every morning", cron="0 0 6 * * *", max_concurrency=2
    )

    _no_problems(standin)
    (created,) = standin.received("POST", "/recurringruns")
    body = created.body
    assert body["display_name"] == "every morning"
    assert body["trigger"] == {"cron_schedule": {"cron": "0 0 6 * * *"}}
    assert body["mode"] == "ENABLE"
    assert int(body["max_concurrency"]) == 2
    assert body["runtime_config"]["parameters"] == ARGUMENTS
    assert body["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "tiny-jukebox"
    (experiment_id,) = standin.experiments
    assert body["experiment_id"] == experiment_id
    assert standin.experiments[experiment_id]["display_name"] == "jukebox"

    assert schedule.id in standin.recurring_runs
    assert schedule.name == "every morning"
    assert schedule.cron == "0 0 6 * * *" and schedule.interval_seconds is None
    assert schedule.enabled and schedule.max_concurrency == 2
    assert schedule.parameters == ARGUMENTS


def test_recurring_run_by_interval(standin, settings, package):
    schedule = remote.create_recurring_run(
        settings, package, {"songs": 5}, name="hourly", interval_seconds=3600, experiment="ct"
    )

    _no_problems(standin)
    (created,) = standin.received("POST", "/recurringruns")
    assert created.body["trigger"] == {"periodic_schedule": {"interval_second": 3600}}
    assert int(created.body["max_concurrency"]) == 1
    assert created.body["mode"] == "ENABLE"
    assert [e["display_name"] for e in standin.experiments.values()] == ["ct"]
    assert schedule.interval_seconds == 3600 and schedule.cron is None


def test_a_five_field_cron_is_refused_before_any_request(standin, settings, package):
    with pytest.raises(remote.InvalidSchedule) as caught:
        remote.create_recurring_run(settings, package, ARGUMENTS, name="n", cron="0 6 * * 1")
    assert isinstance(caught.value, JukeboxError)
    message = str(caught.value)
    assert "five fields" in message and "'0 0 6 * * 1'" in message
    assert standin.requests == []


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"cron": "0 0 6 * * *", "interval_seconds": 60}, "exactly one schedule"),
        ({}, "exactly one schedule"),
        ({"interval_seconds": 0}, "positive number of seconds"),
        ({"cron": "0 0 6 * * *", "max_concurrency": 11}, "outside 1..10"),
        ({"cron": "* * *"}, "has 3 fields"),
        ({"cron": "0 0 6 * * * *"}, "has 7 fields"),
        ({"cron": "0 0 6 * * $"}, "cannot read ($)"),
        ({"cron": "@sometimes"}, "not one KFP knows"),
    ],
)
def test_bad_schedules_are_refused_before_any_request(standin, settings, package, kwargs, words):
    with pytest.raises(remote.InvalidSchedule) as caught:
        remote.create_recurring_run(settings, package, ARGUMENTS, name="n", **kwargs)
    assert words in str(caught.value)
    assert standin.requests == []


@pytest.mark.parametrize(
    "cron",
    [
        "0 0 6 * * *",
        "0 */15 * * * ?",
        "0 30 2 1 JAN-JUN MON-FRI",
        "@daily",
        "@every 1h30m",
        "  0  0 6 * * *  ",
    ],
)
def test_six_field_crons_and_descriptors_are_accepted(cron):
    assert remote.validate_cron(cron) == " ".join(cron.split())


def test_a_missing_package_is_refused_before_any_request(standin, settings, tmp_path):
    with pytest.raises(remote.InvalidPackage, match="compile the pipeline first"):
        remote.submit_run(settings, tmp_path / "none.yaml", {}, run_name="x")
    with pytest.raises(remote.InvalidPackage, match="not a compiled pipeline package"):
        remote.submit_run(settings, tmp_path / "pipeline.py", {}, run_name="x")
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\n")
    with pytest.raises(remote.InvalidPackage, match="not a compiled KFP pipeline"):
        remote.submit_run(settings, other, {}, run_name="x")
    assert standin.requests == []


def test_list_runs_newest_first_with_parameters(standin, settings, package):
    older = remote.submit_run(settings, package, {"songs": 1}, run_name="older")
    standin.runs[older.id]["created_at"] = "2020-01-01T00:00:00Z"
    newer = remote.submit_run(settings, package, {"songs": 2}, run_name="newer")

    runs = remote.list_runs(settings, page_size=5)

    _no_problems(standin)
    (listed,) = standin.received("GET", "/runs")
    assert listed.query["page_size"] == ["5"]
    assert listed.query["sort_by"] == ["created_at desc"]
    assert [r.id for r in runs] == [newer.id, older.id]
    assert [r.parameters for r in runs] == [{"songs": 2}, {"songs": 1}]
    assert {r.pipeline for r in runs} == {"tiny-jukebox"}
    assert runs[1].created_at.year == 2020
    assert all(r.tasks == () for r in runs)


def test_list_runs_of_an_empty_server(standin, settings):
    assert remote.list_runs(settings) == []
    _no_problems(standin)


def test_get_run_carries_its_tasks(standin, settings, package):
    submitted = remote.submit_run(settings, package, ARGUMENTS, run_name="r")

    run = remote.get_run(settings, submitted.id)

    _no_problems(standin)
    assert len(standin.received("GET", f"/runs/{submitted.id}")) == 1
    assert run.state == "RUNNING"
    assert {t.name: t.state for t in run.tasks} == {"make-data": "SUCCEEDED", "train": "RUNNING"}
    assert run.tasks[0].finished_at is not None and run.tasks[1].finished_at is None
    assert run.tasks[0].pod_name == "tiny-make-data-0"


def test_follow_run_polls_until_it_succeeds(standin, settings, package):
    submitted = remote.submit_run(settings, package, ARGUMENTS, run_name="followed")
    seen = []

    run = remote.follow_run(settings, submitted.id, poll=0.01, timeout=30, on_change=seen.append)

    _no_problems(standin)
    assert len(standin.received("GET", f"/runs/{submitted.id}")) == standin.polls_until_done
    assert run.finished and run.succeeded
    assert run.finished_at is not None
    assert {t.state for t in run.tasks} == {"SUCCEEDED"}
    # on_change saw each change once: RUNNING (read 1; read 2 changed nothing), then SUCCEEDED.
    assert [r.state for r in seen] == ["RUNNING", "SUCCEEDED"]


def test_follow_run_gives_up_after_its_timeout(standin, settings, package):
    standin.polls_until_done = 10_000
    submitted = remote.submit_run(settings, package, ARGUMENTS, run_name="slow")

    with pytest.raises(remote.FollowTimeout, match="still RUNNING after 0.2 s") as caught:
        remote.follow_run(settings, submitted.id, poll=0.05, timeout=0.2)
    assert caught.value.run.id == submitted.id
    assert 1 <= len(standin.received("GET", f"/runs/{submitted.id}")) <= 5


def test_an_unknown_run_is_named(standin, settings):
    with pytest.raises(remote.RunNotFound, match="There is no run 'nope'.*pipeline runs"):
        remote.get_run(settings, "nope")
    assert [r.path for r in standin.requests][-1] == "/apis/v2beta1/runs/nope"


def test_a_refused_token_says_to_set_kfp_token(standin, tmp_path, package, caplog):
    wrong = "wrong-token-123"
    settings = Settings(home=tmp_path, kfp_host=standin.url, kfp_token=wrong)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(remote.PipelinesAuthError) as caught:
        remote.submit_run(settings, package, ARGUMENTS, run_name="r")

    message = str(caught.value)
    assert "refused the token (401)" in message and "KFP_TOKEN" in message
    assert wrong not in message and wrong not in caplog.text
    # One quick probe, not kfp.Client's five health checks five seconds apart.
    assert [(r.method, r.path) for r in standin.requests] == [("GET", "/apis/v2beta1/healthz")]
    assert standin.requests[0].headers["authorization"] == f"Bearer {wrong}"


def test_a_login_page_says_to_set_kfp_token(standin, settings):
    standin.login_page = True
    with pytest.raises(remote.PipelinesAuthError, match="login page: set KFP_TOKEN"):
        remote.list_runs(settings)


def test_an_unreachable_host_says_to_check_kfp_host(tmp_path):
    with socket.socket() as sock:  # a port that nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(home=tmp_path, kfp_host=f"http://127.0.0.1:{port}", kfp_token=TOKEN)

    with pytest.raises(remote.PipelinesUnreachable) as caught:
        remote.list_runs(settings)
    message = str(caught.value)
    assert f"Could not reach Kubeflow Pipelines at http://127.0.0.1:{port}" in message
    assert "check KFP_HOST" in message
    assert TOKEN not in message


def test_a_host_without_the_api_says_so(standin, settings):
    standin.token = None
    # The stand-in serves no /apis/v2beta1 under this prefix, as a wrong route would not.
    settings = Settings(home=settings.home, kfp_host=standin.url + "/elsewhere", kfp_token=TOKEN)
    with pytest.raises(remote.PipelinesUnreachable, match="no Kubeflow Pipelines v2beta1 API"):
        remote.list_runs(settings)
    standin.problems.clear()  # the 404 was the point


def test_no_host_configured(tmp_path):
    with pytest.raises(remote.PipelinesNotConfigured, match="set KFP_HOST"):
        remote.list_runs(Settings(home=tmp_path))


def test_a_bare_host_name_means_https():
    settings = Settings(home=Path("."), kfp_host="ds-pipeline.apps.example.com/")
    assert remote._host(settings) == "https://ds-pipeline.apps.example.com"
