"""Names, not history: nothing private crosses a module boundary, and no "helper X" / "issue N"
marker sits in the code, README or docs (git keeps the history)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ddpm_desktop"

# Who did what and which ticket asked for it belong in git; a marker in the text goes stale.
MARKERS = re.compile(r"\bhelper [A-Z]\b|\b[Ii]ssue #?\d+|#\s*-+\s*end\b(?!-)|<!--\s*end\b|"
                     r"kept apart for size")


def marker_lines(text: str) -> list[str]:
    return [f"line {n}: {line.strip()[:80]}" for n, line in enumerate(text.splitlines(), 1)
            if MARKERS.search(line)]


def test_the_marker_scan_finds_what_it_should():
    found = marker_lines("x = 1  # helper E: the student\n# -- end distilled\n"
                         '"""Issue 16 in the UI"""\n<!-- end sampler -->\n'
                         "(session.py; kept apart for size)\nsee issue 13\n")
    assert len(found) == 6, found
    assert marker_lines("# the helper function\n# the end of the chain\nissues = []\n"
                        "# --end-to-end test\n") == []


def test_no_history_markers_in_code_readme_or_docs():
    files = sorted(PACKAGE.rglob("*.py")) + [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    found = {str(p.relative_to(ROOT)): hits for p in files
             if (hits := marker_lines(p.read_text(encoding="utf-8")))}
    assert found == {}


def private_imports(path: Path) -> list[str]:
    """`from module import _name` (a private name taken from another module)."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            bad += [f"line {node.lineno}: {a.name}" for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")]
    return bad


def test_the_private_import_scan_sees_relative_and_absolute_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from .sampling import _ab, x0_from_eps\nfrom a.b import _C as C\n"
                 "from . import _common\nfrom ._common import seed_arg\nfrom x import __version__\n")
    assert private_imports(f) == ["line 1: _ab", "line 2: _C", "line 3: _common"]


def test_no_private_name_is_imported_across_modules():
    found = {str(p.relative_to(ROOT)): bad for p in sorted(PACKAGE.rglob("*.py"))
             if (bad := private_imports(p))}
    assert found == {}
