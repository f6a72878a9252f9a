"""The dependency direction: core below render below ui; commands beside ui, never importing it.

core imports no Qt, ui, commands or render; render imports no ui or commands (Qt's QtGui only);
commands imports no ui (Qt only inside the commands that paint, through render); ui imports no
commands. The headless CLI never loads Qt."""
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


@pytest.mark.slow
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


PACKAGE = __import__("pathlib").Path(__file__).resolve().parents[1] / "ddpm_desktop"
QT = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6")


def _absolute_imports(path) -> set[str]:
    """The modules `path` imports, relative imports resolved against its package."""
    import ast

    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names |= {f"{base}.{a.name}" for a in node.names}
    return names


def _offenders(layer: str, banned: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        bad = sorted(n for n in _absolute_imports(path)
                     if any(n == b or n.startswith(b + ".") for b in banned))
        if bad:
            found[str(path.relative_to(PACKAGE))] = bad
    return found


def test_core_imports_no_qt_ui_commands_or_render():
    banned = QT + ("ddpm_desktop.ui", "ddpm_desktop.commands", "ddpm_desktop.render")
    assert _offenders("core", banned) == {}


def test_commands_import_no_ui_and_no_qt_directly():
    """The commands that paint (export, toy) reach Qt only through the renderer."""
    assert _offenders("commands", QT + ("ddpm_desktop.ui",)) == {}


def test_ui_imports_no_commands():
    assert _offenders("ui", ("ddpm_desktop.commands",)) == {}


def test_render_imports_no_ui_commands_or_widgets():
    banned = ("ddpm_desktop.ui", "ddpm_desktop.commands", "pyqtgraph", "PySide6.QtWidgets")
    assert _offenders("render", banned) == {}
    assert len(list((PACKAGE / "render").glob("*.py"))) > 3


def test_the_checks_see_a_relative_import(tmp_path):
    """The AST walk resolves `from ..ui import x` (else a relative import would slip through)."""
    global PACKAGE
    pkg = tmp_path / "ddpm_desktop"
    (pkg / "commands").mkdir(parents=True)
    (pkg / "commands" / "bad.py").write_text("from ..ui import theme\nfrom . import _common\n")
    saved, PACKAGE = PACKAGE, pkg
    try:
        assert _offenders("commands", ("ddpm_desktop.ui",)) == {
            "commands/bad.py": ["ddpm_desktop.ui", "ddpm_desktop.ui.theme"]}
    finally:
        PACKAGE = saved


def test_every_headless_command_runs_its_parser_and_imports_without_qt():
    """Each command module other than the painting ones (export, toy) loads no Qt when
    imported, nor does render's package or its gui helper."""
    import pkgutil

    import ddpm_desktop.commands as commands

    names = [f"ddpm_desktop.commands.{m.name}" for m in pkgutil.iter_modules(commands.__path__)]
    assert len(names) > 8
    code = "\n".join(f"import {n}" for n in names)
    code += "\nimport ddpm_desktop.render\nimport ddpm_desktop.render.gui"
    assert _loaded_qt_modules(code) == []


def test_a_headless_command_runs_without_loading_qt():
    code = ("import contextlib, io\nfrom ddpm_desktop.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['schedule', '--T', '50', '--json']) == 0")
    assert _loaded_qt_modules(code) == []
