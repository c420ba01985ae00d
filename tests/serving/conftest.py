"""Fixtures for serving tests: a tiny real bundle, and a local server on a free port."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from jukebox.data.schema import FEATURES
from jukebox.serving.runtime import load_bundle_model
from jukebox.serving.server import start_in_thread
from tests.bundles import LABELS, make_tiny_bundle

MODEL = "jukebox"


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("JUKEBOX_SERVING_TOKEN", raising=False)
    monkeypatch.delenv("MODEL_REGISTRY_URL", raising=False)
    monkeypatch.delenv("KSERVE_NAMESPACE", raising=False)


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    return make_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")


@pytest.fixture(scope="session")
def registry_settings(tmp_path_factory):
    """A JUKEBOX_HOME with the embedded registry running and model ``songs`` registered twice
    (version 1 for production, version 2 newer), shared so the registry starts only once."""
    from jukebox.config import load_settings
    from jukebox.registry.register import register_bundle
    from jukebox.registry.server.process import stop_server
    from jukebox.registry.versions import mark_production
    from jukebox.serving import deploy

    settings = load_settings({"JUKEBOX_HOME": str(tmp_path_factory.mktemp("registry-home"))})
    exported = make_tiny_bundle(settings.models_dir / "exported")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUKEBOX_HOME", str(settings.home))
        register_bundle(exported.path, "songs", "1", settings=settings)
        # Another model (the same one cannot be registered twice), kept out of models_dir so
        # that the Deploy page's newest exported bundle stays "exported".
        newer = make_tiny_bundle(tmp_path_factory.mktemp("v2-bundle") / "newer", seed=1)
        register_bundle(newer.path, "songs", "2", settings=settings)
        mark_production("songs", "1", settings)
    yield settings
    for deployment in deploy.list_deployments(settings):
        deploy.stop_deployment(settings, deployment.name)
    stop_server(settings)


@pytest.fixture(scope="session")
def served(bundle):
    """A server for the tiny bundle, shared by the protocol tests (they only read)."""
    running = start_in_thread(load_bundle_model(bundle, name=MODEL, version="1"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def url(served):
    return served.url


def song_rows(n: int, seed: int = 0) -> list[dict]:
    """``n`` plausible songs as feature dicts (raw units)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        rows.append(
            {
                "is_explicit": float(rng.integers(0, 2)),
                "duration_ms": float(rng.integers(90_000, 300_000)),
                "danceability": float(rng.random()),
                "energy": float(rng.random()),
                "key": float(rng.integers(0, 12)),
                "loudness": float(rng.uniform(-20, 0)),
                "mode": float(rng.integers(0, 2)),
                "speechiness": float(rng.random() * 0.3),
                "acousticness": float(rng.random()),
                "instrumentalness": float(rng.random() * 0.1),
                "liveness": float(rng.random() * 0.5),
                "valence": float(rng.random()),
                "tempo": float(rng.uniform(70, 180)),
            }
        )
    return rows


def workshop_request(rows: list[dict], **extra) -> dict:
    """The request a user writes by hand: one FP32 [N, 1] input per feature, flat data."""
    return {
        **extra,
        "inputs": [
            {"name": f, "shape": [len(rows), 1], "datatype": "FP32", "data": [r[f] for r in rows]}
            for f in FEATURES
        ],
    }


def expected_probabilities(bundle, rows: list[dict]) -> np.ndarray:
    """What onnxruntime answers in-process for the same rows: the reference for the server."""
    session = ort.InferenceSession(str(bundle.onnx_path), providers=["CPUExecutionProvider"])
    feeds = {f: np.asarray([[r[f]] for r in rows], np.float32) for f in FEATURES}
    return session.run(["output"], feeds)[0]


__all__ = ["LABELS", "MODEL", "expected_probabilities", "song_rows", "workshop_request"]
