"""Start the desktop app: `run_app() -> int` (what `ddpm-desktop` with no arguments calls)."""
from __future__ import annotations

import sys

from ddpm_desktop import desktop_entry, resources_path

ORGANIZATION = "ddpm-desktop"
APPLICATION = desktop_entry.WM_CLASS  # the name QSettings files under, and X11's WM_CLASS


def _install_excepthook(app):
    """Show unexpected exceptions in the crash dialog instead of letting PySide6 abort; returns
    the hook (its `session` is set once the window has one).

    An exception escaping a slot would otherwise print and, under some PySide6 builds, kill
    the process. The traceback still goes to stderr; the dialog offers Copy and Save report
    and has already saved the report and the session (ui/crash_dialog.py).
    """
    from ddpm_desktop.ui.crash_dialog import CrashHandler

    hook = CrashHandler(app)
    sys.excepthook = hook
    return hook


def set_identity(app) -> None:
    """The names and icon the desktop knows the app by: the menu entry's (desktop_entry)."""
    from PySide6.QtGui import QIcon

    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)  # the menu entry's StartupWMClass
    app.setApplicationDisplayName("DDPM Desktop")
    app.setDesktopFileName(desktop_entry.APP_ID)  # Wayland's app_id: the menu entry's name
    app.setWindowIcon(QIcon(str(resources_path(desktop_entry.ICON_FILE))))


def create_app(argv: list[str] | None = None, theme_name: str | None = None,
               lecture: bool | None = None):
    """The QApplication with our names, pyqtgraph options, theme and lecture mode (reused if
    one exists). `theme_name` / `lecture` (from the command line) override and are remembered;
    None: the saved ones ("view/theme", "view/lecture")."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from ddpm_desktop.ui import theme

    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    set_identity(app)
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    from ddpm_desktop.ui.settings import open_settings, read

    settings = open_settings()
    if theme_name is not None:
        settings.setValue("view/theme", theme_name)
    if lecture is not None:
        settings.setValue("view/lecture", bool(lecture))
    name = read(settings, "view/theme", "dark")
    app.setProperty("ddpm_theme", theme.apply_theme(app, name))
    theme.set_lecture(app, read(settings, "view/lecture", False))
    return app


def run_app(argv: list[str] | None = None, theme_name: str | None = None,
            lecture: bool | None = None) -> int:
    """Open the main window and run the event loop; returns the exit code."""
    import torch

    from ddpm_desktop.core.training import default_cpu_threads

    # One torch thread on a 2-core machine: the GUI thread needs the other core, and two torch
    # threads sharing cores with any other load ran 7-9x slower than one here.
    torch.set_num_threads(default_cpu_threads())
    app = create_app(argv, theme_name, lecture)
    hook = _install_excepthook(app)

    from ddpm_desktop.ui.main_window import MainWindow

    window = MainWindow()
    hook.session = window.session
    window.show()
    window.workspaces.offer_start_page()  # a first start: "start here"
    code = app.exec()
    window.shutdown()  # already done by closeEvent; harmless if so
    return int(code)
