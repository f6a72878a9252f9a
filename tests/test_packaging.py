"""resources/ sits at the top of the repository but ships inside the wheel, and the wheel,
installed away from the checkout, is the whole program."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from ddpm_desktop import resources_path

ROOT = Path(__file__).resolve().parent.parent


def test_resources_are_found_through_one_function():
    for name in ("mnist.npz", "classifier.safetensors", "model.safetensors", "DATA.md",
                 "twin-a.safetensors", "twin-b.safetensors", "few-a.safetensors",
                 "few-b.safetensors", "generalisation.json"):
        assert resources_path(name).is_file(), name


def test_the_wheel_maps_resources_into_the_package_with_its_data():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert cfg["package-dir"]["ddpm_desktop.resources"] == "resources"
    assert "ddpm_desktop.resources" in cfg["packages"]
    globs = cfg["package-data"]["ddpm_desktop.resources"]
    for name in ("mnist.npz", "model.safetensors", "classifier.safetensors", "few-a.safetensors",
                 "generalisation.json"):
        assert any(Path(name).match(g) for g in globs), name
    # Every subpackage with modules is listed (setuptools would silently drop one).
    for init in (ROOT / "ddpm_desktop").rglob("__init__.py"):
        pkg = ".".join(init.parent.relative_to(ROOT).parts)
        assert pkg in cfg["packages"], pkg


def test_constraints_keep_torch_on_the_tested_build_and_pyside_off_6_12():
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert pins["torch"] == "2.13.0"
    assert tuple(int(p) for p in pins["PySide6-Essentials"].split(".")[:2]) < (6, 12)


def _can_build_wheels() -> str | None:
    """Why a wheel cannot be built offline here, or None."""
    for module in ("pip", "setuptools"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed"
    return None


@pytest.mark.slow
def test_the_wheel_installed_away_from_the_checkout_runs_the_commands_and_the_app(tmp_path):
    """The wheel is the product: build it (offline, with the setuptools already installed),
    install it into a bare folder, and from a folder outside the checkout run the installed
    `ddpm-desktop` script and every command that reads a bundled file, then open the window."""
    if (why := _can_build_wheels()) is not None:
        pytest.skip(f"cannot build a wheel: {why}")
    src = tmp_path / "src"  # a copy, so the build's own folders stay out of the checkout
    for name in ("pyproject.toml", "README.md"):
        src.mkdir(exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.tmp")
    for name in ("ddpm_desktop", "resources"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w",
                          str(tmp_path / "dist"), str(src)], check=True, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("ddpm_desktop-*.whl")

    # Everything in the source tree is in the wheel: every module, every bundled file.
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "ddpm_desktop").rglob("*.py")}
    assert not modules - names, sorted(modules - names)
    bundled = {f"ddpm_desktop/resources/{p.name}" for p in (ROOT / "resources").iterdir()
               if p.is_file() and p.suffix != ".pyc"}
    assert not bundled - names, sorted(bundled - names)

    target = tmp_path / "install"
    subprocess.run(pip + ["install", "--no-deps", "--no-index", "--target", str(target),
                          str(wheel)], check=True, cwd=tmp_path)
    away = tmp_path / "away"
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PYTHONPATH=str(target), QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1",
               XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHONDONTWRITEBYTECODE="1")

    script = target / "bin" / "ddpm-desktop"  # the installed command itself
    done = subprocess.run([str(script), "schedule", "--T", "50", "--json"], cwd=away, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["betas"]) == 50

    done = subprocess.run([sys.executable, str(ROOT / "tests" / "installed_smoke.py"),
                           str(target), str(away)], cwd=away, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(seen["package"]) == target / "ddpm_desktop"
    assert set(seen["written"]) >= {"sample.png", "student.png", "recon.png", "fill.png",
                                    "latent.npz", "model.safetensors", "forward.gif"}
    assert seen["application"] == "ddpm-desktop" and seen["desktop_file"] == "ddpm-desktop"
    assert seen["icon_size"] == [64, 64] and seen["icon_alpha"] == 255


def test_every_module_imports():
    """Each module of the package imports (the quick tier runs this too, so a module none of
    its quick tests reaches still fails fast on a broken import)."""
    import importlib
    import pkgutil

    import ddpm_desktop

    names = [m.name for m in pkgutil.walk_packages(ddpm_desktop.__path__, "ddpm_desktop.")
             if m.name != "ddpm_desktop.__main__"]  # that one runs the CLI
    assert "ddpm_desktop.core.sampling" in names and "ddpm_desktop.ui.main_window" in names
    for name in names:
        importlib.import_module(name)
