"""The model card: what a model does, how it was trained and how good it is, in Markdown."""

from __future__ import annotations

from jukebox.data.preprocessing import Preprocessing
from jukebox.model.report import SUMMARY_METRICS, ModelReport


def _fmt(value, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return "—" if value is None else str(value)


def model_card(training_id: str, report: ModelReport, preprocessing: Preprocessing) -> str:
    """The Markdown card written into every bundle as ``model_card.md``."""
    data, fit, evaluation = report.data, report.fit, report.evaluation
    split = data.split
    verification = report.verification
    lines = [
        f"# Jukebox model {training_id}",
        "",
        "Predicts, from a song's 13 Spotify audio features, the probability that it charts in "
        f"each of {len(preprocessing.labels)} countries.",
        "",
        "## Inputs and output",
        "",
        "One FP32 input of shape [N, 1] per feature, raw values (the min-max scaling fitted on "
        "the training split is inside the graph), in this order: "
        + ", ".join(f"`{f}`" for f in preprocessing.features)
        + ".",
        "",
        "Output `output`, FP32 [N, countries]: softmax probabilities, columns in this order: "
        + ", ".join(preprocessing.labels)
        + ".",
        "",
        "## Data",
        "",
        f"- Source: {data.source or 'unknown'}",
        f"- Split: {split.train} training, {split.validation} validation, {split.test} test "
        f"rows; test = chart dates {split.test_from} to {split.test_to} (the latest 20%).",
        "",
        "## Training",
        "",
        *(f"- {k}: {v}" for k, v in report.params.items()),
        f"- epochs run: {fit.epochs_run}" + (" (stopped early by the user)" if fit.stopped else ""),
        f"- time: {_fmt(fit.seconds, 3)} s on {fit.machine or '?'}",
        "",
        "## Test metrics",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {name} | {_fmt(getattr(evaluation, name))} |" for name in SUMMARY_METRICS),
        f"| chance (most frequent country) | {_fmt(data.chance_accuracy)} |",
    ]
    if evaluation.bayes_accuracy:
        lines.append(f"| Bayes ceiling of the data | {_fmt(evaluation.bayes_accuracy)} |")
        lines.append(f"| accuracy / Bayes ceiling | {_fmt(evaluation.accuracy_to_bayes)} |")
    if verification is not None:
        lines += [
            "",
            "## Export verification",
            "",
            f"- passed: **{verification.passed}** (tolerance {verification.tolerance})",
            f"- onnxruntime max |ONNX - Keras|: {_fmt(verification.onnxruntime_max_abs_diff)}",
            f"- OpenVINO max |ONNX - Keras|: {_fmt(verification.openvino_max_abs_diff)}",
            f"- rows compared: {verification.rows}",
            *(f"- problem: {p}" for p in verification.problems),
        ]
    lines += [
        "",
        "## Limits",
        "",
        "Audio features say only part of why a song charts somewhere; language, artists and "
        "marketing are not in them. Treat the probabilities as a hint, not a forecast.",
        "",
    ]
    return "\n".join(lines)
