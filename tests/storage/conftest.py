"""Fixtures for the object store tests: see tests/s3.py."""

from tests.s3 import jukebox_home, s3_bucket, s3_endpoint, s3_env, store  # noqa: F401
