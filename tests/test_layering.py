"""The dependency direction: ddpm_desktop.core and the headless CLI never load Qt."""
import subprocess
import sys


def _loaded_qt_modules(code: str) -> list[str]:
    probe = (
        code
        + "\nimport sys\n"
        + "print(','.join(m for m in sys.modules if m.split('.')[0] in "
        + "('PySide6', 'shiboken6', 'pyqtgraph', 'PyQt5', 'PyQt6')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


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
