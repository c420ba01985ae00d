"""The object stores themselves: which one the settings name, and clear errors from S3."""

from __future__ import annotations

import pytest

from jukebox.storage import (
    S3Store,
    StorageError,
    StorageUnreachableError,
    open_store,
    store_for_uri,
)
from tests.ports import free_port
from tests.s3 import ACCESS_KEY, SECRET_KEY


def test_open_store_follows_the_settings(jukebox_home, s3_env):
    store = open_store(s3_env)
    assert isinstance(store, S3Store) and store.bucket == s3_env.s3_bucket
    store.check()


@pytest.mark.slow  # waits for an unreachable endpoint
def test_unreachable_endpoint_is_a_clear_message(jukebox_home):
    endpoint = f"http://127.0.0.1:{free_port()}"
    store = S3Store(endpoint, "jukebox", access_key="a", secret_key="b", connect_timeout=1)
    with pytest.raises(StorageUnreachableError, match="Cannot reach the S3 endpoint") as caught:
        store.check()
    assert endpoint in str(caught.value) and "AWS_S3_ENDPOINT" in str(caught.value)


def test_malformed_endpoint_is_a_clear_message():
    with pytest.raises(StorageUnreachableError, match="not a valid URL"):
        S3Store("not a url", "jukebox", access_key="a", secret_key="b")


def test_missing_bucket_is_a_clear_message(s3_endpoint):
    store = S3Store(s3_endpoint, "no-such-bucket", access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    with pytest.raises(StorageError, match="bucket 'no-such-bucket' does not exist"):
        store.check()


def test_credentials_never_go_to_an_endpoint_named_in_a_uri(s3_env):
    uri = "s3://jukebox/models/tiny/1/?endpoint=https://elsewhere.example:9000"
    with pytest.raises(StorageError, match="elsewhere.example.*set AWS_S3_ENDPOINT"):
        store_for_uri(uri, s3_env, top_folder="models")
    same = f"s3://other-bucket/models/tiny/1/?endpoint={s3_env.s3_endpoint}"
    store, prefix = store_for_uri(same, s3_env, top_folder="models")
    assert store.bucket == "other-bucket" and prefix == "models/tiny/1/"
