"""What the Deploy and Predict pages offer to deploy, and under which name (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jukebox.registry.versions import VersionInfo
from jukebox.serving.deploy import Deployment, check_deployment_name, propose_name
from jukebox.ui.deploy import deployable_versions, first_not_deployed, offer_title, version_to_offer


def version(number: int, *, production=False, verified=True, archived=False) -> VersionInfo:
    properties = {"verification.passed": verified}
    if production:
        properties["jukebox.production"] = True
    return VersionInfo(
        model="jukebox",
        version=str(number),
        id=str(number),
        state="ARCHIVED" if archived else "LIVE",
        author=None,
        created=datetime(2026, 1, number, tzinfo=UTC),
        description=None,
        properties=properties,
    )


def deployment(name: str, number: int, state: str = "ready") -> Deployment:
    return Deployment(name, "jukebox", str(number), None, "job", state, None, 0.0, 0.0)


def test_the_offer_is_production_else_the_newest_verified():
    assert version_to_offer([version(1, production=True), version(2)]).version == "1"
    assert version_to_offer([version(1), version(2), version(3, verified=False)]).version == "2"
    assert version_to_offer([version(1, verified=False)]) is None
    assert version_to_offer([version(1, production=True, archived=True)]) is None
    assert version_to_offer([]) is None
    assert offer_title(version(1, production=True)) == "the production model, version 1"
    assert "version 2" in offer_title(version(2))


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        ([], "jukebox"),
        (["other"], "jukebox"),
        (["jukebox"], "jukebox-v2"),
        (["jukebox", "jukebox-v2"], "jukebox-v2-2"),
        (["jukebox", "jukebox-v2", "jukebox-v2-2"], "jukebox-v2-3"),
    ],
)
def test_a_fresh_name_is_proposed(taken, expected):
    assert propose_name("jukebox", "2", taken) == expected


def test_a_proposed_name_is_always_valid():
    long = "A very long model name " * 4
    taken = [propose_name(long, "12", [])]
    name = propose_name(long, "12", taken)
    assert name not in taken and check_deployment_name(name) == name


def test_after_a_first_deployment_the_next_version_is_proposed():
    versions = deployable_versions([version(1, production=True), version(2), version(3)])
    assert [v.version for v in versions] == ["1", "3", "2"]
    assert first_not_deployed(versions, []) == 0
    assert first_not_deployed(versions, [deployment("jukebox", 1)]) == 1
    assert first_not_deployed(versions, [deployment("a", 1), deployment("b", 3)]) == 2
    assert first_not_deployed(versions, [deployment("a", 1), deployment("b", 3),
                                         deployment("c", 2)]) == 0  # fmt: skip
    assert first_not_deployed(versions, [deployment("jukebox", 1, "stopped")]) == 0
