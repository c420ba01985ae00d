"""The v2 client: labelled probabilities from a real server, the request it sends, the errors a
person meets (dead endpoint, timeout, token, bad input, unknown model) as clear sentences."""

from __future__ import annotations

import json
import socket

import numpy as np
import pandas as pd
import pytest

from jukebox.data.schema import FEATURES
from jukebox.serving.client import (
    ServingError,
    base_url,
    build_request,
    infer,
    model_metadata,
    server_ready,
    split_model_url,
)
from jukebox.serving.runtime import load_onnx
from jukebox.serving.server import start_in_thread
from tests.serving.conftest import LABELS, MODEL, expected_probabilities, song_rows


def test_infer_returns_probabilities_labelled_from_metadata(url, bundle):
    rows = song_rows(3, seed=7)
    result = infer(url, MODEL, rows)
    assert list(result.probabilities.columns) == list(LABELS)
    assert result.labels_source == "metadata"
    assert result.model_name == MODEL and result.model_version == "1"
    np.testing.assert_allclose(
        result.probabilities.to_numpy(), expected_probabilities(bundle, rows), rtol=1e-6
    )
    # Every row a softmax: probabilities that sum to one.
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, atol=1e-3)


def test_infer_keeps_the_exact_request_and_response(url):
    result = infer(url, MODEL, song_rows(2), request_id="abc")
    assert result.request["id"] == "abc"
    assert [i["name"] for i in result.request["inputs"]] == list(FEATURES)
    assert all(i["shape"] == [2, 1] and i["datatype"] == "FP32" for i in result.request["inputs"])
    assert result.response["id"] == "abc"
    assert result.response["outputs"][0]["shape"] == [2, len(LABELS)]
    json.dumps(result.request), json.dumps(result.response)  # both can be shown and copied


def test_infer_with_given_labels_and_a_dataframe_keeps_the_row_index(url):
    frame = pd.DataFrame(song_rows(2), index=["song a", "song b"])
    labels = ("AA", "BB", "CC", "DD")
    result = infer(url, MODEL, frame, labels=labels, version="1")
    assert list(result.probabilities.index) == ["song a", "song b"]
    assert list(result.probabilities.columns) == list(labels)
    assert result.labels_source == "given"


def test_infer_with_wrong_number_of_labels_falls_back_to_indices_with_a_note(url):
    result = infer(url, MODEL, song_rows(1)[0], labels=("US",))
    assert list(result.probabilities.columns) == ["0", "1", "2", "3"]
    assert result.notes and "labels" in result.notes[0]


def test_a_model_without_labels_shows_output_indices(bundle):
    model = load_onnx(bundle.onnx_path, name="foreign")  # no labels: a model from elsewhere
    running = start_in_thread(model)
    try:
        result = infer(running.url, "foreign", song_rows(1))
        assert list(result.probabilities.columns) == ["0", "1", "2", "3"]
        assert result.labels_source == "indices"
    finally:
        running.stop()


def test_metadata_and_readiness(url):
    metadata = model_metadata(url, MODEL)
    assert metadata["outputs"][0]["name"] == "output"
    assert server_ready(url)
    assert server_ready(url, MODEL, version="1")
    assert not server_ready(url, "other")


def test_dead_endpoint_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(ServingError, match="Nothing answers at http://127.0.0.1"):
        infer(f"http://127.0.0.1:{port}", MODEL, song_rows(1))
    assert not server_ready(f"http://127.0.0.1:{port}")


def test_timeout_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()  # accepts connections in the kernel, never answers
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with pytest.raises(ServingError, match="did not answer .* within 0.3 s"):
            infer(url, MODEL, song_rows(1), timeout=0.3)


def test_token_errors_and_success(bundle):
    running = start_in_thread(load_onnx(bundle.onnx_path, name=MODEL, labels=LABELS), token="tok")
    try:
        with pytest.raises(ServingError, match="needs a token") as error:
            infer(running.url, MODEL, song_rows(1))
        assert error.value.status == 401
        with pytest.raises(ServingError, match="token is wrong"):
            infer(running.url, MODEL, song_rows(1), token="nope")
        assert list(infer(running.url, MODEL, song_rows(1), token="tok").labels) == list(LABELS)
    finally:
        running.stop()


def test_unknown_model_and_version_are_404_sentences(url):
    with pytest.raises(ServingError, match="no such model") as error:
        infer(url, "nosuch", song_rows(1))
    assert error.value.status == 404
    with pytest.raises(ServingError, match='no version "9"'):
        infer(url, MODEL, song_rows(1), version="9")


def test_server_rejection_message_is_passed_on(url):
    # A foreign feature list: the server says which input it does not know.
    with pytest.raises(ServingError, match='rejected the request: unknown input "bpm"') as error:
        infer(url, MODEL, [{"bpm": 120.0}], features=["bpm"])
    assert error.value.status == 400


@pytest.mark.parametrize(
    "rows, words",
    [
        ([], "no song"),
        ([{"tempo": 120}], "lack the feature"),
        ([{**song_rows(1)[0], "tempo": "fast"}], "tempo must be a number"),
        ([{**song_rows(1)[0], "energy": None}], "energy must be a number"),
    ],
)
def test_bad_rows_are_refused_before_sending(rows, words):
    with pytest.raises(ServingError, match=words):
        build_request(rows)


@pytest.mark.parametrize(
    "endpoint, expected",
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("https://m.apps.example.com/v2/models/x/infer", "https://m.apps.example.com"),
        ("https://host/prefix/v2", "https://host/prefix"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("my-model.team-a.svc:8080", "http://my-model.team-a.svc:8080"),
    ],
)
def test_base_url(endpoint, expected):
    assert base_url(endpoint) == expected


def test_base_url_refuses_what_is_not_a_url():
    for bad in ("", "ftp://x", "http://", "not a url at all", "http://host:port", "a,b"):
        with pytest.raises(ServingError):
            base_url(bad)


def test_split_model_url():
    assert split_model_url("https://h/v2/models/songs/versions/3/infer") == (
        "https://h",
        "songs",
        "3",
    )
    assert split_model_url("http://h:1") == ("http://h:1", None, None)
