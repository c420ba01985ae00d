"""Drift alerts from outside: Prometheus Alertmanager's webhook, and the rule in deploy/ that
fires it on the metric the monitoring service exposes; streaks that outlive a restart."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import yaml

from jukebox.config import load_settings
from jukebox.monitoring.app import ALERTMANAGER_PATH
from jukebox.monitoring.client import schedule_meanshift, training_payload, upload
from jukebox.monitoring.history import alerts
from jukebox.monitoring.payload_log import PayloadLog
from jukebox.monitoring.service import ApiError, MonitoringService
from jukebox.serving.inference_log import InferenceRecord
from tests.monitoring.live import running_monitor
from tests.monitoring.test_service import parse_prometheus

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
TOKEN = "alerts-test-token-not-secret"
FEATURES = ["danceability", "acousticness", "tempo"]
SHIFTED = {"acousticness": 0.3}


def centred(rng, n: int, mean: float) -> np.ndarray:
    """``n`` values spread as songs' features are, whose mean is exactly ``mean``: a t-test then
    finds nothing in a column that is not shifted, whatever the draw."""
    values = rng.normal(0.0, 0.1, n)
    return (values - values.mean() + mean).astype(np.float32)


def training(rng, n=400) -> dict:
    inputs = {f: centred(rng, n, 0.5) for f in FEATURES}
    return training_payload("jukebox", inputs, rng.random((n, 2), dtype=np.float32))


def log_batch(log, rng, start: int, n: int = 50) -> None:
    """``n`` live one-row inferences, acousticness shifted, the other features as in training."""
    columns = {f: centred(rng, n, 0.5 + SHIFTED.get(f, 0.0)) for f in FEATURES}
    for i in range(n):
        log(
            InferenceRecord(
                f"q{start + i}", "jukebox", "1", time.time(),
                {f: values[i : i + 1].reshape(1, 1) for f, values in columns.items()},
                {"output": rng.random((1, 2), dtype=np.float32)},
            )
        )  # fmt: skip
    log.flush()


def notification(series: list[dict], rule: dict, starts_at: str, status="firing") -> dict:
    """What Alertmanager posts for the rule's alerts on ``series``: each alert's labels are the
    series' labels with the alert's name and the rule's labels; annotations as templated."""
    alerts_ = [
        {
            "status": status,
            "labels": {**s["labels"], "alertname": rule["alert"], **rule["labels"]},
            "annotations": {"value": repr(s["value"]), "threshold": "0.05"},
            "startsAt": starts_at,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": f"{abs(hash(s['labels']['subcategory'])):016x}"[:16],
        }
        for s in series
    ]
    return {
        "receiver": "jukebox-monitor", "status": status, "alerts": alerts_,
        "groupLabels": {"alertname": rule["alert"]}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "version": "4", "groupKey": "{}:{}",
        "truncatedAlerts": 0,
    }  # fmt: skip


def selector(expr: str) -> tuple[str, dict[str, str], float]:
    """``name{label="value",...} < threshold``: the expression's metric, matchers, threshold."""
    m = re.fullmatch(r"\s*([a-zA-Z_:][\w:]*)\{(.*)\}\s*<\s*([0-9.]+)\s*", expr)
    assert m, expr
    return m.group(1), dict(re.findall(r'(\w+)="([^"]*)"', m.group(2))), float(m.group(3))


def test_the_deploy_files_name_the_alert_the_webhook_and_each_other():
    rule_doc = yaml.safe_load((DEPLOY / "prometheusrule.yaml").read_text())
    assert rule_doc["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule_doc["kind"] == "PrometheusRule"
    assert rule_doc["metadata"]["name"] == "jukebox-drift"
    (rule,) = [r for g in rule_doc["spec"]["groups"] for r in g["rules"]]
    assert rule["alert"] == "JukeboxFeatureDrift" and rule["for"] == "5m"
    assert rule["labels"] == {"severity": "warning"}
    assert selector(rule["expr"]) == ("trustyai_meanshift", {"model": "jukebox"}, 0.05)

    config = yaml.safe_load((DEPLOY / "alertmanagerconfig.yaml").read_text())
    assert config["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    assert config["kind"] == "AlertmanagerConfig"
    route = config["spec"]["route"]
    assert {"name": "alertname", "value": "JukeboxFeatureDrift", "matchType": "="} in route[
        "matchers"
    ]
    (receiver,) = [r for r in config["spec"]["receivers"] if r["name"] == route["receiver"]]
    (webhook,) = receiver["webhookConfigs"]
    assert webhook["url"].endswith(ALERTMANAGER_PATH)
    assert webhook["httpConfig"]["authorization"]["type"] == "Bearer"


def test_the_rule_fires_on_the_exposed_series_and_alertmanager_records_each_alert_once(tmp_path):
    rule_doc = yaml.safe_load((DEPLOY / "prometheusrule.yaml").read_text())
    (rule,) = [r for g in rule_doc["spec"]["groups"] for r in g["rules"]]
    metric, matchers, threshold = selector(rule["expr"])
    rng = np.random.default_rng(7)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with running_monitor(tmp_path, TOKEN) as url:
        upload(url, training(rng), TOKEN)
        request_id = schedule_meanshift(url, "jukebox", FEATURES, token=TOKEN, batch_size=50)
        log = PayloadLog(tmp_path / "monitoring")
        log_batch(log, rng, 0)
        log.close()
        requests.post(url + "/jukebox/evaluate", headers=auth).raise_for_status()

        # What Prometheus would scrape, and which series the rule's expression selects.
        samples = parse_prometheus(requests.get(url + "/q/metrics", headers=auth).text)
        firing = [
            s for s in samples
            if s["name"] == metric and matchers.items() <= s["labels"].items()
            and s["value"] < threshold
        ]  # fmt: skip
        assert {s["labels"]["subcategory"] for s in firing} == set(SHIFTED)

        body = notification(firing, rule, "2025-05-01T10:00:00.123456789Z")
        hook = url + ALERTMANAGER_PATH
        assert requests.post(hook, json=body).status_code == 401
        first = requests.post(hook, json=body, headers=auth)
        assert first.status_code == 200 and first.json()["recorded"] == len(firing)
        repeated = requests.post(hook, json=body, headers=auth)  # Alertmanager's repeat_interval
        assert repeated.json()["recorded"] == 0 and repeated.json()["duplicate"] == len(firing)
        resolved = notification(firing, rule, "2025-05-01T10:00:00.123456789Z", "resolved")
        assert requests.post(hook, json=resolved, headers=auth).json()["recorded"] == 0
        again = notification(firing, rule, "2025-05-02T08:00:00Z")  # fired anew
        assert requests.post(hook, json=again, headers=auth).json()["recorded"] == len(firing)

    received = alerts(load_settings({"JUKEBOX_HOME": str(tmp_path)}), "jukebox")
    assert len(received) == 2
    for alert in received:
        assert alert.source.startswith("alertmanager ")
        assert (alert.model, alert.metric, alert.request_id) == ("jukebox", "MEANSHIFT", request_id)
        assert alert.columns == ("acousticness",)
        assert alert.p_values == {"acousticness": firing[0]["value"]}
        assert alert.threshold == 0.05


def test_alerts_that_name_no_model_or_are_resolved_are_not_recorded(tmp_path):
    service = MonitoringService(tmp_path)
    try:
        body = {
            "version": "4",
            "status": "firing",
            "alerts": [
                {"status": "firing", "labels": {"alertname": "HighLatency"}, "startsAt": "t"},
                {"status": "firing", "labels": {"model": "../etc"}, "startsAt": "t"},
                {"status": "resolved", "labels": {"model": "jukebox"}, "startsAt": "t"},
                {"status": "firing", "labels": {"model": "jukebox"}, "startsAt": "t0",
                 "annotations": {"value": "not a number"}},
                "not an alert",
            ],
        }  # fmt: skip
        counts = service.receive_alertmanager(body)
        assert counts == {"recorded": 1, "duplicate": 0, "resolved": 1, "ignored": 3}
        (alert,) = service_alerts(tmp_path)
        # No fingerprint (older Alertmanagers): the labels and startsAt still identify it.
        assert (alert.metric, alert.columns, alert.p_values) == ("MEANSHIFT", (), {})
        assert service.receive_alertmanager(body)["duplicate"] == 1
        for bad in ({"alerts": "none"}, [], {"version": "3", "alerts": []}):
            with pytest.raises(ApiError) as refused:
                service.receive_alertmanager(bad)
            assert refused.value.status == 400
    finally:
        service.close()


def service_alerts(root: Path):
    from jukebox.monitoring.history import read_alerts

    return read_alerts(root, "jukebox")


def test_a_restarted_service_goes_on_counting_drifted_evaluations(tmp_path):
    rng = np.random.default_rng(3)
    service = MonitoringService(tmp_path, alert_after=3)
    service.upload(training(rng))
    service.schedule(
        "MEANSHIFT",
        {"modelId": "jukebox", "referenceTag": "TRAINING", "fitColumns": FEATURES,
         "batchSize": 50},
    )  # fmt: skip
    for batch in range(2):
        log_batch(service.log, rng, batch * 50)
        assert service.evaluate()[0]["drifted"] == ["acousticness"]
    service.close()
    assert service_alerts(tmp_path) == []

    restarted = MonitoringService(tmp_path, alert_after=3)
    try:
        restarted.evaluate()  # the same batch as before the restart: not a third evaluation
        assert service_alerts(tmp_path) == []
        log_batch(restarted.log, rng, 100)
        restarted.evaluate()
        (alert,) = service_alerts(tmp_path)
        assert alert.columns == ("acousticness",) and alert.evaluations == 3
        assert alert.source == ""
        log_batch(restarted.log, rng, 150)
        restarted.evaluate()  # the same episode: no second alert
        assert len(service_alerts(tmp_path)) == 1
    finally:
        restarted.close()
