"""Composition of the twins window: a TwinsView (a view of the twins area's TwinsState) with its
intents connected to the twins area (`session.twins`, ui/session_twins.py). main_window.py calls
`show_twins_window` from its View menu and from the copy check's "Twins…" button."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ddpm_desktop.ui import screen_fit
from ddpm_desktop.ui.accessibility import name_widgets
from ddpm_desktop.ui.widgets.twins_view import TwinsView
from ddpm_desktop.ui.windows import show_window


def build_twins_window(session, parent: QWidget | None = None) -> TwinsView:
    area = session.twins
    w = TwinsView(area.state, parent=parent)
    if parent is not None:
        w.setWindowFlag(Qt.WindowType.Window, True)   # its own top-level window
    w.pair_chosen.connect(area.set_pair)
    w.seed_changed.connect(area.set_seed)
    w.label_chosen.connect(area.set_label)
    w.n_changed.connect(area.set_n)
    w.run_requested.connect(area.run)
    name_widgets(w)
    screen_fit.fit_window(w, 820, 720)
    screen_fit.centre(w)
    return w


def show_twins_window(session, parent: QWidget | None, existing: TwinsView | None) -> TwinsView:
    """Show (and raise) the twins window, building it the first time."""
    return show_window(existing if existing is not None else build_twins_window(session, parent))
