"""Composition of the 2-D diffusion window: a Toy2DWindow (a view of the session's Toy2DState)
with its intents connected to the session's Toy2DJobs methods. main_window.py calls
`show_toy2d_window` from its View menu, menus.py `export_toy2d_animation` from File; nothing
else here decides anything.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ddpm_desktop.ui.widgets.toy2d_view import Toy2DWindow


def build_toy2d_window(session, parent: QWidget | None = None) -> Toy2DWindow:
    """A 2-D window wired to `session` (activating its 2-D data first)."""
    session.activate_toy2d()
    w = Toy2DWindow(session.toy2d, session.schedule_state, session.sampler,
                    field_source=session.toy_fields, parent=parent)
    if parent is not None:
        w.setWindowFlag(Qt.WindowType.Window, True)   # its own top-level window
    w.dataset_chosen.connect(session.set_toy_dataset)
    w.seed_changed.connect(session.set_toy_seed)
    w.frame_requested.connect(session.set_toy_frame)
    w.model_chosen.connect(session.set_toy_model)
    w.train_requested.connect(session.start_toy_training)
    w.stop_training_requested.connect(session.stop_toy_training)
    w.sample_requested.connect(session.request_toy_sampling)
    w.component_requested.connect(session.add_toy_component)
    w.paint_requested.connect(session.paint_toy_points)
    w.clear_paint_requested.connect(session.clear_toy_paint)
    w.reset_mixture_requested.connect(session.reset_toy_mixture)
    w.pick_requested.connect(
        lambda x, y, shift: session.pick_toy_particle(x, y, add=shift))
    w.decode_requested.connect(session.decode_toy_point)            # the digits' latent map
    w.latent_label_chosen.connect(session.set_toy_latent_label)
    w.export_requested.connect(
        lambda path, chain, heat, arrows: session.export_toy_animation(path, chain, heat, arrows))
    w.resize(1600, 850)
    return w


def show_toy2d_window(session, parent: QWidget | None, existing: Toy2DWindow | None) -> Toy2DWindow:
    """Show (and raise) the 2-D window, building it the first time."""
    w = existing if existing is not None else build_toy2d_window(session, parent)
    w.show()
    w.raise_()
    w.activateWindow()
    return w


def export_toy2d_animation(window) -> None:
    """File > Export 2-D animation… of the main window: open the 2-D window (building its
    data the first time) and ask there for the file, so the export is the 2-D window's own."""
    window.show_toy2d()
    window.toy2d_window.choose_export()
