"""The library's layers, as DESIGN.md draws them: each folder imports only those below it, and
no two modules of one package import each other. import-linter's contracts live in
pyproject.toml; grimp reads every import, those inside functions too.

import-linter runs in a process of its own: its console keeps the first ``sys.stdout`` it meets,
and in a test session that is a capture file an earlier test may have closed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept():
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    said = result.stdout
    assert result.returncode == 0, said[said.find("Broken contracts") :] or result.stderr
    assert "2 kept, 0 broken" in said
