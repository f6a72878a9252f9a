"""The views' intents to the areas that act on them: each panel's requests to the session or
to one of its areas (`session.trainer`, `session.lab`, ...), written once here. What the window
itself does on a view's or the session's signal (its status bar, messages, secondary windows)
is connected in main_window.py; the panels with wiring of their own export a
`connect_<panel>` beside the panel, called from here."""
from __future__ import annotations

from ddpm_desktop.ui.widgets.beliefs_panel import connect_beliefs_panel
from ddpm_desktop.ui.widgets.completions_panel import connect_completions_panel
from ddpm_desktop.ui.widgets.dataset_browser import connect_dataset_browser
from ddpm_desktop.ui.widgets.inpaint_panel import connect_inpaint_panel
from ddpm_desktop.ui.widgets.lesson_panel import connect_lesson_panel


def connect_views(window, session) -> None:
    """Connect the intents of `window`'s views (a MainWindow's) to `session` and its areas."""
    s = session
    connect_lab_view(window.lab_view, s.lab)
    window.sampler_panel.stop_requested.connect(s.cancel_sampling)
    connect_training_panel(window.training_panel, s.trainer)
    window.input_panel.browser.dataset_changed.connect(s.trainer.set_browser_dataset)
    window.live_view.enabled_changed.connect(s.live_drawing.set_enabled)
    window.statusBar().device_chosen.connect(s.device_state.set_device)
    connect_inpaint_panel(window.inpaint_panel, s.inpainter)
    connect_completions_panel(window.completions_panel, s.completer)
    connect_beliefs_panel(window.beliefs_panel, s.beliefs)
    connect_lesson_panel(window.lesson_panel, s.lessons)
    connect_dataset_browser(window.input_panel.browser, s.datasets)


def connect_training_panel(panel, trainer) -> None:
    """The Training panel's buttons to the training area (`session.trainer`)."""
    panel.start_requested.connect(trainer.start)
    panel.pause_requested.connect(trainer.pause)
    panel.resume_requested.connect(trainer.resume)
    panel.stop_requested.connect(trainer.stop)
    panel.reset_requested.connect(trainer.reset)
    panel.save_requested.connect(trainer.save_checkpoint)
    panel.load_requested.connect(trainer.load_checkpoint)


def connect_lab_view(view, lab) -> None:
    """The generalisation lab's choices to the lab area (`session.lab`)."""
    view.size_chosen.connect(lab.set_size)
    view.run_requested.connect(lab.run)
    view.stop_requested.connect(lab.stop)
