"""Home in words a stakeholder knows: the model's life as four plain steps, and what its
accuracy means.

Read from the same records as :mod:`jukebox.lifecycle` (the CLI's status) so both always agree;
only the words differ: no training ids, no ONNX, no "export" or "Bayes ceiling" here.
"""

from __future__ import annotations

from dataclasses import dataclass

from jukebox import lifecycle
from jukebox.config import Settings


@dataclass(frozen=True)
class Step:
    """One step of the model's life on Home: a plain title and sentence, whether it happened,
    and the page (with its link's words) where a person takes it."""

    title: str
    summary: str
    reached: bool
    page: str
    action: str
    icon: str


def life_steps(settings: Settings) -> list[Step]:
    """Learn, package, keep on record, put online: where each stands, in plain words."""
    from jukebox.model.runs import list_trainings

    trainings = list_trainings(settings)
    if trainings:
        accuracy = trainings[0].report.evaluation.accuracy
        times = "once" if len(trainings) == 1 else f"{len(trainings)} times"
        learnt = (
            f"Trained {times}; the latest names the right country for {accuracy:.0%} of chart "
            "places it never saw."
        )
    else:
        learnt = "Not trained yet."
    exported = [t for t in trainings if t.exported]
    if not exported:
        packaged = "Not packaged yet."
    elif exported[0].verification_passed:
        packaged = "Packaged for serving, and checked to answer exactly as it was trained."
    else:
        packaged = "The latest packaging failed its check: it does not answer as trained."
    registry = lifecycle.registry_stage(settings)
    kept = registry.summary.replace("production:", "in use:")
    if registry.summary == "None yet.":
        kept = "No version on record yet."
    elif registry.summary.startswith("Registry unreachable"):
        kept = "The record of versions cannot be read now" + registry.summary[20:]
    elif not registry.reached:  # the embedded registry is not running: not asked just for Home
        kept = "The Registry page lists the versions on record."
    serving = lifecycle.deployment_stage(settings)
    online = serving.summary.replace(" serving: ", " answering: ")
    if not serving.reached:
        online = "No model is answering yet."
    watching = lifecycle.monitoring_stage(settings)
    if not watching.reached:
        watched = "Nobody has asked it anything yet."
    elif "drift alert(s)" in watching.summary:
        watched = (
            "The songs it is asked about no longer sound like those it learned from: "
            "time to retrain."
        )
    else:
        watched = "The songs it is asked about still sound like those it learned from."
    return [
        Step("Learn from the charts", learnt, bool(trainings), "app_pages/train.py",
             "Train a model", "🏋️"),
        Step("Package for serving", packaged, bool(exported) and exported[0].verification_passed,
             "app_pages/export.py", "Package it", "📦"),
        Step("Keep versions on record", kept, registry.reached, "app_pages/registry.py",
             "Record a version", "📚"),
        Step("Put it online", online, serving.reached, "app_pages/deploy.py",
             "Start a model", "🚀"),
        Step("Watch it in use", watched, watching.reached, "app_pages/monitor.py",
             "Watch it", "📈"),
    ]  # fmt: skip


def accuracy_context(countries: int | None, best_possible: float | None) -> str:
    """One sentence that makes a 14 % accuracy make sense: what a blind guess gets among this
    many countries, and (when known) what the best possible model would reach."""
    if not countries:
        return ""
    sentence = (
        f"Why accuracy looks low: a song charts in many of the {countries} countries at once, "
        f"so a blind guess names the right one {1 / countries:.1%} of the time"
    )
    if best_possible is not None:
        sentence += f" and even the best possible model only {best_possible:.0%}"
    return sentence + "."


def counts_in_words(counts) -> str:
    """What cleaning set aside, in a stakeholder's words (``DataCounts.sentence`` is the data
    scientist's)."""
    if not counts.cleaning_drops:
        return "Every song and chart place is used."
    return (
        f"Used after cleaning; as stored, {counts.songs:,} songs and {counts.chart_entries:,} "
        "daily chart places (cleaning sets aside songs with values that cannot be right, and "
        "chart places without a song)."
    )
