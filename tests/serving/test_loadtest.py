"""A bounded load test against a real local server: the workshop's locustfile request is
answered, every second is reported live, the test stops by itself, errors are counted."""

from __future__ import annotations

import pytest

from jukebox.serving.loadtest import LoadTestError, run_load, workshop_request
from tests.serving.conftest import MODEL, song_rows


def test_the_workshops_locust_request_is_answered_under_load(url):
    seconds = []
    report = run_load(
        f"{url}/v2/models/{MODEL}/infer", [workshop_request()], users=4, duration=2,
        on_second=seconds.append,
    )  # fmt: skip
    assert report.errors == 0 and report.first_errors == []
    assert report.requests > 20 and len(report.seconds) >= 2
    assert [s.second for s in seconds] == list(range(1, len(seconds) + 1))
    assert sum(s.requests for s in seconds) == report.requests
    assert 0 < report.p50_ms <= report.p95_ms <= report.p99_ms
    assert report.elapsed <= 2.5  # it stopped by itself
    assert "4 users" in report.sentence and "no error" in report.sentence


def test_real_songs_in_turn_and_errors_counted_with_the_servers_words(url):
    from jukebox.serving.client import build_request

    bodies = [build_request([song]) for song in song_rows(3)]
    bodies.append({"inputs": [{"name": "tempo", "shape": [1, 1], "datatype": "FP32"}]})
    report = run_load(f"{url}/v2/models/{MODEL}/infer", bodies, users=2, duration=1)
    assert report.requests > 0 and report.errors > 0
    assert report.first_errors[0].startswith("HTTP 400")


def test_nothing_listening_is_errors_not_a_crash():
    report = run_load("http://127.0.0.1:9/v2/models/x/infer", [workshop_request()], duration=1)
    assert report.requests == 0 and report.errors > 0
    assert "ConnectionRefusedError" in report.first_errors[0]


@pytest.mark.parametrize(
    ("users", "duration", "said"),
    [(0, 5, "Users must be from 1 to 64"), (65, 5, "from 1 to 64"), (2, 301, "1 to 300 s")],
)
def test_a_test_outside_the_bounds_is_refused(users, duration, said):
    with pytest.raises(LoadTestError, match=said):
        run_load("http://127.0.0.1:9/v2/models/x/infer", [{}], users=users, duration=duration)


def test_from_a_terminal(url, capsys):
    from jukebox.__main__ import main

    code = main(["loadtest", "--url", url, "--model", MODEL, "--users", "2", "--duration", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "2 users for 1 s against" in out and "no error" in out
    assert main(["loadtest", "--url", url, "--users", "2"]) == 2
    assert "--url needs --model" in capsys.readouterr().err


def test_the_live_chart_shows_each_second():
    from jukebox.serving.loadtest import LoadSecond
    from jukebox.ui.deploy import load_figure

    seconds = [LoadSecond(1, 900, 0, 0.4, 0.9, 1.2), LoadSecond(2, 850, 3, 0.5, 1.0, 2.0)]
    answered, errors, p50, p99 = load_figure(seconds).data
    assert list(answered.y) == [900, 850] and list(errors.y) == [0, 3]
    assert list(p50.y) == [0.4, 0.5] and list(p99.y) == [1.2, 2.0] and p99.yaxis == "y2"


def test_real_songs_of_the_current_data_set_from_a_terminal(url, capsys):
    from jukebox.__main__ import main
    from jukebox.config import load_settings
    from jukebox.data.store import save_current
    from jukebox.data.synthetic import generate
    from jukebox.serving.loadtest import song_requests

    settings = load_settings()
    save_current(generate(300, 1, n_days=3), settings)
    bodies = song_requests(settings, 50)
    assert len(bodies) == 50 and len({str(b) for b in bodies}) == 50  # fifty different songs
    args = ["loadtest", "--url", url, "--model", MODEL, "--request", "songs", "--duration", "1"]
    assert main(args) == 0 and "no error" in capsys.readouterr().out


@pytest.mark.slow  # a deployment's server process
def test_the_deploy_page_runs_a_load_test_with_a_live_chart(bundle):
    from streamlit.testing.v1 import AppTest

    from jukebox.config import load_settings
    from jukebox.serving import deploy

    settings = load_settings()
    deploy.deploy_local(settings, "tiny", bundle_dir=bundle.path, log=False)
    try:
        at = AppTest.from_file("../../app.py", default_timeout=60)
        at.switch_page("app_pages/deploy.py")
        at.run()
        at.slider(key="load_users").set_value(2)
        at.slider(key="load_seconds").set_value(5)
        at.button(key="load_go").click().run()
        assert not at.exception and not at.error
        (said,) = [s.value for s in at.success if "users for" in s.value]
        assert said.startswith("2 users for") and "no error" in said
        assert any("second" in chart.proto.spec for chart in at.get("plotly_chart"))
    finally:
        deploy.stop_deployment(settings, "tiny")
