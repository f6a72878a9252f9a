"""Run inside an install of the wheel, away from the checkout (tests/test_packaging.py):

    PYTHONPATH=<target> python installed_smoke.py <target> <out folder>

Checks that the package comes from <target>, runs a small case of each CLI command that
reads a bundled file (model, student, latent model, classifier, data), parses every command's
options, and builds the main window offscreen with the app's names and icon and closes it
(first: `export` makes a bare QGuiApplication when none exists, and the window needs a
QApplication).
Prints one JSON line of what it saw; any failure raises (a nonzero exit).
"""
import json
import sys
import tempfile
from pathlib import Path

target, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])

import ddpm_desktop  # noqa: E402
from ddpm_desktop.cli import COMMANDS, build_parser, main  # noqa: E402

package = Path(ddpm_desktop.__file__).resolve()
assert package.is_relative_to(target), f"imported {package}, not the install in {target}"
assert ddpm_desktop.resources_path().resolve().is_relative_to(target)

parser = build_parser()
sub = next(a for a in parser._actions if a.dest == "command")  # every command's options parse
missing = [name for name in COMMANDS if name not in sub.choices]
assert not missing, missing

from PySide6.QtCore import QSettings  # noqa: E402

QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
from ddpm_desktop.ui.app import create_app  # noqa: E402
from ddpm_desktop.ui.main_window import MainWindow  # noqa: E402

app = create_app(["ddpm-desktop"])
window = MainWindow()
window.show()
app.processEvents()
icon = window.windowIcon().pixmap(64, 64).toImage()
window.close()

runs = {
    "kl": ["kl", "--json"],
    "sample": ["sample", "--sampler", "dpmpp", "--steps", "2", "--n", "1", "--label", "3",
               "--out", str(out / "sample.png")],                      # model.safetensors
    "sample distilled": ["sample", "--sampler", "distilled", "--steps", "1", "--n", "1",
                         "--out", str(out / "student.png")],           # distilled.safetensors
    "reconstruct": ["reconstruct", "--index", "3", "--t", "100", "--sampler", "dpmpp",
                    "--steps", "2", "--out", str(out / "recon.png")],  # mnist.npz
    "inpaint": ["inpaint", "--index", "7", "--mask", "bottom", "--method", "paste",
                "--sampler", "dpmpp", "--steps", "2", "--n", "1", "--json",
                "--out", str(out / "fill.png")],                       # classifier.safetensors
    "toy": ["toy", "--data", "mnist-latent", "--n", "4", "--sampler", "dpmpp", "--steps", "2",
            "--label", "3", "--out", str(out / "latent.npz")],         # latent.safetensors
    "train": ["train", "--steps", "2", "--batch-size", "8", "--threads", "1",
              "--out", str(out / "model.safetensors")],
    "export": ["export", "--chain", "forward", "--index", "0", "--frames", "3",
               "--out", str(out / "forward.gif")],
    "experiment": ["experiment", "--list"],
}
codes = {name: main(argv) for name, argv in runs.items()}
assert all(code == 0 for code in codes.values()), codes
written = sorted(p.name for p in out.iterdir())

print(json.dumps({"package": str(package.parent), "codes": codes, "written": written,
                  "application": app.applicationName(), "desktop_file": app.desktopFileName(),
                  "icon_size": [icon.width(), icon.height()],
                  "icon_alpha": icon.pixelColor(32, 32).alpha()}))
