"""Screenshot the app's main window under a private Xvfb display (for docs/screenshot.png).

    python tools/screenshot.py docs/screenshot.png [--theme dark|light] [--delay 2.5]
                                                   [--size 1400x900] [--play 0.6]

Starts `Xvfb :N -screen 0 WxHx24` on a free display number, runs the app in a child process
with QT_QPA_PLATFORM=xcb, waits `--delay` seconds, grabs the main window (QWidget.grab) to
the PNG and exits. Settings go to a throwaway folder, so the shot shows the default layout.
Exit status 0 on success, 2 when Xvfb is missing or the shot failed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import os, sys
sys.path.insert(0, {root!r})
from PySide6.QtCore import QCoreApplication, QSettings, QTimer
QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, {settings!r})
from ddpm_desktop.ui.app import create_app
app = create_app(["ddpm-desktop"])
QSettings().setValue("view/theme", {theme!r})
from ddpm_desktop.ui import theme as _theme
_theme.apply_theme(app, {theme!r})
app.setProperty("ddpm_theme", {theme!r})
from ddpm_desktop.ui.main_window import MainWindow
w = MainWindow()
w.resize({width}, {height})
w.move(0, 0)
w.show()
if {play} > 0:
    # park the forward chain part-way so the histogram and KL cursor show something
    fv = w.forward_view
    QTimer.singleShot(200, lambda: fv.state.set_frame(int({play} * fv.state.T)))
def shoot():
    ok = w.grab().save({out!r})
    print("saved" if ok else "grab failed", flush=True)
    w.close()
    app.exit(0 if ok else 1)
QTimer.singleShot(int({delay} * 1000), shoot)
sys.exit(app.exec())
"""


def free_display(start: int = 90) -> int:
    for n in range(start, start + 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


def screenshot(out: str | os.PathLike, theme: str = "dark", delay: float = 2.5,
               width: int = 1400, height: int = 900, play: float = 0.0,
               timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run the app under a fresh Xvfb and save a PNG of the main window to `out`."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise FileNotFoundError("Xvfb is not installed (apt-get install xvfb)")
    out = str(Path(out).resolve())
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    display = free_display()
    server = subprocess.Popen([xvfb, f":{display}", "-screen", "0", f"{width}x{height}x24",
                               "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # wait for the socket
            if Path(f"/tmp/.X11-unix/X{display}").exists():
                break
            if server.poll() is not None:
                raise RuntimeError(f"Xvfb :{display} exited with {server.returncode}")
            time.sleep(0.05)
        with tempfile.TemporaryDirectory() as settings:
            env = dict(os.environ, DISPLAY=f":{display}", QT_QPA_PLATFORM="xcb",
                       OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
            code = CHILD.format(root=str(ROOT), settings=settings, theme=theme, out=out,
                                delay=delay, width=width, height=height, play=play)
            return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                  text=True, timeout=timeout)
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG path to write")
    parser.add_argument("--theme", default="dark", choices=("dark", "light", "system"))
    parser.add_argument("--delay", type=float, default=2.5, help="seconds before the grab")
    parser.add_argument("--size", default="1400x900", help="window size WxH")
    parser.add_argument("--play", type=float, default=0.15,
                        help="park the forward chain at this fraction of T (0 = t=0)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    try:
        result = screenshot(args.out, args.theme, args.delay, width, height, args.play)
    except (FileNotFoundError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"screenshot: {exc}", file=sys.stderr)
        return 2
    if result.returncode != 0 or not Path(args.out).is_file():
        print(f"screenshot: the app failed (exit {result.returncode})\n{result.stderr[-3000:]}",
              file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
