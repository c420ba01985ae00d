"""S3 or an S3-compatible service (MinIO, OpenShift Data Foundation) as an object store.

boto3 is imported only when such a store is made, so the embedded default never pays for it.
Every botocore error becomes a :class:`StorageError` whose message says what to check.
"""

from __future__ import annotations

from pathlib import Path

from jukebox.storage.base import ObjectStore
from jukebox.storage.errors import (
    ObjectExistsError,
    ObjectNotFoundError,
    StorageCredentialsError,
    StorageError,
    StorageUnreachableError,
)

_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "InvalidClientTokenId",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
    "403",
    "Forbidden",
}


class S3Store(ObjectStore):
    """S3 or an S3-compatible service (MinIO, OpenShift Data Foundation) through boto3."""

    def __init__(
        self,
        endpoint: str | None,
        bucket: str,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=60,
            retries={"max_attempts": 2, "mode": "standard"},
            # MinIO and most on-premise endpoints expect path-style addressing.
            s3={"addressing_style": "path"},
        )
        try:
            self._client = boto3.client(
                "s3",
                endpoint_url=endpoint,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                region_name=region or "us-east-1",
                config=config,
            )
        except ValueError as error:
            raise StorageUnreachableError(
                f"The S3 endpoint {endpoint!r} is not a valid URL: set AWS_S3_ENDPOINT to "
                "something like http://minio.example:9000."
            ) from error

    def uri(self, key: str) -> str:
        uri = f"s3://{self.bucket}/{key}"
        if self.endpoint:
            uri += f"?endpoint={self.endpoint}"
            if self.region:
                uri += f"&defaultRegion={self.region}"
        return uri

    def _where(self) -> str:
        return self.endpoint or "AWS S3"

    def _translate(self, error: Exception, doing: str) -> StorageError:
        """A botocore error as a sentence saying what to check; never the secret key."""
        from botocore.exceptions import (
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
            ReadTimeoutError,
        )

        where = self._where()
        if isinstance(
            error,
            EndpointConnectionError
            | ConnectTimeoutError
            | ConnectionClosedError
            | ReadTimeoutError,
        ):
            return StorageUnreachableError(
                f"Cannot reach the S3 endpoint {where} while {doing}: check AWS_S3_ENDPOINT "
                "(scheme, host and port) and that the service is running."
            )
        if isinstance(error, NoCredentialsError | PartialCredentialsError):
            return StorageCredentialsError(
                f"No S3 credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
            )
        if isinstance(error, ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket",):
                return StorageError(
                    f"The bucket {self.bucket!r} does not exist at {where}: create it, or set "
                    "AWS_S3_BUCKET to an existing bucket."
                )
            if code in _CREDENTIAL_CODES or status == 403:
                return StorageCredentialsError(
                    f"{where} refused the credentials while {doing} ({code or status}): check "
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that this key may use "
                    f"the bucket {self.bucket!r}."
                )
            return StorageError(f"S3 at {where} answered {code or status} while {doing}.")
        if isinstance(error, ValueError) and "endpoint" in str(error).lower():
            return StorageUnreachableError(
                f"The S3 endpoint {where!r} is not a valid URL: set AWS_S3_ENDPOINT to "
                "something like http://minio.example:9000."
            )
        return StorageError(f"S3 at {where} failed while {doing}: {type(error).__name__}.")

    def _call(self, doing: str, function, /, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return function(**kwargs)
        except (BotoCoreError, ClientError, ValueError) as error:
            raise self._translate(error, doing) from None

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
                raise StorageError(
                    f"The bucket {self.bucket!r} does not exist at {self._where()}: create it, "
                    "or set AWS_S3_BUCKET to an existing bucket."
                ) from None
            raise self._translate(error, f"opening the bucket {self.bucket!r}") from None
        except (BotoCoreError, ValueError) as error:
            raise self._translate(error, f"opening the bucket {self.bucket!r}") from None

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise self._translate(error, f"looking for {key}") from None
        except BotoCoreError as error:
            raise self._translate(error, f"looking for {key}") from None

    def put_tree(self, prefix: str, files: dict[str, Path], last: tuple[str, bytes]) -> None:
        if self._exists(prefix + last[0]):
            raise ObjectExistsError(f"{self.uri(prefix)} already exists.")
        # Files left by an interrupted upload are overwritten, or ignored by readers (who read
        # only what the marker lists). Deleting them here could delete a racing upload's marker.
        for name, source in files.items():
            self._call(
                f"uploading {name}",
                self._client.upload_file,
                Filename=str(source),
                Bucket=self.bucket,
                Key=prefix + name,
            )
        self._put_once(prefix, last)

    def _put_once(self, prefix: str, last: tuple[str, bytes]) -> None:
        """Write the completion marker only if no other upload wrote one meanwhile.

        S3 conditional writes (``If-None-Match: *``) make one of two racing uploads lose
        cleanly; a store that does not implement them gets a plain write.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        key = prefix + last[0]
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=last[1], IfNoneMatch="*")
            return
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise ObjectExistsError(f"{self.uri(prefix)} already exists.") from None
            if code not in ("NotImplemented", "501"):
                raise self._translate(error, f"uploading {last[0]}") from None
        except BotoCoreError as error:
            raise self._translate(error, f"uploading {last[0]}") from None
        self._call(
            f"uploading {last[0]}",
            self._client.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=last[1],
        )

    def get_file(self, key: str, dest: Path) -> None:
        if not self._exists(key):
            raise ObjectNotFoundError(f"{self.uri(key)} does not exist.")
        self._call(
            f"downloading {key}",
            self._client.download_file,
            Bucket=self.bucket,
            Key=key,
            Filename=str(dest),
        )

    def get_bytes(self, key: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._translate(error, f"reading {key}") from None
        except BotoCoreError as error:
            raise self._translate(error, f"reading {key}") from None

    def _keys(self, prefix: str) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        keys: list[str] = []
        pages = self._call(
            f"listing {prefix}",
            lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=prefix)),
        )
        for page in pages:
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def list_prefixes(self, prefix: str) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        pages = self._call(
            f"listing {prefix}",
            lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/")),
        )
        names = {
            common["Prefix"][len(prefix) :].rstrip("/")
            for page in pages
            for common in page.get("CommonPrefixes", [])
        }
        return sorted(n for n in names if n)

    def delete_key(self, key: str) -> None:
        self._call(f"deleting {key}", self._client.delete_object, Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> None:
        keys = self._keys(prefix)
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[start : start + 1000]]
            self._call(
                f"deleting {prefix}",
                self._client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": chunk, "Quiet": True},
            )
