"""The gate before registering: a new model may not be worse than the production version."""

from __future__ import annotations

from dataclasses import dataclass

from jukebox.config import Settings


@dataclass(frozen=True)
class Gate:
    passed: bool
    reason: str
    production_version: str | None = None
    production_accuracy: float | None = None


def production_gate(accuracy: float, model_name: str, tolerance: float, settings: Settings) -> Gate:
    """Compare a new model's test accuracy with the version of ``model_name`` marked for
    production: it passes unless it is worse by more than ``tolerance``.

    A model with no production version (or not yet registered at all) passes: there is nothing
    to be worse than. Registry errors propagate: a gate that cannot look must not let through.
    """
    from jukebox.registry.errors import VersionNotFoundError
    from jukebox.registry.versions import list_versions

    try:
        versions = list_versions(model_name, settings=settings)
    except VersionNotFoundError:
        versions = []
    production = next((v for v in versions if v.production), None)
    baseline = production.metrics.get("accuracy") if production else None
    if production is None or not isinstance(baseline, int | float):
        return Gate(True, f"No production version of {model_name} to compare with: registering.")
    baseline = float(baseline)
    if accuracy < baseline - tolerance:
        return Gate(
            False,
            f"Not registered: test accuracy {accuracy:.4f} is worse than production version "
            f"{production.version} ({baseline:.4f}) by {baseline - accuracy:.4f}, more than the "
            f"tolerance {tolerance:g}.",
            production.version,
            baseline,
        )
    return Gate(
        True,
        f"Test accuracy {accuracy:.4f} against production version {production.version} "
        f"({baseline:.4f}): within the tolerance {tolerance:g}, registering.",
        production.version,
        baseline,
    )


@dataclass(frozen=True)
class GatedRegistration:
    """What registering through the gate did: the gate's verdict, and the version if it passed."""

    gate: Gate
    version: str | None = None

    @property
    def registered(self) -> bool:
        return self.version is not None


def register_through_gate(
    settings: Settings,
    bundle_dir,
    model_name: str,
    *,
    tolerance: float = 0.01,
    version: str | None = None,
    **registration,
) -> GatedRegistration:
    """Register the exported bundle in ``bundle_dir`` as the next version of ``model_name``
    (or ``version``) if its test accuracy passes :func:`production_gate`, as the training
    pipeline does; ``registration`` goes on to ``register_bundle`` (``run_id``, ``trigger``…).

    A bundle whose training was an experiment run is linked to its run on registration.
    """
    from jukebox.model.bundle import read_bundle
    from jukebox.registry.register import register_bundle
    from jukebox.registry.versions import suggest_next_version

    bundle = read_bundle(bundle_dir)
    if bundle.report is None:
        from jukebox.model.bundle import BundleError

        raise BundleError(f"{bundle_dir} has no report: it cannot be held against production.")
    gate = production_gate(bundle.report.evaluation.accuracy, model_name, tolerance, settings)
    if not gate.passed:
        return GatedRegistration(gate)
    version = version or suggest_next_version(model_name, settings)
    info = register_bundle(bundle_dir, model_name, version, settings=settings, **registration)
    return GatedRegistration(gate, info.version)


def register_run(
    settings: Settings, run, model_name: str, *, tolerance: float = 0.01
) -> GatedRegistration:
    """Register the bundle of an experiment run (a ``RunSummary``) through the gate, exporting
    its training first when it is not exported yet (as the Export page would). A run without a
    usable bundle, or whose export fails verification, is refused with a sentence
    (``BundleError``); registering links the version to the run."""
    from jukebox.model.bundle import BundleError
    from jukebox.registry.tracking import run_bundle

    found = run_bundle(run)
    if found.problem:
        raise BundleError(found.problem)
    if not found.exported:
        from jukebox.model.workflow import export_training

        record = export_training(found.path)
        if not record.verification_passed:
            raise BundleError(
                f"The export of {found.path.name} failed verification: its ONNX model does not "
                "match the trained model (see the Export page), so it cannot be registered."
            )
    return register_through_gate(settings, found.path, model_name, tolerance=tolerance)
