"""Composition of the 2-D diffusion window: a Toy2DWindow (a view of the 2-D area's Toy2DState)
with its intents connected to the 2-D area (`session.toy`, ui/session_toy2d.py). main_window.py calls
`show_toy2d_window` from its View menu, menus.py `export_toy2d_animation` from File; nothing
else here decides anything.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ddpm_desktop.ui import screen_fit
from ddpm_desktop.ui.accessibility import name_widgets
from ddpm_desktop.ui.widgets.toy2d_view import Toy2DWindow
from ddpm_desktop.ui.windows import show_window


def build_toy2d_window(session, parent: QWidget | None = None) -> Toy2DWindow:
    """A 2-D window wired to the session's 2-D area `session.toy` (activating its data first)."""
    toy = session.toy
    toy.activate()
    w = Toy2DWindow(toy.state, session.schedule_state, session.sampler,
                    field_source=toy.fields, parent=parent)
    if parent is not None:
        w.setWindowFlag(Qt.WindowType.Window, True)   # its own top-level window
    w.dataset_chosen.connect(toy.set_dataset)
    w.seed_changed.connect(toy.set_seed)
    w.frame_requested.connect(toy.set_frame)
    w.model_chosen.connect(toy.set_model)
    w.train_requested.connect(toy.start_training)
    w.stop_training_requested.connect(toy.stop_training)
    w.sample_requested.connect(toy.request_sampling)
    w.component_requested.connect(toy.add_component)
    w.paint_requested.connect(toy.paint_points)
    w.clear_paint_requested.connect(toy.clear_paint)
    w.reset_mixture_requested.connect(toy.reset_mixture)
    w.pick_requested.connect(
        lambda x, y, shift: toy.pick_particle(x, y, add=shift))
    w.decode_requested.connect(toy.decode_point)            # the digits' latent map
    w.latent_label_chosen.connect(toy.set_latent_label)
    name_widgets(w)  # accessible names and descriptions (accessibility.py)
    w.export_requested.connect(
        lambda path, chain, heat, arrows: toy.export_animation(path, chain, heat, arrows))
    # as large as it asks for where the screen holds it, larger on a larger screen
    screen_fit.fit_window(w, 1600, 850)
    screen_fit.centre(w)
    return w


def show_toy2d_window(session, parent: QWidget | None, existing: Toy2DWindow | None) -> Toy2DWindow:
    """Show (and raise) the 2-D window, building it the first time."""
    return show_window(existing if existing is not None else build_toy2d_window(session, parent))


def export_toy2d_animation(window) -> None:
    """File > Export 2-D animation… of the main window: open the 2-D window (building its
    data the first time) and ask there for the file, so the export is the 2-D window's own."""
    window.show_toy2d()
    window.toy2d_window.choose_export()
