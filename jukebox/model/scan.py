"""modelscan before anything loads: scan a bundle's model files, and refuse unsafe ones.

:func:`scan_path` runs `modelscan <https://github.com/protectai/modelscan>`_ (Protect AI's
scanner, as the workshop's ``8-securing_ai/1-modelscan.ipynb`` uses it) over a file or a
directory and returns a :class:`ScanReport` in modelscan's own words; :func:`refuse_unsafe`
raises :class:`UnsafeModelError` when the report holds a finding of medium severity or higher,
or a model file modelscan could not read. Registration (``jukebox.registry.register``) and
local deployment (``jukebox.serving.deploy``, ``python -m jukebox serve``) call both before any
model file is loaded, and ``python -m jukebox scan PATH`` prints the report.

What modelscan 0.8.8 covers, and what it does not:

- ``.keras`` (a zip): its ``config.json`` is read as JSON, and every ``Lambda`` layer among the
  model's top-level layers is a MEDIUM finding ("Use of unsafe operator 'Lambda' from module
  'Keras'"): a Lambda layer carries Python code that runs when the model is loaded. Layers of
  a model nested inside another are not looked at; Keras's ``safe_mode=True``, with which
  Jukebox always loads a ``.keras`` file, refuses a Lambda's Python code as it loads.
- ``.h5``, ``.pb`` (SavedModel), pickle, NumPy and PyTorch files: their own scanners.
- ``.onnx`` is **not scanned**: modelscan has no ONNX scanner. The report lists ``model.onnx``
  among the files not scanned, and so does the summary recorded in the registry. (ONNX Runtime
  runs a graph of operators; it does not execute Python from the file.)
- JSON, Markdown and Parquet files are not model files; they are listed as not scanned.

modelscan's scanners import TensorFlow, which takes seconds, while the scan itself takes
milliseconds. So a file modelscan has no scanner for (and that is no zip, which it would open)
is listed as not scanned without starting modelscan's scanners, in modelscan's own words; each
other file is scanned on its own, and with ``cache_dir`` its report is kept under its name and
sha256, so registering a bundle and then serving the copy fetched from storage scans once.
Reports are JSON, never pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from jukebox.config import Settings
from jukebox.errors import JukeboxError
from jukebox.model.bundle import file_sha256

SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
REFUSED_FROM = "MEDIUM"
"""The lowest severity that refuses a step: the workshop's Lambda layer is MEDIUM."""

NOT_SUPPORTED = "SCAN_NOT_SUPPORTED"
_ZIP_MAGIC = b"PK\x03\x04"  # modelscan's own test: the first four bytes of a local zip header


class UnsafeModelError(JukeboxError, ValueError):
    """A model file failed modelscan's scan; the message holds the scanner's findings."""

    def __init__(self, message: str, report: ScanReport):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class Finding:
    """One issue modelscan found: its severity, its description and the file (``file:member``
    inside a zip such as ``model.keras:config.json``), as modelscan words them."""

    severity: str
    description: str
    source: str
    scanner: str = ""

    @property
    def refuses(self) -> bool:
        """Medium or higher; a severity this code does not know refuses too."""
        if self.severity not in SEVERITIES:
            return True
        return SEVERITIES.index(self.severity) >= SEVERITIES.index(REFUSED_FROM)

    def __str__(self) -> str:
        return f"{self.severity}: {self.description} ({self.source})"


@dataclass(frozen=True)
class Skipped:
    """A file modelscan did not scan, and its reason (modelscan's category and words)."""

    source: str
    category: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source} ({self.reason})"


@dataclass(frozen=True)
class ScanReport:
    """What modelscan said of ``path``: findings, errors (files it could not scan) and files
    skipped, with file names relative to ``path`` (or to its folder, for a file)."""

    path: str
    issues: tuple[Finding, ...] = ()
    errors: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    scanned: tuple[str, ...] = ()
    modelscan_version: str = ""
    cached: bool = field(default=False, compare=False)

    @property
    def refusing(self) -> tuple[Finding, ...]:
        """The findings of medium severity or higher."""
        return tuple(issue for issue in self.issues if issue.refuses)

    @property
    def passed(self) -> bool:
        """No finding of medium or higher, and no model file modelscan could not read."""
        return not self.refusing and not self.errors

    @property
    def not_scanned(self) -> tuple[Skipped, ...]:
        """Whole files modelscan has no scanner for (``model.onnx`` among them), leaving out the
        members of zips it opened, which it lists too (``model.keras:config.json``)."""
        return tuple(s for s in self.skipped if ":" not in s.source)

    @property
    def unscanned_models(self) -> tuple[str, ...]:
        """The ONNX models among the files not scanned: modelscan has no scanner for them."""
        return tuple(s.source for s in self.not_scanned if s.source.lower().endswith(".onnx"))

    def summary(self) -> str:
        """One line: the verdict, the findings, and what was and was not scanned."""
        verdict = "passed" if self.passed else "refused"
        parts = [f"{verdict} (modelscan {self.modelscan_version})"]
        if self.issues:
            parts.append("; ".join(map(str, self.issues)))
        else:
            parts.append("no issues found")
        parts.extend(f"could not scan: {error}" for error in self.errors)
        parts.append(f"scanned: {', '.join(self.scanned) or 'nothing'}")
        if self.unscanned_models:
            parts.append(
                f"not scanned: {', '.join(self.unscanned_models)} (modelscan has no ONNX scanner)"
            )
        return "; ".join(parts)

    def to_json(self) -> str:
        fields = asdict(self)
        fields.pop("cached")
        return json.dumps(fields, indent=2)

    @classmethod
    def from_json(cls, text: str) -> ScanReport:
        fields = json.loads(text)
        return cls(
            path=fields["path"],
            issues=tuple(Finding(**issue) for issue in fields["issues"]),
            errors=tuple(fields["errors"]),
            skipped=tuple(Skipped(**skipped) for skipped in fields["skipped"]),
            scanned=tuple(fields["scanned"]),
            modelscan_version=fields["modelscan_version"],
        )


def scan_cache_dir(settings: Settings) -> Path:
    """Where scan reports are kept by the sha256 of the files scanned, in ``JUKEBOX_HOME``."""
    return settings.home / "modelscan"


def scan_path(path: str | Path, *, cache_dir: Path | None = None) -> ScanReport:
    """Scan a file or a directory (recursively) with modelscan and return its report.

    Each file modelscan reads is scanned on its own, as modelscan's own walk over a directory
    does, so that with ``cache_dir`` its report is kept under the file's name and sha256: the
    same ``model.keras`` fetched from storage into another folder is not scanned twice.
    Raises :class:`JukeboxError` only for a path that does not exist: what modelscan finds is
    in the report, for :func:`refuse_unsafe` to judge.
    """
    from modelscan import __version__

    path = Path(path)
    if not path.exists():
        raise JukeboxError(f"{path} does not exist: give a model file or a bundle directory.")
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    root = path if path.is_dir() else path.parent
    issues: list[Finding] = []
    errors: list[str] = []
    skipped: list[Skipped] = []
    scanned: list[str] = []
    from_cache: list[bool] = []
    for file in files:
        name = file.relative_to(root).as_posix()
        if not _modelscan_reads(file):
            skipped.append(Skipped(name, NOT_SUPPORTED, "Model Scan did not scan file"))
            continue
        report = _scan_file(file, cache_dir, __version__)
        folder = name[: -len(file.name)]  # "" or "sub/": modelscan named it from its folder
        issues += [replace(issue, source=folder + issue.source) for issue in report.issues]
        errors += [
            folder + error if error.startswith(file.name) else error for error in report.errors
        ]
        skipped += [replace(s, source=folder + s.source) for s in report.skipped]
        scanned += [folder + source for source in report.scanned]
        from_cache.append(report.cached)
    return ScanReport(
        path=str(path),
        issues=tuple(issues),
        errors=tuple(errors),
        skipped=tuple(skipped),
        scanned=tuple(scanned),
        modelscan_version=__version__,
        cached=bool(from_cache) and all(from_cache),
    )


def _scan_file(file: Path, cache_dir: Path | None, version: str) -> ScanReport:
    if cache_dir is None:
        return _run_modelscan(file)
    cached_report = cache_dir / f"{_cache_key(file, version)}.json"
    cached = _read_cached(cached_report, file)
    if cached is not None:
        return cached
    report = _run_modelscan(file)
    _write_cached(cached_report, report)
    return report


def refuse_unsafe(report: ScanReport, step: str = "load") -> None:
    """Raise :class:`UnsafeModelError` with modelscan's findings when ``report`` did not pass:
    a finding of medium or higher, or a model file modelscan could not scan."""
    if report.passed:
        return
    lines = [str(issue) for issue in report.refusing]
    lines += [f"could not scan: {error}" for error in report.errors]
    found = "modelscan found" if report.refusing else "modelscan could not check it"
    advice = (
        f"A model file with such a finding can run code when it is loaded, so Jukebox will not "
        f"{step} it: use a model without it (a Jukebox training makes none), and check a file "
        "with `python -m jukebox scan PATH`."
    )
    raise UnsafeModelError(
        f"Refused to {step} {report.path}: {found}: " + "; ".join(lines) + f". {advice}",
        report,
    )


# --- running modelscan --------------------------------------------------------------------------


def _modelscan_reads(file: Path) -> bool:
    """Whether modelscan's default settings have a scanner for ``file``, or would open it as
    a zip (by its extension or its first four bytes, as modelscan decides)."""
    from modelscan.settings import DEFAULT_SETTINGS

    suffix = file.suffix.lower()
    if suffix in DEFAULT_SETTINGS["supported_zip_extensions"]:
        return True
    for scanner in DEFAULT_SETTINGS["scanners"].values():
        if scanner.get("enabled") and suffix in scanner.get("supported_extensions", ()):
            return True
    try:
        with open(file, "rb") as handle:
            return handle.read(4) == _ZIP_MAGIC
    except OSError:
        return True  # unreadable: let modelscan say so


def _run_modelscan(path: Path) -> ScanReport:
    # TensorFlow, which modelscan's scanners import, otherwise prints its start-up chatter.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from modelscan.modelscan import ModelScan
    from modelscan.settings import DEFAULT_SETTINGS

    result = ModelScan(settings=DEFAULT_SETTINGS).scan(path)
    summary = result["summary"]
    return ScanReport(
        path=str(path),
        issues=tuple(
            Finding(
                severity=issue["severity"],
                description=issue["description"],
                source=issue["source"],
                scanner=issue.get("scanner", ""),
            )
            for issue in result["issues"]
        ),
        errors=tuple(
            f"{error['source']}: {error['description']}"
            if error.get("source")
            else error["description"]
            for error in result["errors"]
        ),
        skipped=tuple(
            Skipped(s["source"], s["category"], s["description"])
            for s in summary["skipped"]["skipped_files"]
        ),
        scanned=tuple(summary["scanned"].get("scanned_files", ())),
        modelscan_version=summary["modelscan_version"],
    )


# --- the cache ------------------------------------------------------------------------------------


def _cache_key(file: Path, version: str) -> str:
    """sha256 over modelscan's version, the file's name and its sha256: the same bytes under the
    same name get the same report."""
    text = f"modelscan {version}\n{file.name}\0{file_sha256(file)}\n"
    return hashlib.sha256(text.encode()).hexdigest()


def _read_cached(file: Path, path: Path) -> ScanReport | None:
    try:
        report = ScanReport.from_json(file.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or unreadable: scan again
    return ScanReport(
        path=str(path),
        issues=report.issues,
        errors=report.errors,
        skipped=report.skipped,
        scanned=report.scanned,
        modelscan_version=report.modelscan_version,
        cached=True,
    )


def _write_cached(file: Path, report: ScanReport) -> None:
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
        tmp.write_text(report.to_json())
        os.replace(tmp, file)
    except OSError:
        pass  # a cache that cannot be written costs a scan next time, nothing else
