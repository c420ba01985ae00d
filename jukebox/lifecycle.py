"""Where the model's life stands: one short line per stage, for the Home page and the CLI.

Every stage is read from what its part already keeps (training directories, the registry, the
deployment records), so there is no second record to drift out of date. Reading is cheap: the
embedded registry is asked only when it is already running, never started just to draw Home.
"""

from __future__ import annotations

from dataclasses import dataclass

from jukebox.config import Settings


@dataclass(frozen=True)
class Stage:
    """One step of the model's life: what it is, where it stands, and whether it has happened."""

    title: str
    summary: str
    reached: bool


def training_stage(settings: Settings) -> Stage:
    from jukebox.model.runs import list_trainings

    trainings = list_trainings(settings)
    if not trainings:
        return Stage("Latest training", "No training yet.", False)
    latest = trainings[0]
    score = f"test accuracy {latest.report.evaluation.accuracy:.3f}"
    return Stage("Latest training", f"{latest.id} · {score} ({len(trainings)} in all)", True)


def export_stage(settings: Settings) -> Stage:
    from jukebox.model.runs import list_trainings

    exported = [t for t in list_trainings(settings) if t.exported]
    if not exported:
        return Stage("Export", "No ONNX export yet.", False)
    latest = exported[0]
    verdict = "verified" if latest.verification_passed else "FAILED verification"
    return Stage("Export", f"{latest.id} · {verdict}", latest.verification_passed)


def registry_stage(settings: Settings) -> Stage:
    from jukebox.errors import JukeboxError
    from jukebox.registry.server.process import running_servers
    from jukebox.registry.versions import list_all_versions

    if not settings.registry_is_remote and not running_servers(settings):
        if not settings.registry_db.exists():
            return Stage("Registered versions", "None yet.", False)
        return Stage(
            "Registered versions", "The embedded registry starts when a page needs it.", False
        )
    try:
        versions = list_all_versions(settings)
    except JukeboxError as error:
        return Stage("Registered versions", f"Registry unreachable: {error}", False)
    if not versions:
        return Stage("Registered versions", "None yet.", False)
    production = [f"{v.model} v{v.version}" for v in versions if v.production]
    summary = f"{len(versions)} version(s)" + (
        f" · production: {', '.join(production)}" if production else ""
    )
    return Stage("Registered versions", summary, True)


def deployment_stage(settings: Settings) -> Stage:
    from jukebox.serving.deploy import list_deployments

    ready = [d for d in list_deployments(settings) if d.ready]
    if not ready:
        return Stage("Deployments", "None serving.", False)
    names = ", ".join(f"{d.name} ({d.source})" for d in ready[:3])
    return Stage("Deployments", f"{len(ready)} serving: {names}", True)


def monitoring_stage(settings: Settings) -> Stage:
    """Which deployments' requests are logged, and their drift alerts: read from the monitoring
    folder (file names and the short alert records), never the logs themselves."""
    from jukebox.monitoring.history import alerts
    from jukebox.monitoring.paths import monitoring_dir
    from jukebox.monitoring.payload_log import logged_models

    watched = logged_models(monitoring_dir(settings))
    if not watched:
        return Stage("Monitoring", "Nothing logged yet.", False)
    raised = [a for model in watched for a in alerts(settings, model)]
    if not raised:
        return Stage("Monitoring", f"Watching {', '.join(watched)}: no drift alert.", True)
    latest = max(raised, key=lambda a: a.time)
    return Stage(
        "Monitoring",
        f"Watching {', '.join(watched)}: {len(raised)} drift alert(s), the latest on "
        f"{latest.model} ({', '.join(latest.columns)}).",
        True,
    )


def life_stages(settings: Settings) -> list[Stage]:
    """Training, export, registry, deployment and monitoring, in the order a model lives
    through them."""
    return [
        training_stage(settings),
        export_stage(settings),
        registry_stage(settings),
        deployment_stage(settings),
        monitoring_stage(settings),
    ]
