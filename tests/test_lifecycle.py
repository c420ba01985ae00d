"""The Home page's account of where the model's life stands, read from what each part keeps."""

import json

import pytest

from jukebox.config import load_settings
from jukebox.lifecycle import life_stages
from jukebox.registry.register import register_bundle
from jukebox.registry.server import stop_server
from jukebox.registry.versions import mark_production
from jukebox.serving.deploy import deploy_local, stop_deployment
from tests.bundles import make_tiny_bundle


def test_a_new_home_has_reached_no_stage(tmp_path):
    stages = life_stages(load_settings({"JUKEBOX_HOME": str(tmp_path)}))
    assert [s.title for s in stages] == [
        "Latest training",
        "Export",
        "Registered versions",
        "Deployments",
        "Monitoring",
    ]
    assert not any(s.reached for s in stages)


@pytest.mark.slow  # starts a server process
def test_stages_follow_a_model_from_export_to_deployment(tmp_path, monkeypatch):
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path))
    settings = load_settings()
    bundle = make_tiny_bundle(settings.models_dir / "20260101-000000-abcdef")
    metrics = json.loads((bundle.path / "metrics.json").read_text())
    (bundle.path / "metrics.json").write_text(json.dumps({**metrics, "accuracy": 0.25}))
    try:
        register_bundle(bundle.path, "jukebox", "1", settings=settings)
        mark_production("jukebox", "1", settings)
        deployment = deploy_local(settings, "songs", model="jukebox", version="1")
        try:
            training, export, registry, deployed, watched = life_stages(settings)
            assert training.reached and "0.250" in training.summary
            assert export.reached and "verified" in export.summary
            assert registry.reached and "production: jukebox v1" in registry.summary
            assert deployed.reached and "songs" in deployed.summary
            assert not watched.reached  # nothing asked yet
        finally:
            stop_deployment(settings, deployment.name)
        assert not life_stages(settings)[3].reached
    finally:
        stop_server(settings)


def test_monitoring_reads_logged_deployments_and_their_alerts(tmp_path):
    from jukebox.lifecycle import monitoring_stage
    from jukebox.monitoring.history import DriftAlert, append_alert
    from jukebox.monitoring.paths import monitoring_dir
    from jukebox.monitoring.payload_log import write_segment

    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    root = monitoring_dir(settings)
    write_segment(root, "songs", {"_tag": [""], "tempo": [120.0]}, tagged=False)
    assert monitoring_stage(settings).summary == "Watching songs: no drift alert."
    append_alert(root, DriftAlert(1.0, "songs", "r", "MEANSHIFT", ("tempo",), {}, 3, 0.05))
    stage = monitoring_stage(settings)
    assert stage.reached and "1 drift alert(s), the latest on songs (tempo)" in stage.summary
