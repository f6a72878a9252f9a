"""The quick tier (`python -m pytest -m "not slow"`) reaches every module of the package that
the suite reaches: each is imported by a test file that has a quick test, directly or through
the modules those import, so marking tests slow never leaves a module to the slow tier alone.

The imports are read from the source (as Python follows them: a submodule brings its packages,
`from a import b` may name the module a.b), and a command module counts where a test names its
command; the quick and slow tests are the ones this run collected, with their marks as pytest
applied them. Imports inside a test that is slow in every case do not count: the quick tier
never runs them."""
from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
# Where the tests import from: the checkout's root (ddpm_desktop, bench) and the test folders
# (cli_helpers, plot_texts, reliability_helpers, each folder's conftest-free helpers).
SEARCH = [ROOT, TESTS, TESTS / "core", TESTS / "ui", TESTS / "reliability"]


def module_file(name: str) -> Path | None:
    """The source of module `name` under this checkout, or None (a library's)."""
    parts = name.split(".")
    for base in SEARCH:
        path = base.joinpath(*parts)
        if path.with_suffix(".py").is_file():
            return path.with_suffix(".py")
        if (path / "__init__.py").is_file():
            return path / "__init__.py"
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def package_modules() -> set[str]:
    return {module_name(p) for p in (ROOT / "ddpm_desktop").rglob("*.py")}


def imported_names(tree: ast.AST, importer: str, skip: set[ast.AST] = frozenset()) -> set[str]:
    """Module names the code imports (with their parent packages), leaving out the bodies in
    `skip`."""
    package = importer.rsplit(".", 1)[0] if "." in importer else ""
    found: set[str] = set()
    todo = [tree]
    while todo:
        node = todo.pop()
        if node in skip:
            continue
        todo.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    with_parents = set()
    for name in found:
        parts = name.split(".")
        with_parents.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {n for n in with_parents if n and module_file(n) is not None}


def strings_in(tree: ast.AST, skip: set[ast.AST] = frozenset()) -> set[str]:
    """The string constants of the code, leaving out the bodies in `skip`."""
    found, todo = set(), [tree]
    while todo:
        node = todo.pop()
        if node not in skip:
            todo.extend(ast.iter_child_nodes(node))
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


@functools.cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


@functools.cache
def imports_of_module(name: str) -> frozenset[str]:
    path = module_file(name)
    importer = name if path.name != "__init__.py" else f"{name}.__init__"
    return frozenset(imported_names(parsed(path), importer))


def reached(start: set[str], commands: set[str]) -> set[str]:
    """Every module of this checkout that importing `start` imports, followed to the end, and
    of the CLI's command modules those in `commands`: build_parser imports every one of them
    by name, but a command is exercised only by a test that runs it."""
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(imports_of_module(name))
        if name == "ddpm_desktop.cli":
            todo.extend(f"ddpm_desktop.commands.{c}" for c in commands)
    return seen


def run_by_tests(collected, quick_only: bool) -> set[str]:
    """The modules the test files import and the commands they run (by name: `main(["toy",
    ...])`, `python -m ddpm_desktop toy`); with `quick_only`, of the files with a quick test
    only, less what their slow tests alone import or name."""
    from ddpm_desktop.cli import COMMANDS

    by_file: dict[Path, dict[str, bool]] = {}
    for item in collected:
        name = getattr(item, "originalname", None) or item.name
        quick = item.get_closest_marker("slow") is None or not quick_only
        tests = by_file.setdefault(Path(item.path), {})
        tests[name] = tests.get(name, False) or quick
    start: set[str] = set()
    commands: set[str] = set()
    for path, tests in by_file.items():
        if not any(tests.values()) or path == Path(__file__):  # this file names but never runs
            continue
        tree = parsed(path)
        slow_bodies = {node for node in ast.walk(tree)
                       if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                       and tests.get(node.name) is False}
        imports = imported_names(tree, path.stem, slow_bodies)
        strings = strings_in(tree, slow_bodies)
        if "ddpm_desktop" in strings:  # [sys.executable, "-m", "ddpm_desktop", ...]
            imports.add("ddpm_desktop.__main__")
        start |= imports
        if "ddpm_desktop.cli" in reached(imports, set()):  # a file that runs the CLI
            commands |= strings & set(COMMANDS)
    return reached(start, commands)


@pytest.mark.slow  # 3 s of parsing; it reads the marks, so it checks the tiers from the slow one
def test_the_quick_tier_imports_every_module(request):
    collected = getattr(request.config, "ddpm_collected", None)
    on_disk = set(TESTS.rglob("test_*.py"))
    if collected is None or len({Path(i.path) for i in collected}) < 0.9 * len(on_disk):
        pytest.skip("reads the whole suite's collection: run with every test file collected")
    quick = {item for item in collected if item.get_closest_marker("slow") is None}
    assert len(quick) > 500, "the quick tier is nearly empty"
    # test_packaging's walk over every module imports them all (by name, which this does not
    # follow), so a module no test imports is its authors' gap, not the tiers'.
    package = package_modules()
    by_the_suite = package & run_by_tests(collected, quick_only=False)
    by_the_quick_tier = package & run_by_tests(collected, quick_only=True)
    assert len(by_the_suite) > 0.9 * len(package)
    assert sorted(by_the_suite - by_the_quick_tier) == []


@pytest.mark.slow  # 2 s: it parses the package, as the check does
def test_the_check_follows_imports_and_ignores_slow_only_ones():
    tree = ast.parse("import ddpm_desktop.core.kl\nfrom .schedule import NoiseSchedule\n"
                     "def test_x():\n    from ddpm_desktop.core import toy2d\n")
    slow = {n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    names = imported_names(tree, "ddpm_desktop.core.forward", slow)
    assert names == {"ddpm_desktop", "ddpm_desktop.core", "ddpm_desktop.core.kl",
                     "ddpm_desktop.core.schedule"}
    assert "ddpm_desktop.core.toy2d" in imported_names(tree, "ddpm_desktop.core.forward")
    cli = reached({"ddpm_desktop.cli"}, {"toy"})
    assert "ddpm_desktop.commands.toy" in cli and "ddpm_desktop.commands.sample" not in cli
    assert "ddpm_desktop.commands.sample" in reached({"ddpm_desktop.cli"}, {"sample"})
    assert {"sample", "toy"} <= set(strings_in(ast.parse('main(["toy"])\nrun(["sample"])')))


def test_the_readme_ci_and_the_timing_script_name_the_same_commands():
    from bench.suite import TIERS

    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    full = " ".join(["python -m pytest", *TIERS["full"]])
    quick = "python -m pytest " + " ".join(f'"{a}"' if " " in a else a for a in TIERS["quick"])
    assert f'-e ".[test]" && {full}\n' in ci
    assert f'-e ".[test]" && {full}\n' in readme
    assert f"`{quick}`" in " ".join(readme.split())
