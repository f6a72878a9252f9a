"""resources/ sits at the top of the repository but ships inside the wheel."""
import tomllib
from pathlib import Path

from ddpm_desktop import resources_path

ROOT = Path(__file__).resolve().parent.parent


def test_resources_are_found_through_one_function():
    for name in ("mnist.npz", "classifier.safetensors", "model.safetensors", "DATA.md"):
        assert resources_path(name).is_file(), name


def test_the_wheel_maps_resources_into_the_package_with_its_data():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert cfg["package-dir"]["ddpm_desktop.resources"] == "resources"
    assert "ddpm_desktop.resources" in cfg["packages"]
    globs = cfg["package-data"]["ddpm_desktop.resources"]
    for name in ("mnist.npz", "model.safetensors", "classifier.safetensors"):
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
