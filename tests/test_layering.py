"""The dependency direction: ddpm_desktop.core and the headless CLI never load Qt."""
import subprocess
import sys

import pytest


def _loaded_qt_modules(code: str) -> list[str]:
    probe = (
        code
        + "\nimport sys\n"
        + "print(','.join(m for m in sys.modules if m.split('.')[0] in "
        + "('PySide6', 'shiboken6', 'pyqtgraph', 'PyQt5', 'PyQt6')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


@pytest.mark.slow
def test_core_imports_no_qt():
    import pkgutil

    import ddpm_desktop.core as core

    names = [f"ddpm_desktop.core.{m.name}" for m in pkgutil.iter_modules(core.__path__)]
    assert names, "core has no modules"
    code = "\n".join(f"import {n}" for n in names)
    assert _loaded_qt_modules(code) == []


def test_headless_cli_imports_no_qt():
    code = "from ddpm_desktop.cli import build_parser\nbuild_parser()"
    assert _loaded_qt_modules(code) == []


def _imports(path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_widgets_are_views():
    """A widget never starts work, keeps settings of its own or reaches into a worker: it may
    not import the job machinery (controller, workers, the session and its job mixins, the
    core jobs) nor QSettings. The session owns state and work (docs/DESIGN.md)."""
    from pathlib import Path

    import ddpm_desktop.ui.widgets as widgets

    banned = ("ddpm_desktop.ui.controller", "ddpm_desktop.ui.workers", "ddpm_desktop.ui.session",
              "ddpm_desktop.core.training_run.TrainingRun", "PySide6.QtCore.QSettings", "PySide6.QtCore.QThread")
    files = sorted(Path(widgets.__path__[0]).glob("*.py"))
    assert len(files) > 5
    offenders = {f.name: sorted(n for n in _imports(f) if n.startswith(banned)) for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}
