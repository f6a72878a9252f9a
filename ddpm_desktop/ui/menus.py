"""The main window's menus and shortcuts (composition: each action calls a view's, the
window's, the session's or an area's method)."""
from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QInputDialog, QMessageBox, QWhatsThis

from ddpm_desktop import __version__
from ddpm_desktop.ui import theme


# File > Use a model trained on part of the digits (core.checkpoint.SUBSET_MODELS)
SUBSET_MODEL_ACTIONS = (
    ("twin-a", "twin-&a: one half of the digits (4,500)",
     "Trained on one half of the 9,000 training digits; twin-b on the other half"),
    ("twin-b", "twin-&b: the other half (4,500)",
     "Trained on the half of the training digits twin-a never saw"),
    ("few-a", "few-a: &64 digits (copies them)",
     "Trained on 64 training digits until it copies them; few-b on 64 others"),
    ("few-b", "few-b: 64 &other digits (copies them)",
     "Trained on 64 training digits that few-a never saw, until it copies them"),
)


def add_action(window, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
    """An action of `window` in `menu` calling `slot`; its shortcut works even with the menu
    bar hidden. `text` may mark its mnemonic with '&'; a literal one is written '&&'."""
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    if tip:
        action.setStatusTip(tip)
    action.triggered.connect(slot)
    menu.addAction(action)
    window.addAction(action)
    return action


class Menus:
    """File, Run, View, Experiments and Help of `window` (a MainWindow), holding the actions
    others use (`play_action`, `sample_action`, `theme_actions`, `lecture_action`, ...); every
    action calls a view's, the window's, the session's or an area's method."""

    def __init__(self, window) -> None:
        s = window.session
        act = partial(add_action, window)
        mb = window.menuBar()
        file_menu = mb.addMenu("&File")
        self.open_action = act(
            file_menu, "&Open image…", window.input_panel.choose_image,
            QKeySequence.StandardKey.Open, "Load a digit from an image file")
        self.load_model_action = act(file_menu, "&Load model…", window.choose_model,
                                     "Ctrl+L", "Load a checkpoint (.safetensors)")
        self.bundled_model_action = act(
            file_menu, "Use the &bundled model", s.load_bundled_model,
            tip="Go back to the model that ships with the app")
        self.exact_model_action = act(
            file_menu, "Use the &perfect denoiser (copies the training digits)",
            lambda: s.use_exact_denoiser(),
            tip="The exact minimiser of the training loss: the posterior mean of the 9,000 training "
                "digits, x̂₀ = Σᵢ softmax(−‖x_t − √ᾱ xᵢ‖² / 2(1 − ᾱ))ᵢ xᵢ; its samples can only "
                "be training digits")
        self.smoothed_exact_action = act(
            file_menu, "Use a s&moothed perfect denoiser…", lambda: ask_exact_bandwidth(window),
            tip="The perfect denoiser with its kernel widened to a per-pixel std h: the path from "
                "copying (h = 0) to blending neighbours and, as h grows, the mean digit")
        subset_menu = file_menu.addMenu("Use a model trained on &part of the digits")
        self.subset_model_actions = {
            name: act(subset_menu, text, lambda _=False, n=name: s.use_subset_model(n),
                      tip=tip)
            for name, text, tip in SUBSET_MODEL_ACTIONS}
        self.export_action = act(file_menu, "&Export…", window.open_export, "Ctrl+E",
                                 "Save the chains as a GIF or a PNG strip")
        # --- Copy as command (ui/copy_command.py)
        from ddpm_desktop.ui.copy_command import copy_command
        self.copy_run_action = act(
            file_menu, "Copy run as &command", lambda: copy_command(window, "run"), "Ctrl+Shift+C",
            "The ddpm-desktop command that reproduces the current reverse run, to the clipboard")
        self.copy_export_action = act(
            file_menu, "Copy e&xport as command", lambda: copy_command(window, "export"),
            tip="The ddpm-desktop export command of the Export dialog's settings, to the clipboard")
        # ---
        # --- Export of the 2-D animation (ui/toy2d_window.py)
        from ddpm_desktop.ui.toy2d_window import export_toy2d_animation
        self.toy2d_export_action = act(
            file_menu, "Export &2-D animation…", lambda: export_toy2d_animation(window),
            tip="The 2-D window's chain with its heat map and arrows as a GIF, WebP, APNG or PNG")
        # ---
        file_menu.addSeparator()
        act(file_menu, "Open &session…", window.choose_session_to_open,
            tip="Every setting, seed and x₀ from a session file (.json)")
        act(file_menu, "Save s&ession as…", window.choose_session_to_save,
            tip="Save every setting, seed and x₀ so the same session can be reopened")
        file_menu.addSeparator()
        act(file_menu, "&Quit", window.close, QKeySequence.StandardKey.Quit)

        run = mb.addMenu("&Run")
        fv = window.forward_view
        self.play_action = act(run, "&Play / pause forward chain", fv.toggle_play,
                               Qt.Key.Key_Space)
        act(run, "Step &back", lambda: fv.step(-1), Qt.Key.Key_Left)
        act(run, "Step &forward", lambda: fv.step(1), Qt.Key.Key_Right)
        act(run, "Go to t = &0", fv.go_start, Qt.Key.Key_Home)
        act(run, "Go to t = &T", fv.go_end, Qt.Key.Key_End)
        run.addSeparator()
        self.sample_action = act(run, "&Sample reverse chain", window.sample, "Ctrl+R")
        self.stop_action = act(run, "S&top sampling", s.cancel_sampling,
                               Qt.Key.Key_Escape)

        view = mb.addMenu("&View")
        # --- workspaces (workspaces.WORKSPACES): Ctrl+0 all panels, Ctrl+1.. one task each
        from ddpm_desktop.ui.workspaces import WORKSPACES
        workspace_menu = view.addMenu("&Workspace")
        workspace_group = QActionGroup(window)
        self.workspace_actions = {}
        for number, ws in enumerate(WORKSPACES):
            action = act(workspace_menu, ws.title,
                         lambda _=False, n=ws.name: window.workspaces.set(n),
                         f"Ctrl+{number}", "Show the docks this task needs")
            action.setCheckable(True)
            action.setChecked(ws.name == window.workspaces.current)
            workspace_group.addAction(action)
            self.workspace_actions[ws.name] = action
        view.addSeparator()
        # ---
        for dock in (window.input_dock, window.schedule_dock, window.sampler_dock,
                     window.training_dock):
            view.addAction(dock.toggleViewAction())
        self.maths_action = window.maths_dock.toggleViewAction()  # the maths panel
        self.maths_action.setText("&Maths panel")
        self.maths_action.setShortcut(QKeySequence("Ctrl+M"))
        view.addAction(self.maths_action)
        window.addAction(self.maths_action)
        view.addSeparator()
        theme_menu = view.addMenu("&Theme")
        group = QActionGroup(window)
        self.theme_actions = {}
        for name in theme.THEMES:
            action = QAction(name.capitalize(), window, checkable=True)
            action.triggered.connect(lambda _=False, n=name: window.set_theme(n))
            group.addAction(action)
            theme_menu.addAction(action)
            self.theme_actions[name] = action
        self.lecture_action = QAction("&Lecture mode (large fonts, thick lines)", window,
                                        checkable=True)
        self.lecture_action.setChecked(theme.lecture_mode())
        self.lecture_action.setShortcut(QKeySequence("Ctrl+Shift+L"))
        self.lecture_action.toggled.connect(window.set_lecture)
        view.addAction(self.lecture_action)
        window.addAction(self.lecture_action)
        view.addSeparator()
        act(view, "&Reset layout", window.reset_layout,
            tip="The current workspace as a fresh window shows it")
        view.addSeparator()  # the 2-D diffusion window (ui/toy2d_window.py)
        self.toy2d_action = act(view, "&2-D diffusion", window.show_toy2d,
                                tip="Particles diffusing in 2-D, exact vs learned ε")
        self.twins_action = act(  # ui/twins_window.py
            view, "T&wins: one x_T, two models", window.show_twins,
            tip="Models trained on disjoint digits, run from the same noise: do they agree, or "
                "does each return a digit of its own training set?")

        experiments_menu = mb.addMenu("E&xperiments")  # one click sets the app up for each
        from ddpm_desktop.core.experiments import EXPERIMENTS
        self.experiment_actions = {
            e.name: act(experiments_menu, e.title.replace("&", "&&"),  # a literal '&'
                        lambda _=False, n=e.name: s.experiments.apply(n),
                        tip=e.description)
            for e in EXPERIMENTS}
        experiments_menu.setToolTipsVisible(True)
        for e in EXPERIMENTS:
            self.experiment_actions[e.name].setToolTip(e.description)

        help_menu = mb.addMenu("&Help")
        self.guide_action = act(help_menu, "&Guide", window.show_guide, "F1",
                                "What every view, number and control means")
        self.lessons_action = act(help_menu, "&Lessons", window.show_lessons, "F2",
                                  tip="Guided lessons: predict, then reveal")
        # keyboard users land in the lesson (its list, or the step's next button)
        self.lessons_action.triggered.connect(lambda: window.lesson_panel.take_focus())
        whats_this = QWhatsThis.createAction(window)  # Shift+F1, then click anything
        help_menu.addAction(whats_this)
        window.addAction(whats_this)
        self.whats_this_action = whats_this
        act(help_menu, "&About", lambda: show_about(window))


def ask_exact_bandwidth(window) -> bool:
    """Ask for the smoothed perfect denoiser's bandwidth h and use it; False when cancelled."""
    h, ok = QInputDialog.getDouble(
        window, "Smoothed perfect denoiser",
        "Kernel width h (per-pixel std in [-1, 1] units; the weights use the variance "
        "(1 − ᾱ) + ᾱ h²).\n0: exact, every sample copies; about 2: most still copy; 4: none "
        "do, they blend neighbours.", 2.0, 0.0, 50.0, 2)
    if ok:
        window.session.use_exact_denoiser(h)
    return ok


def show_about(window) -> None:
    QMessageBox.about(
        window, "About DDPM Desktop",
        f"<b>DDPM Desktop {__version__}</b><p>Watch a denoising diffusion model turn a "
        "digit into Gaussian noise and back: the forward chain q(x_t|x_{t-1}), the "
        "reverse chain p_θ(x_{t-1}|x_t), the pixel histogram against N(0, 1) and the "
        "KL between them.</p><p>Ho, Jain &amp; Abbeel 2020; Song et al. 2021 (DDIM); "
        "Lu et al. 2022 (DPM-Solver++).</p>")
