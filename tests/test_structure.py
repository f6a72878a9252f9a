"""The owner's structure, read from the source (no Qt loaded): the session is one QObject
composed of areas, not a class assembled from mixins, and no area reaches into another
object's private attributes (docs/DESIGN.md, "Where things live")."""
from __future__ import annotations

import ast
from pathlib import Path

UI = Path(__file__).resolve().parents[1] / "ddpm_desktop" / "ui"
OWNER_MODULES = sorted(UI.glob("session*.py"))
# How a module that was a piece of another class used to describe itself.
MIXIN_WORDS = ("mixin", "needs from", "kept apart for size")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_the_owner_modules_are_there():
    names = {p.name for p in OWNER_MODULES}
    assert {"session.py", "session_jobs.py", "session_file.py"} <= names
    assert len(OWNER_MODULES) >= 10


def test_the_session_has_one_base_class_qobject():
    (session,) = [node for node in ast.walk(_tree(UI / "session.py"))
                  if isinstance(node, ast.ClassDef) and node.name == "Session"]
    assert [ast.unparse(b) for b in session.bases] == ["QObject"]


def test_every_area_is_its_own_object():
    """Each class in an area module derives from Qt's QObject (or a plain object, or a
    frozen dataclass), never from another area: the session holds areas, not parents."""
    own = {node.name for path in OWNER_MODULES for node in ast.walk(_tree(path))
           if isinstance(node, ast.ClassDef)}
    for path in OWNER_MODULES:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b) for b in node.bases}
                assert not bases & own, f"{path.name}: {node.name} inherits {bases & own}"


def test_no_ui_module_describes_itself_as_a_piece_of_another_class():
    for path in sorted(UI.glob("*.py")):
        tree = _tree(path)
        docs = [ast.get_docstring(tree) or ""]
        if path in OWNER_MODULES:  # the areas: their classes' and functions' docstrings too
            docs += [ast.get_docstring(node) or "" for node in ast.walk(tree)
                     if isinstance(node, (ast.ClassDef, ast.FunctionDef))]
        text = " ".join(" ".join(docs).split()).lower()
        for word in MIXIN_WORDS:
            assert word not in text, f"{path.name} says {word!r}"


def test_no_area_reads_a_private_attribute_of_another_object():
    """`self._x` is an area's own; `self.session._x`, `other._x` reach into someone else's."""
    found = []
    for path in OWNER_MODULES:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Attribute) and _is_private(node.attr):
                owner = node.value
                if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                    found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    assert found == []
