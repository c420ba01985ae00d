"""A whole training in one call: prepared, trained, evaluated, saved, exported, verified."""

from __future__ import annotations

import json
import shutil
import zipfile
from io import BytesIO

import pytest

from jukebox.model.bundle import BUNDLE_FILES, read_bundle
from jukebox.model.report import ModelReport
from jukebox.model.runs import (
    RUN_FILE,
    TEST_SPLIT_FILE,
    bundle_zip,
    list_trainings,
    load_training,
)
from jukebox.model.workflow import export_training

pytestmark = pytest.mark.slow  # built on a real CLI training


@pytest.fixture(scope="module")
def bundle_home(cli_run, tmp_path_factory):
    """A copy of the CLI's tiny training (tests here change it), with its settings."""
    from jukebox.config import load_settings

    root, result, _job = cli_run
    assert result.returncode == 0, result.stderr[-3000:]
    home = tmp_path_factory.mktemp("home")
    shutil.copytree(root / "home" / "models", home / "models")
    settings = load_settings({"JUKEBOX_HOME": str(home)})
    return settings, load_training(settings.models_dir / "cli-tiny")


def test_run_training_writes_a_verified_bundle(bundle_home):
    settings, record = bundle_home
    bundle = read_bundle(record.path)
    assert bundle.verification_passed
    assert set(bundle.sha256()) == set(BUNDLE_FILES)
    assert bundle.report.onnx.sha256 == bundle.sha256()["model.onnx"]
    assert bundle.preprocessing.labels == tuple(sorted(bundle.preprocessing.labels))
    report = bundle.report
    assert report.params["width"] == 8 and report.params["epochs"] == 2
    assert report.data.source.startswith("synthetic")
    assert 0 < report.evaluation.accuracy_to_bayes <= 1.2
    assert len(report.fit.history["val_loss"]) == 2
    card = (record.path / "model_card.md").read_text()
    assert "passed: **True**" in card and ", ".join(bundle.preprocessing.labels) in card


def test_bundle_round_trip_reads_what_was_written(bundle_home):
    _settings, record = bundle_home
    bundle = read_bundle(record.path)
    saved = json.loads((record.path / "preprocessing.json").read_text())
    assert list(bundle.preprocessing.features) == saved["features"]
    assert list(bundle.preprocessing.minima) == saved["minima"]
    written = json.loads((record.path / "metrics.json").read_text())
    assert ModelReport.from_dict(written) == bundle.report == record.report
    assert json.loads(bundle.report.to_json()) == written


def test_artifacts_are_json_text_and_models_never_pickles(bundle_home):
    _settings, record = bundle_home
    names = sorted(p.name for p in record.path.iterdir())
    # The CLI's training was logged as an experiment run, which the directory names.
    assert names == sorted([*BUNDLE_FILES, TEST_SPLIT_FILE, RUN_FILE])
    for name in ("metrics.json", "preprocessing.json", RUN_FILE):
        json.loads((record.path / name).read_text())
    # model.keras is a zip of JSON config and HDF5 weights: no pickled Python objects.
    with zipfile.ZipFile(record.path / "model.keras") as archive:
        assert all(not n.endswith((".pkl", ".pickle")) for n in archive.namelist())
        json.loads(archive.read("config.json"))


def test_listing_finds_trainings_newest_first(bundle_home, tmp_path):
    settings, record = bundle_home
    older = settings.models_dir / "20200101-000000-bbbbbb"
    older.mkdir()
    unexported = {**record.report.to_dict(), "training_id": older.name, "accuracy": 0.1}
    for key in ("verification", "onnx", "exported"):
        unexported.pop(key)
    (older / "metrics.json").write_text(json.dumps(unexported))
    (older / "preprocessing.json").write_text((record.path / "preprocessing.json").read_text())
    (settings.models_dir / "not-a-training").mkdir()
    try:
        records = list_trainings(settings)
        assert [r.id for r in records] == [record.id, older.name]
        assert records[0].exported and not records[1].exported
        assert "export verified" in records[0].label and "not exported" in records[1].label
    finally:
        shutil.rmtree(older)


def test_bundle_zip_holds_the_bundle_files(bundle_home):
    _settings, record = bundle_home
    with zipfile.ZipFile(BytesIO(bundle_zip(record.path))) as archive:
        assert sorted(archive.namelist()) == sorted(f"{record.id}/{n}" for n in BUNDLE_FILES)


def test_an_export_that_fails_verification_is_marked_failed(bundle_home, monkeypatch):
    _settings, record = bundle_home
    import jukebox.model.export as export

    real = export.run_openvino
    monkeypatch.setattr(export, "run_openvino", lambda *a: real(*a) + 1e-3)
    try:
        verification = export_training(record.path).verification
        assert not verification.passed
        assert any("openvino differs" in p for p in verification.problems)
        bundle = read_bundle(record.path)
        assert not bundle.verification_passed
        assert "export FAILED" in list_trainings(_settings)[0].label
    finally:
        monkeypatch.undo()
        assert export_training(record.path).verification_passed


def test_run_training_predicts_the_test_split_once_and_verifies_against_it(tmp_path, monkeypatch):
    """Evaluation and the export's verification read the same Keras output on the test split:
    predicted once (it is most of the export's time on the default data), and the bundle still
    verified against it."""
    from jukebox.config import load_settings
    from jukebox.model import fit
    from jukebox.model.network import TrainingParams
    from jukebox.model.workflow import run_training
    from tests.model.conftest import tiny_data

    predictions = []
    real_predict = fit.predict

    def counting_predict(model, features, x):
        predictions.append(len(x))
        return real_predict(model, features, x)

    monkeypatch.setattr(fit, "predict", counting_predict)
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    params = TrainingParams(epochs=1, batch_size=64, width=8, seed=5)
    record = run_training(settings, tiny_data(n_songs=120, n_days=10), params)
    bundle = read_bundle(record.path)
    assert bundle.verification_passed
    assert predictions == [bundle.report.verification.rows]
    assert "keras_predict" in bundle.report.verification.seconds
