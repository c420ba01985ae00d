"""Fixtures of the data tests: small generated sets, the default one (once), the real file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

SHARED_DATA = Path(__file__).parents[2].parent / "shared" / "data"
REAL_PROPERTIES = SHARED_DATA / "song_properties.parquet"


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """JUKEBOX_HOME in a fresh temporary directory; returns the settings."""
    from jukebox.config import load_settings

    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path / "home"))
    for name in ("AWS_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    return load_settings()


@pytest.fixture(scope="session")
def small():
    """300 songs, 12 countries' top 20 over ten days: every code path, in well under a second."""
    from jukebox.data.schema import CHART_COUNTRIES
    from jukebox.data.synthetic import generate

    return generate(300, seed=7, n_days=10, chart_size=20, countries=CHART_COUNTRIES[:12])


@pytest.fixture(scope="session")
def default_set():
    """The default synthetic data set (14,000 songs, ~1.1 million rows), generated once."""
    from jukebox.data.synthetic import generate

    return generate()


@pytest.fixture(scope="session")
def real_properties() -> pd.DataFrame:
    if not REAL_PROPERTIES.is_file():
        pytest.skip(f"the real song file is not here ({REAL_PROPERTIES}); it is outside the repo")
    return pd.read_parquet(REAL_PROPERTIES)
