"""The Deploy page's lists for people, as plain functions over data: versions in the order a
person wants them (production first), their labels, deployments as a table, and the code that
calls a deployment."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go

from jukebox.serving.client import build_request
from jukebox.serving.deploy import Deployment

EXAMPLE_SONG = {
    "is_explicit": 0,
    "duration_ms": 200000,
    "danceability": 0.7,
    "energy": 0.6,
    "key": 5,
    "loudness": -6.0,
    "mode": 1,
    "speechiness": 0.05,
    "acousticness": 0.2,
    "instrumentalness": 0.0,
    "liveness": 0.1,
    "valence": 0.5,
    "tempo": 120.0,
}
"""The song the "Call it from code" examples send: one value per feature, as the model takes."""


def deployable_versions(versions: Iterable) -> list:
    """Registered versions worth deploying: complete and not archived; the production version
    first, then the newest first. Takes the registry façade's ``VersionInfo`` objects."""
    usable = [v for v in versions if getattr(v, "complete", True) and not v.archived]
    newest_first = sorted(
        usable,
        key=lambda v: (v.created or datetime.min.replace(tzinfo=UTC), _number(v.version)),
        reverse=True,
    )
    return sorted(newest_first, key=lambda v: not v.production)


def version_to_offer(versions: Iterable):
    """The one version to deploy when nothing is: the production version, else the newest whose
    export was verified; None when neither exists."""
    usable = deployable_versions(versions)
    for version in usable:
        if version.production:
            return version
    return next((v for v in usable if v.verification.get("passed") is True), None)


def offer_title(version) -> str:
    """``the production model, version 1`` or ``jukebox version 3 (the newest verified)``."""
    if version.production:
        return f"the production model, version {version.version}"
    return f"{version.model} version {version.version} (the newest verified one)"


def first_not_deployed(versions: Sequence, deployments: Iterable[Deployment]) -> int:
    """Index in ``versions`` of the first one no running deployment serves (0 if all are), so
    that after a first deployment the Deploy page proposes the next version, not the same."""
    served = {(d.model, str(d.version)) for d in deployments if d.state != "stopped"}
    return next((i for i, v in enumerate(versions) if (v.model, str(v.version)) not in served), 0)


def served_by(version, deployments: Iterable[Deployment]) -> list[str]:
    """The names of the running deployments that serve ``version``."""
    return [
        d.name
        for d in deployments
        if d.state != "stopped"
        and (d.model, str(d.version)) == (version.model, str(version.version))
    ]


def _number(version: str) -> float:
    try:
        return float(version)
    except ValueError:
        return -1.0


def version_label(version) -> str:
    """``3 · production · accuracy 0.62 · 2026-11-22``: what a version is, at a glance."""
    parts = [str(version.version)]
    if version.production:
        parts.append("production")
    if version.accuracy is not None:
        parts.append(f"accuracy {version.accuracy:.2f}")
    if version.created:
        parts.append(version.created.strftime("%Y-%m-%d %H:%M"))
    return " · ".join(parts)


STATE_BADGES = {
    "ready": "🟢 ready",
    "starting": "🟡 starting",
    "stopping": "🟡 stopping",
    "failed": "🔴 failed",
    "stopped": "⚪ stopped",
}


def deployments_table(deployments: Sequence[Deployment], now: float | None = None) -> pd.DataFrame:
    """One row per deployment: name, state, what it serves, endpoint, since when."""
    now = now or time.time()
    rows = [
        {
            "Deployment": d.name,
            "State": STATE_BADGES.get(d.state, d.state),
            "Serves": d.source,
            "Endpoint": d.endpoint or "—",
            "Token": "yes" if d.auth else "no",
            "Since": _ago(now - d.updated) if d.updated else "—",
            "Problem": d.error or "",
        }
        for d in deployments
    ]
    columns = ["Deployment", "State", "Serves", "Endpoint", "Token", "Since", "Problem"]
    return pd.DataFrame(rows, columns=columns)


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def curl_example(deployment: Deployment) -> str:
    """A shell command that asks the deployment about :data:`EXAMPLE_SONG` over REST."""
    auth = ' -H "Authorization: Bearer $TOKEN"' if deployment.auth else ""
    body = json.dumps(build_request([EXAMPLE_SONG]))
    return (
        f"curl -s {deployment.endpoint}/v2/models/{deployment.name}/infer{auth} \\\n"
        f"  -H 'Content-Type: application/json' \\\n  -d '{body}'"
    )


def grpc_example(deployment: Deployment) -> str:
    """Python that asks the deployment about :data:`EXAMPLE_SONG` over the protocol's gRPC form,
    with tritonclient, as it would ask KServe or OpenVINO Model Server."""
    auth = ', headers={"authorization": "Bearer " + os.environ["TOKEN"]}'
    lines = [
        *(["import os", ""] if deployment.auth else []),
        "import numpy as np",
        "import tritonclient.grpc as grpcclient",
        "",
        f"song = {EXAMPLE_SONG!r}",
        f"client = grpcclient.InferenceServerClient({deployment.grpc_address!r})",
        "inputs = []",
        "for feature, value in song.items():",
        '    tensor = grpcclient.InferInput(feature, [1, 1], "FP32")',
        "    tensor.set_data_from_numpy(np.array([[value]], np.float32))",
        "    inputs.append(tensor)",
        f"result = client.infer({deployment.name!r}, inputs{auth if deployment.auth else ''})",
        "# One probability per country, in the order REST's model metadata lists them.",
        'print(result.as_numpy("output")[0].tolist())',
    ]
    return "\n".join(lines)


def load_figure(seconds: Sequence) -> go.Figure:
    """A load test second by second: requests answered and errors (bars), and the 50th and
    99th latency percentiles (lines, right axis, ms)."""
    x = [s.second for s in seconds]
    figure = go.Figure()
    figure.add_bar(x=x, y=[s.requests for s in seconds], name="requests/s", marker_color="#1DB954")
    figure.add_bar(x=x, y=[s.errors for s in seconds], name="errors/s", marker_color="#E4572E")
    for name, values, dash in (
        ("p50 latency (ms)", [s.p50_ms for s in seconds], "solid"),
        ("p99 latency (ms)", [s.p99_ms for s in seconds], "dot"),
    ):
        figure.add_scatter(
            x=x, y=values, name=name, yaxis="y2", mode="lines+markers",
            line=dict(color="#4C72B0", dash=dash),
        )  # fmt: skip
    figure.update_layout(
        barmode="stack",
        xaxis_title="second",
        yaxis=dict(title="requests per second", rangemode="tozero"),
        yaxis2=dict(title="latency (ms)", overlaying="y", side="right", rangemode="tozero"),
        height=320,
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=1.12),
    )
    return figure


def infer_url(deployment: Deployment) -> str:
    """The address a client posts a deployment's inferences to."""
    from jukebox.serving.client import base_url, model_path

    return base_url(deployment.endpoint) + model_path(deployment.name) + "/infer"


def canary_table(status) -> pd.DataFrame:
    """The primary and the canary side by side, one row each, from a router's
    :class:`~jukebox.serving.canary.CanaryStatus`: share of traffic, requests, errors, latency."""
    rows = []
    for figures in (status.primary, status.canary):
        if figures is None:
            continue
        share = status.canary_percent if figures.role == "canary" else 100 - status.canary_percent
        rows.append(
            {
                "Version": figures.version,
                "Role": figures.role,
                "Traffic %": round(share, 1),
                "Requests": figures.requests,
                "Errors": figures.errors,
                "p50 ms": None if figures.p50_ms is None else round(figures.p50_ms, 2),
                "p99 ms": None if figures.p99_ms is None else round(figures.p99_ms, 2),
            }
        )
    return pd.DataFrame(rows)


def disagreement_sentence(status) -> str:
    """How often the two versions disagree on the top country, in words."""
    if not status.compared:
        return "No request has been compared between the two versions yet."
    return (
        f"The two versions disagree on the top country for {status.disagreed} of "
        f"{status.compared} songs compared ({status.disagreement:.1%})."
    )
