"""Tables and figures of the Registry page: registry versions in, tables and plotly figures out.

Pure functions over :class:`jukebox.registry.versions.VersionInfo`, so tests check them without a
browser or a registry.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from jukebox.registry.versions import VersionInfo
from jukebox.ui.model import METRIC_LABELS

STATUS_ICONS = {"production": "🚀", "live": "🟢", "archived": "🗄️", "incomplete": "⚠️"}
PALETTE = ("#1DB954", "#4C72B0", "#E4572E", "#8172B2", "#CCB974", "#64B5CD", "#8C8C8C")
NODE_COLOURS = {"data": "#4C72B0", "run": "#CCB974", "model": "#1DB954", "artifact": "#E4572E"}
UNKNOWN_COLOUR = "#C8C8C8"


def version_label(version: VersionInfo) -> str:
    return f"{version.model} v{version.version}"


def _version_order(version: VersionInfo) -> tuple:
    return (
        version.model,
        int(version.version) if version.version.isdigit() else 0,
        version.version,
    )


def versions_table(versions: Sequence[VersionInfo]) -> pd.DataFrame:
    """One row per version: model, version, created, author, accuracy, data version, the
    training (or pipeline run) it came from, the sha256 of its ``model.onnx``, and its state."""
    rows = [
        {
            "model": v.model,
            "version": v.version,
            "created": v.created.strftime("%Y-%m-%d %H:%M") if v.created else "",
            "author": v.author or "",
            "accuracy": v.accuracy,
            "data version": _short(v.data_version) or _short(v.data_commit) or "",
            "training": v.run_id or "",
            "sha256": _short(v.onnx_sha256) or "",
            "state": f"{STATUS_ICONS.get(v.status, '')} {v.status}".strip(),
        }
        for v in sorted(versions, key=_version_order)
    ]
    columns = ["model", "version", "created", "author", "accuracy", "data version"]
    columns += ["training", "sha256", "state"]
    return pd.DataFrame(rows, columns=columns)


def metadata_table(version: VersionInfo) -> pd.DataFrame:
    """Everything the registry records about a version, as (what, value) rows."""
    rows = [
        ("model", version.model),
        ("version", version.version),
        ("state", version.status),
        ("author", version.author or ""),
        ("created", version.created.isoformat(timespec="seconds") if version.created else ""),
        ("description", version.description or ""),
        ("stored at", version.uri or ""),
    ]
    rows += [
        (_property_label(key), _text(value)) for key, value in sorted(version.properties.items())
    ]
    return pd.DataFrame(rows, columns=["what", "value"])


def _property_label(key: str) -> str:
    """A metric's plain name beside the property's own (which the Kubeflow dashboard shows)."""
    if key.startswith("metric.") and key.removeprefix("metric.") in METRIC_LABELS:
        return f"{METRIC_LABELS[key.removeprefix('metric.')]} ({key})"
    return key


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _short(value: str | None, length: int = 12) -> str | None:
    if not value:
        return None
    return value if len(value) <= length else value[:length] + "…"


def chartable_metrics(versions: Sequence[VersionInfo]) -> list[str]:
    """Metrics worth a bar: fractional scores that at least one version has (not counts, flags)."""
    names: list[str] = []
    for version in versions:
        for name, value in version.metrics.items():
            if isinstance(value, float) and not isinstance(value, bool) and name not in names:
                names.append(name)
    return names


def metrics_figure(
    versions: Sequence[VersionInfo], metrics: Sequence[str] | None = None
) -> go.Figure:
    """Grouped bars: one group per metric, one bar per version, so versions compare at a glance.

    Scores (0 to 1, higher is better) share the left axis; losses (unbounded, lower is better)
    get their own axis on the right, so a log loss of 3 does not flatten every score. Metrics
    are named as on the Train page.
    """
    metrics = list(metrics) if metrics is not None else chartable_metrics(versions)
    losses = [m for m in metrics if "loss" in m]
    scores = [m for m in metrics if m not in losses]
    panels = [(names, i + 1) for i, names in enumerate(p for p in (scores, losses) if p)]
    figure = make_subplots(
        rows=1,
        cols=max(1, len(panels)),
        column_widths=[max(len(names), 1) for names, _ in panels] or None,
        subplot_titles=[
            "Scores (higher is better)" if names is scores else "Loss (lower is better)"
            for names, _ in panels
        ],
        horizontal_spacing=0.12,
    )
    for i, version in enumerate(versions):
        for names, column in panels:
            values = [version.metrics.get(name) for name in names]
            figure.add_bar(
                name=version_label(version),
                legendgroup=version_label(version),
                showlegend=column == 1,
                x=[METRIC_LABELS.get(name, name) for name in names],
                y=[v if isinstance(v, int | float) else None for v in values],
                marker_color=PALETTE[i % len(PALETTE)],
                text=[f"{v:.3f}" if isinstance(v, float) else "" for v in values],
                textposition="outside",
                hovertemplate="%{x}: %{y:.4f}<extra>" + version_label(version) + "</extra>",
                row=1,
                col=column,
            )
    for names, column in panels:
        if names is scores:
            figure.update_yaxes(range=[0, 1.1], title_text="score", row=1, col=column)
        else:
            figure.update_yaxes(rangemode="tozero", title_text="log loss", row=1, col=column)
    figure.update_layout(
        barmode="group",
        title="Metrics by version",
        legend_title="version",
        margin={"t": 70, "b": 40, "l": 50, "r": 20},
        height=400,
    )
    return figure


def parameters_diff(versions: Sequence[VersionInfo]) -> pd.DataFrame:
    """Parameters side by side, one column per version; parameters that differ come first."""
    names = sorted({name for v in versions for name in v.parameters})
    rows = []
    for name in names:
        values = [v.parameters.get(name) for v in versions]
        row = {"parameter": name}
        row.update({version_label(v): _cell(x) for v, x in zip(versions, values, strict=True)})
        row["differs"] = len({repr(x) for x in values}) > 1
        rows.append(row)
    columns = ["parameter", *(version_label(v) for v in versions), "differs"]
    table = pd.DataFrame(rows, columns=columns)
    if table.empty:
        return table
    return table.sort_values(["differs", "parameter"], ascending=[False, True], ignore_index=True)


def _cell(value) -> str:
    return "—" if value is None else _text(value)


def lineage(version: VersionInfo) -> tuple[list[dict], list[tuple[int, int]]]:
    """Nodes and edges of where a version comes from: data, the run, the exported bundle, and
    where it is stored. Each node: ``kind``, ``title``, ``detail`` and ``known``."""

    def node(kind: str, title: str, detail: str | None) -> dict:
        return {"kind": kind, "title": title, "detail": detail or "unknown", "known": bool(detail)}

    data_version = " · ".join(
        part
        for part in (
            f"md5 {_short(version.data_version)}" if version.data_version else None,
            f"commit {_short(version.data_commit, 10)}" if version.data_commit else None,
        )
        if part
    )
    origin = version.properties.get("bundle.origin")
    nodes = [
        node("data", "Data source", version.data_source),
        node("data", "Data version", data_version),
        node("run", "Training run", version.run_id),
        node(
            "artifact", "Exported bundle", origin.rstrip("/").rsplit("/", 1)[-1] if origin else None
        ),
        node("model", "Model version", f"{version.model} v{version.version} ({version.status})"),
        node("artifact", "Stored artifact", _storage_place(version.uri)),
    ]
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    return nodes, edges


def _storage_place(uri: str | None) -> str | None:
    """``s3://bucket/models/x/1/``, or ``…/models/x/1/`` for a local path: fits a label."""
    if not uri:
        return None
    where = uri.split("?", 1)[0]
    if where.startswith("file://") and "/models/" in where:
        return "…/models/" + where.split("/models/", 1)[1]
    return where


def card_markdown(card: str) -> str:
    """A model card's markdown with headings three levels down, to sit inside a page section."""
    return "\n".join("###" + line if line.startswith("#") else line for line in card.splitlines())


def lineage_figure(version: VersionInfo) -> go.Figure:
    """The lineage of :func:`lineage` as a small left-to-right graph; unknown steps in grey."""
    nodes, edges = lineage(version)
    full = [None, None, None, version.properties.get("bundle.origin"), None, version.uri]
    hover = [f"{n['title']}: {f or n['detail']}" for n, f in zip(nodes, full, strict=True)]
    # Two rows, so long labels have room: data and run above, model and artifacts below.
    positions = [(0, 1), (1, 1), (2, 1), (0.5, 0), (1.5, 0), (2.5, 0)]
    figure = go.Figure()
    for start, end in edges:
        (x0, y0), (x1, y1) = positions[start], positions[end]
        figure.add_annotation(
            x=x1,
            y=y1,
            ax=x0,
            ay=y0,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=3,
            arrowsize=1.2,
            arrowwidth=1.5,
            arrowcolor="#888",
            standoff=18,
            startstandoff=18,
        )
    figure.add_scatter(
        x=[p[0] for p in positions],
        y=[p[1] for p in positions],
        mode="markers+text",
        marker={
            "size": 26,
            "color": [NODE_COLOURS[n["kind"]] if n["known"] else UNKNOWN_COLOUR for n in nodes],
            "line": {"width": 1, "color": "#444"},
        },
        text=[f"<b>{n['title']}</b><br>{n['detail']}" for n in nodes],
        textposition=["top center"] * 3 + ["bottom center"] * 3,
        hovertext=hover,
        hoverinfo="text",
        showlegend=False,
    )
    figure.update_layout(
        title=f"Lineage of {version_label(version)}",
        xaxis={"visible": False, "range": [-0.6, 3.1]},
        yaxis={"visible": False, "range": [-0.7, 1.7]},
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
        height=320,
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure
