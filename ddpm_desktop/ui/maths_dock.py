"""The maths panel's dock and its wiring (composition for main_window.py).

`add_maths_dock(window)` builds `window.maths_panel` (widgets/maths_panel.py) from the
session's states, docks it as "Maths" tabbed with the Input dock, and turns a hovered term
into a highlight frame over the view it drives (`MATHS_VIEWS` names the window's attribute for
each of core.maths.VIEWS).
"""
from __future__ import annotations

from PySide6.QtCore import Qt

from ddpm_desktop.ui.highlight import set_highlight
from ddpm_desktop.ui.widgets.maths_panel import MathsPanel

# core.maths.VIEWS -> the window's widget it names (a dotted attribute path)
MATHS_VIEWS = {"forward": "forward_view", "reverse": "reverse_view",
               "schedule": "schedule_panel", "sampler": "sampler_panel",
               "histogram": "histogram_view.hist_plot", "kl": "histogram_view.kl_plot"}


def view_widget(window, view: str):
    obj = window
    for part in MATHS_VIEWS[view].split("."):
        obj = getattr(obj, part)
    return obj


def add_maths_dock(window):
    s = window.session
    panel = MathsPanel(s.forward, s.schedule_state, s.sampler, s.reverse)
    window.maths_panel = panel
    dock = window._dock("Maths", "MathsDock", panel, Qt.DockWidgetArea.LeftDockWidgetArea,
                        max_width=440)
    window.tabifyDockWidget(window.input_dock, dock)  # beside Input: the views it frames show
    window.maths_highlighted = ""

    def on_hovered(view: str) -> None:
        if window.maths_highlighted:
            set_highlight(view_widget(window, window.maths_highlighted), False)
        window.maths_highlighted = view
        if view:
            set_highlight(view_widget(window, view), True)

    panel.term_hovered.connect(on_hovered)
    return dock
