"""modelscan before anything loads (issue 21, part 4): the scan, its refusal in modelscan's
own words, ``python -m jukebox scan``, and Keras loading with safe mode.

Registration and deployment refusing the workshop's Lambda model are tested beside them, in
tests/registry/test_modelscan.py and tests/serving/test_modelscan.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jukebox.__main__ import main
from jukebox.model.runs import read_keras
from jukebox.model.scan import (
    Finding,
    ScanReport,
    UnsafeModelError,
    refuse_unsafe,
    scan_path,
)
from tests.bundles import make_tiny_bundle
from tests.unsafe_models import make_keras_bundle

LAMBDA_WORDS = "Use of unsafe operator 'Lambda' from module 'Keras'"


@pytest.fixture(scope="module")
def lambda_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("lambda")
    marker = root / "lambda-ran"
    return make_keras_bundle(root / "totally-safe", lambda_marker=marker), marker


@pytest.fixture(scope="module")
def keras_bundle(tmp_path_factory):
    return make_keras_bundle(tmp_path_factory.mktemp("clean") / "clean")


def test_a_clean_bundle_passes_and_its_onnx_model_is_said_to_be_unscanned(tmp_path):
    bundle = make_tiny_bundle(tmp_path / "tiny")
    report = scan_path(bundle.path)
    assert report.passed and not report.issues
    refuse_unsafe(report)  # does not raise
    # modelscan has no ONNX scanner: the report says so rather than calling the model scanned.
    assert report.unscanned_models == ("model.onnx",)
    assert "model.onnx" not in report.scanned
    assert "not scanned: model.onnx (modelscan has no ONNX scanner)" in report.summary()


def test_a_path_that_is_not_there_is_a_sentence(tmp_path):
    with pytest.raises(Exception, match="does not exist"):
        scan_path(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("severity", "refused"),
    [("LOW", False), ("MEDIUM", True), ("HIGH", True), ("CRITICAL", True)],
)
def test_medium_or_higher_refuses_and_low_is_recorded(severity, refused):
    finding = Finding(severity, "Use of unsafe operator 'x' from module 'y'", "m.keras")
    report = ScanReport(path="b", issues=(finding,), modelscan_version="0.8.8")
    assert report.passed is not refused
    assert str(finding) in report.summary()
    if refused:
        with pytest.raises(UnsafeModelError, match=f"{severity}: Use of unsafe operator 'x'"):
            refuse_unsafe(report, "deploy")
    else:
        refuse_unsafe(report, "deploy")


def test_a_model_file_modelscan_could_not_read_is_refused():
    report = ScanReport(path="b", errors=("m.keras: Unable to scan .keras file",))
    with pytest.raises(UnsafeModelError, match="could not scan: m.keras: Unable to scan"):
        refuse_unsafe(report, "register")


def test_a_report_reads_back_from_json():
    report = ScanReport(path="b", modelscan_version="0.8.8", scanned=("model.keras",))
    assert ScanReport.from_json(report.to_json()) == report


def test_jukebox_scan_passes_a_clean_bundle(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path / "home"))
    bundle = make_tiny_bundle(tmp_path / "tiny")
    assert main(["scan", str(bundle.path)]) == 0
    said = capsys.readouterr().out
    assert "No issues found" in said and "model.onnx" in said


def test_jukebox_scan_of_nothing_is_an_error(tmp_path, capsys):
    assert main(["scan", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow  # builds a Keras model; modelscan's scanners import TensorFlow
def test_the_totally_safe_model_is_refused_with_modelscans_words(lambda_bundle):
    bundle, marker = lambda_bundle
    report = scan_path(bundle.path)
    assert not report.passed
    (finding,) = report.refusing
    assert (finding.severity, finding.description) == ("MEDIUM", LAMBDA_WORDS)
    assert finding.source == "model.keras:config.json"
    with pytest.raises(UnsafeModelError) as refused:
        refuse_unsafe(report, "register")
    assert LAMBDA_WORDS in str(refused.value) and "MEDIUM" in str(refused.value)
    assert str(bundle.path) in str(refused.value)
    assert not marker.exists()  # scanning reads the file; nothing ran


@pytest.mark.slow  # builds a Keras model; modelscan's scanners import TensorFlow
def test_a_clean_keras_model_is_scanned_and_passes(keras_bundle, tmp_path):
    report = scan_path(keras_bundle.path, cache_dir=tmp_path / "cache")
    assert report.passed and not report.issues and not report.errors
    assert "model.keras" in report.scanned
    assert report.unscanned_models == ("model.onnx",)
    # The same files again: the report is the cached one, and says the same.
    again = scan_path(keras_bundle.path, cache_dir=tmp_path / "cache")
    assert again.cached and again == report
    # The same model.keras in another folder (a bundle fetched from storage) is not scanned
    # again either.
    fetched = tmp_path / "fetched"
    fetched.mkdir()
    for name in ("model.keras", "model.onnx", "preprocessing.json"):
        (fetched / name).write_bytes((keras_bundle.path / name).read_bytes())
    copy = scan_path(fetched, cache_dir=tmp_path / "cache")
    assert copy.cached and copy.passed and copy.scanned == ("model.keras",)


@pytest.mark.slow  # builds a Keras model; modelscan's scanners import TensorFlow
def test_a_changed_file_is_scanned_again_not_taken_from_the_cache(tmp_path, keras_bundle):
    import shutil

    copy = tmp_path / "bundle"
    shutil.copytree(keras_bundle.path, copy)
    cache = tmp_path / "cache"
    assert scan_path(copy, cache_dir=cache).passed
    marker = tmp_path / "lambda-ran"
    unsafe = make_keras_bundle(tmp_path / "unsafe", lambda_marker=marker)
    shutil.copyfile(unsafe.path / "model.keras", copy / "model.keras")
    report = scan_path(copy, cache_dir=cache)
    assert not report.cached and not report.passed


@pytest.mark.slow  # a process that imports TensorFlow for modelscan's scanners
def test_jukebox_scan_prints_the_finding_and_exits_non_zero(lambda_bundle, tmp_path):
    bundle, marker = lambda_bundle
    env = {**os.environ, "JUKEBOX_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [sys.executable, "-m", "jukebox", "scan", str(bundle.path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 1, result.stderr
    assert f"MEDIUM: {LAMBDA_WORDS} (model.keras:config.json)" in result.stdout
    assert "Refused" in result.stdout
    as_json = subprocess.run(
        [sys.executable, "-m", "jukebox", "scan", "--json", str(bundle.path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert as_json.returncode == 1
    (issue,) = json.loads(as_json.stdout)["issues"]
    assert issue["description"] == LAMBDA_WORDS and issue["severity"] == "MEDIUM"
    assert not marker.exists()


@pytest.mark.slow  # builds a Keras model
def test_keras_loads_a_bundle_in_safe_mode_and_never_runs_its_lambda(lambda_bundle):
    bundle, marker = lambda_bundle
    with pytest.raises(ValueError, match="safe_mode"):
        read_keras(bundle.path)
    assert not marker.exists()
