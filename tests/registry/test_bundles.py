"""A bundle in object storage, on both backends: round trip, atomic uploads, integrity, names."""

from __future__ import annotations

import json

import boto3
import pytest
import requests

from jukebox.config import load_settings
from jukebox.model.bundle import ONNX_FILE, file_sha256, read_bundle
from jukebox.registry.bundles import (
    MANIFEST_FILE,
    BundleNotFoundError,
    IntegrityError,
    InvalidNameError,
    VersionExistsError,
    bundle_prefix,
    bundle_store,
    check_model_name,
    check_version,
    delete_bundle,
    download_bundle,
    read_manifest,
    stored_versions,
    upload_bundle,
)
from jukebox.storage import S3Store, StorageCredentialsError, StorageUnreachableError
from tests.bundles import make_tiny_bundle
from tests.s3 import ACCESS_KEY, SECRET_KEY


@pytest.fixture
def bundle(tmp_path):
    return make_tiny_bundle(tmp_path / "bundle")


def overwrite(store, key: str, data: bytes) -> None:
    """Change a stored object behind the store's back, as a faulty disk or a person would."""
    if isinstance(store, S3Store):
        store._client.put_object(Bucket=store.bucket, Key=key, Body=data)
    else:
        store._path(key).parent.mkdir(parents=True, exist_ok=True)
        store._path(key).write_bytes(data)


def test_round_trip_keeps_every_file_and_says_where_it_is(store, bundle, tmp_path):
    stored = upload_bundle(store, bundle.path, "tiny", 1)

    assert stored.prefix == "models/tiny/1/"
    if isinstance(store, S3Store):
        assert stored.uri == (
            f"s3://{store.bucket}/models/tiny/1/?endpoint={store.endpoint}&defaultRegion=us-east-1"
        )
    else:
        assert stored.uri.startswith("file:///") and stored.uri.endswith("/jukebox/models/tiny/1/")
    assert stored_versions(store, "tiny") == ["1"]

    dest = download_bundle(
        store, stored.prefix, tmp_path / "fetched", expected_onnx_sha256=stored.manifest.onnx_sha256
    )
    again = read_bundle(dest)
    assert again.sha256() == bundle.sha256()
    assert again.preprocessing == bundle.preprocessing
    assert stored.manifest.files[ONNX_FILE]["sha256"] == file_sha256(bundle.onnx_path)


def test_uri_leads_back_to_the_bundle(store, bundle, tmp_path, monkeypatch):
    if isinstance(store, S3Store):
        monkeypatch.setenv("AWS_S3_ENDPOINT", store.endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    stored = upload_bundle(store, bundle.path, "tiny", 3)
    found, prefix = bundle_store(stored.uri, load_settings())
    assert prefix == "models/tiny/3/"
    assert read_bundle(download_bundle(found, prefix, tmp_path / "x")).sha256() == bundle.sha256()


def test_versions_are_listed_in_numeric_order(store, bundle):
    for version in (10, 2, 1):
        upload_bundle(store, bundle.path, "tiny", version)
    assert stored_versions(store, "tiny") == ["1", "2", "10"]


def test_a_stored_version_is_never_overwritten(store, bundle, tmp_path):
    upload_bundle(store, bundle.path, "tiny", 1)
    other = make_tiny_bundle(tmp_path / "other", seed=7)
    with pytest.raises(VersionExistsError, match="already stored"):
        upload_bundle(store, other.path, "tiny", 1)
    manifest = read_manifest(store, bundle_prefix("tiny", 1))
    assert manifest.onnx_sha256 == file_sha256(bundle.onnx_path)


def break_after_first_file(store, monkeypatch):
    """Make the upload fail after its first file, as a dropped connection or a full disk would."""
    calls = []
    if isinstance(store, S3Store):
        from botocore.exceptions import EndpointConnectionError

        real = store._client.upload_file

        def flaky(**kwargs):
            calls.append(kwargs["Key"])
            if len(calls) > 1:
                raise EndpointConnectionError(endpoint_url=store.endpoint)
            return real(**kwargs)

        monkeypatch.setattr(store._client, "upload_file", flaky)
        return StorageUnreachableError
    import jukebox.storage.local

    real_copy = jukebox.storage.local.shutil.copyfile

    def flaky_copy(source, dest):
        calls.append(dest)
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return real_copy(source, dest)

    monkeypatch.setattr(jukebox.storage.local.shutil, "copyfile", flaky_copy)
    return OSError


def test_an_interrupted_upload_never_looks_complete(store, bundle, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        expected = break_after_first_file(store, patch)
        with pytest.raises(expected):
            upload_bundle(store, bundle.path, "tiny", 1)

    assert stored_versions(store, "tiny") == []
    assert read_manifest(store, bundle_prefix("tiny", 1)) is None
    with pytest.raises(BundleNotFoundError, match="interrupted"):
        download_bundle(store, bundle_prefix("tiny", 1), tmp_path / "fetched")
    assert not (tmp_path / "fetched").exists()

    # The same version can then be uploaded whole.
    upload_bundle(store, bundle.path, "tiny", 1)
    assert stored_versions(store, "tiny") == ["1"]


def test_files_without_a_manifest_are_ignored_and_replaced(store, bundle):
    # What a process killed in the middle of an S3 upload leaves: files, no manifest.
    overwrite(store, "models/tiny/1/model.onnx", b"half a model")
    if not isinstance(store, S3Store):
        assert store._path("models/tiny/1/model.onnx").exists()
    assert stored_versions(store, "tiny") == []

    stored = upload_bundle(store, bundle.path, "tiny", 1)
    assert stored.manifest.onnx_sha256 == file_sha256(bundle.onnx_path)
    assert stored_versions(store, "tiny") == ["1"]


def test_a_corrupt_file_is_detected_on_download(store, bundle, tmp_path):
    stored = upload_bundle(store, bundle.path, "tiny", 1)
    overwrite(store, stored.prefix + ONNX_FILE, b"not the model that was uploaded")

    with pytest.raises(IntegrityError, match=r"model\.onnx .* is corrupt"):
        download_bundle(store, stored.prefix, tmp_path / "fetched")
    assert not (tmp_path / "fetched").exists()
    assert not list(tmp_path.glob(".download-*"))


def test_a_bundle_other_than_the_registered_one_is_refused(store, bundle, tmp_path):
    stored = upload_bundle(store, bundle.path, "tiny", 1)
    with pytest.raises(IntegrityError, match="not the one registered"):
        download_bundle(store, stored.prefix, tmp_path / "f", expected_onnx_sha256="0" * 64)


def test_a_tampered_manifest_is_caught_by_the_file_hashes(store, bundle, tmp_path):
    stored = upload_bundle(store, bundle.path, "tiny", 1)
    manifest = json.loads(store.get_bytes(stored.prefix + MANIFEST_FILE))
    manifest["files"]["preprocessing.json"]["sha256"] = "f" * 64
    overwrite(store, stored.prefix + MANIFEST_FILE, json.dumps(manifest).encode())
    with pytest.raises(IntegrityError, match="preprocessing.json"):
        download_bundle(store, stored.prefix, tmp_path / "f")


def test_delete_removes_only_its_own_upload(store, bundle):
    stored = upload_bundle(store, bundle.path, "tiny", 1)
    delete_bundle(store, stored.prefix, upload_id="someone-else")
    assert stored_versions(store, "tiny") == ["1"]
    delete_bundle(store, stored.prefix, upload_id=stored.manifest.upload_id)
    assert stored_versions(store, "tiny") == []
    assert store.get_bytes(stored.prefix + ONNX_FILE) is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a/b", "path characters"),
        ("..", "path characters"),
        ("a\\b", "path characters"),
        ("my model", "malformed"),
        ("-dash-first", "malformed"),
        ("x" * 64, "malformed"),
    ],
)
def test_bad_names_are_refused_with_the_reason(store, bundle, name, reason):
    with pytest.raises(InvalidNameError, match=reason):
        check_model_name(name)
    with pytest.raises(InvalidNameError):
        upload_bundle(store, bundle.path, name, 1)


@pytest.mark.parametrize("version", ["", "0", "01", "1.0", "v2", "-1", "../1"])
def test_versions_must_be_whole_numbers(version):
    with pytest.raises(InvalidNameError, match="version"):
        check_version(version)


def test_good_names_pass():
    assert check_model_name(" jukebox-v2.1_x ") == "jukebox-v2.1_x"
    assert check_version(12) == "12"


@pytest.fixture
def s3_with_authentication(s3_endpoint, s3_bucket):
    """Switch moto to checking credentials; yield a key pair it knows, then switch back."""
    iam = boto3.client(
        "iam",
        endpoint_url=s3_endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
    user = f"jukebox-{s3_bucket}"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="all-s3",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    requests.post(f"{s3_endpoint}/moto-api/reset-auth", data=b"0", timeout=5).raise_for_status()
    try:
        yield key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        requests.post(f"{s3_endpoint}/moto-api/reset-auth", data=b"inf", timeout=5)


def test_wrong_credentials_are_a_clear_message_without_the_secret(
    s3_endpoint, s3_bucket, s3_with_authentication, bundle
):
    good_key, good_secret = s3_with_authentication
    S3Store(s3_endpoint, s3_bucket, access_key=good_key, secret_key=good_secret).check()

    wrong_secret = "wrong-secret-value-1234"
    for access_key, secret in ((good_key, wrong_secret), ("AKIAUNKNOWN000000000", wrong_secret)):
        store = S3Store(s3_endpoint, s3_bucket, access_key=access_key, secret_key=secret)
        with pytest.raises(StorageCredentialsError, match="refused the credentials") as caught:
            upload_bundle(store, bundle.path, "tiny", 1)
        message = str(caught.value)
        assert "AWS_SECRET_ACCESS_KEY" in message
        assert wrong_secret not in message and good_secret not in message


def test_racing_uploads_of_one_version_cannot_go_unnoticed(
    s3_endpoint, s3_bucket, bundle, tmp_path
):
    store = S3Store(s3_endpoint, s3_bucket, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    first = upload_bundle(store, bundle.path, "tiny", 1)
    # A second upload that checked for the version just before the first one completed.
    store._exists = lambda key: False
    other = make_tiny_bundle(tmp_path / "other", seed=9)
    with pytest.raises(VersionExistsError):
        upload_bundle(store, other.path, "tiny", 1)
    del store._exists
    assert read_manifest(store, "models/tiny/1/").upload_id == first.manifest.upload_id
    # S3 has no rename: the loser's files replaced the winner's, and the hashes say so.
    with pytest.raises(IntegrityError):
        download_bundle(store, "models/tiny/1/", tmp_path / "f")


def test_concurrent_uploads_of_one_version_store_it_once(store, bundle, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    def attempt(_):
        try:
            return upload_bundle(store, bundle.path, "tiny", 1).manifest.upload_id
        except VersionExistsError:
            return None

    with ThreadPoolExecutor(8) as pool:
        winners = [w for w in pool.map(attempt, range(8)) if w]
    assert len(winners) == 1
    assert read_manifest(store, "models/tiny/1/").upload_id == winners[0]
    assert read_bundle(download_bundle(store, "models/tiny/1/", tmp_path / "f")).sha256() == (
        bundle.sha256()
    )
