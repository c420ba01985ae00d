"""The library's layers, as DESIGN.md draws them: each folder imports only those below it, and
no two modules of one package import each other. import-linter's contracts live in
pyproject.toml; grimp reads every import, those inside functions too."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept(monkeypatch, capsys):
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    said = capsys.readouterr().out
    assert status == 0, said[said.find("Broken contracts") :]
    assert "2 kept, 0 broken" in said
