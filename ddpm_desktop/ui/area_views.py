"""The views of the session's later areas, put into the main window (composition only, like
main_window.py): reconstruct-as-you-draw under the drawing canvas, the guidance trade-off under
the sampler controls, the Inpaint, Completions, Lessons and Maths docks, and the Export dialog. Each view is built
from its state and its intents are connected to session methods here.
"""
from __future__ import annotations

from PySide6.QtCore import Qt

from ddpm_desktop.core.evaluation import load_guidance_sweep
from ddpm_desktop.ui.help_texts import apply_help
from ddpm_desktop.ui.maths_dock import add_maths_dock
from ddpm_desktop.ui.widgets.completions_panel import CompletionsPanel, connect_completions_panel
from ddpm_desktop.ui.widgets.export_dialog import ExportDialog
from ddpm_desktop.ui.widgets.guidance_plot import GuidancePlot
from ddpm_desktop.ui.widgets.inpaint_panel import InpaintPanel, connect_inpaint_panel
from ddpm_desktop.ui.widgets.lesson_panel import LessonPanel, connect_lesson_panel
from ddpm_desktop.ui.widgets.live_view import LiveView

RIGHT = Qt.DockWidgetArea.RightDockWidgetArea
LEFT = Qt.DockWidgetArea.LeftDockWidgetArea


def add_area_views(w) -> None:
    """Build the views on `w` (a MainWindow whose input, sampler and training docks exist)."""
    s = w.session
    # Reconstruct as you draw: a view of s.live under the drawing canvas.
    w.live_view = LiveView(s.live, T=s.schedule.T)
    w.input_panel.canvas_panel.layout().addWidget(w.live_view)
    w.live_view.enabled_changed.connect(s.set_live_enabled)
    s.schedule_state.changed.connect(lambda schedule: w.live_view.set_T(schedule.T))

    def on_live_t(t: int) -> None:
        try:
            s.set_live_t(t)
        except ValueError as exc:
            w.show_error(str(exc))

    w.live_view.t_changed.connect(on_live_t)
    # The guidance trade-off measured for the bundled model, under Sample/Stop.
    w.guidance_plot = GuidancePlot(s.sampler, load_guidance_sweep())
    w.sampler_panel.layout().insertWidget(2, w.guidance_plot)
    # The default layout has two tab groups, so that every tab's title shows in full at
    # 1280×720 in lecture mode (five tabs under the Schedule came out "Samp… Traini… Inp…"):
    #   left:  Input | Completions | Maths | Lessons (hidden until Help > Lessons)
    #   right: Schedule β_t over Sampler | Training | Inpaint
    # Inpaint samples like the Sampler (it fills the reverse view); Completions starts from
    # the forward chain's x_t of the input digit; Maths beside Input keeps every view its
    # terms frame (chains, plots, Schedule, Sampler) in sight. Reset layout restores this.
    # Inpainting and the completions of x_t.
    w.inpaint_panel = InpaintPanel(s.inpaint, s.input_state)
    w.inpaint_dock = w._dock("Inpaint", "InpaintDock", w.inpaint_panel, RIGHT, max_width=360)
    w.tabifyDockWidget(w.sampler_dock, w.inpaint_dock)
    connect_inpaint_panel(w.inpaint_panel, s)
    w.completions_panel = CompletionsPanel(s.completions, s.sampler)
    w.completions_dock = w._dock("Completions", "CompletionsDock", w.completions_panel, LEFT,
                                 max_width=360)
    w.tabifyDockWidget(w.input_dock, w.completions_dock)
    connect_completions_panel(w.completions_panel, s)
    # The maths panel, tabbed with Input.
    w.maths_dock = add_maths_dock(w)
    # Lessons: tabbed with Input, hidden until Help > Lessons.
    w.lesson_panel = LessonPanel(s.lesson)
    w.lesson_dock = w._dock("Lessons", "LessonDock", w.lesson_panel, LEFT, max_width=440)
    w.tabifyDockWidget(w.input_dock, w.lesson_dock)
    w.lesson_dock.hide()
    connect_lesson_panel(w.lesson_panel, s)
    w.input_dock.raise_()


def build_export_dialog(w) -> ExportDialog:
    """The one Export dialog: a view of the session's export state, refreshed when what it
    offers changes (the chains, the model one-digit "both" needs, the sampler)."""
    s = w.session
    dialog = ExportDialog(s.export, s.export_chains_lengths, w)
    dialog.export_requested.connect(s.start_export)
    dialog.cancel_requested.connect(s.cancel_export)
    s.reverse.run_finished.connect(lambda _ok: dialog.refresh())
    s.forward.chain_changed.connect(dialog.refresh)
    s.model_state.changed.connect(dialog.refresh)
    s.sampler.changed.connect(lambda _settings: dialog.refresh())
    apply_help(dialog)
    return dialog
