"""ddpm-desktop: watch a denoising diffusion model turn digits into noise and back."""
from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"


def resources_path(name: str = "") -> Path:
    """Path of a bundled resource, in a source checkout or an installed wheel.

    The repository keeps `resources/` at the top level; a wheel ships it as the package
    `ddpm_desktop.resources`.
    """
    root = Path(__file__).resolve().parent.parent
    checkout = root / "resources"
    if checkout.is_dir() and (root / "pyproject.toml").is_file():
        base = checkout
    else:
        from importlib.resources import files

        base = Path(str(files("ddpm_desktop.resources")))
    return base / name if name else base
