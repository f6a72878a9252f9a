"""Workspaces: named layouts, one a task, over the window's docks (window_layout.DOCKS).

`WORKSPACES` says which docks and plots each task shows; `Workspaces(window)`, held as
`window.workspaces`, switches between them from a tab bar in the menu bar's corner (and
View > Workspace, menus.py), remembers the choice as "window/workspace", and on a first start
offers the "start here" page (dismissed once: "window/start_seen").
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabBar, QWidget

from ddpm_desktop.ui import screen_fit
from ddpm_desktop.ui.window_layout import DOCKS


@dataclass(frozen=True)
class Workspace:
    """A named layout for one task: the docks in `docks` (DockSpec keys) shown and every other
    hidden, `front` raised in front of its tab group, `primary` (a dotted path from the window,
    None: no single action) the button the task starts with, kept on screen, and `plots` the
    views of the row under the chains it shows ("histogram": histogram and KL, "decision":
    p(class | x̂₀)). `tab` is its title on the tab bar, `title` in View > Workspace ('&&' a
    literal '&')."""

    name: str
    tab: str
    title: str
    docks: tuple[str, ...]
    front: str
    primary: str | None = None
    plots: tuple[str, ...] = ("histogram", "decision")


# The workspaces, in the order of the tab bar and View > Workspace (Ctrl+1.., remembered as
# "window/workspace"). "All panels" is the overview a fresh window starts with (the DOCKS
# default); each other shows what one task needs, so its docks get the room of the screen.
WORKSPACES = (
    Workspace("all", "All", "All panels",
              tuple(spec.key for spec in DOCKS if not spec.hidden), "input"),
    Workspace("forward", "Forward", "Forward && KL", ("input", "schedule", "maths"), "input",
              plots=("histogram",)),
    Workspace("reverse", "Reverse", "Reverse && samplers", ("sampler",), "sampler",
              "sampler_panel.sample_button"),
    Workspace("reconstruct", "Reconstruct", "Reconstruct && draw",
              ("input", "sampler", "completions", "beliefs"), "input", "sampler_panel.sample_button"),
    Workspace("inpaint", "Inpaint", "Inpaint", ("inpaint",), "inpaint",  # the input digit
              "inpaint_panel.run_button", plots=("decision",)),
    Workspace("train", "Train", "Train", ("training",), "training",
              "training_panel.start_button", plots=()),
    Workspace("teach", "Teach", "Teach", ("lesson", "maths", "beliefs"), "lesson"),
)
WORKSPACE_NAMES = tuple(w.name for w in WORKSPACES)
DEFAULT_WORKSPACE = "all"


class Workspaces:
    """The window's workspaces: `current` (a WORKSPACE_NAMES name), the tab bar `bar` at the
    right of the menu bar (no height taken from the views), and `start_page` once offered.
    Built after the window's docks and views, before its menus."""

    def __init__(self, window) -> None:
        self.window = window
        self.current = DEFAULT_WORKSPACE
        self.start_page = None
        self.bar = QTabBar()
        self.bar.setObjectName("WorkspaceBar")
        self.bar.setDrawBase(False)
        self.bar.setExpanding(False)
        self.bar.setElideMode(Qt.TextElideMode.ElideNone)
        self.bar.setUsesScrollButtons(True)
        for ws in WORKSPACES:
            index = self.bar.addTab(ws.tab)
            self.bar.setTabToolTip(index, ws.title.replace("&&", "&") + ": " + ", ".join(
                window.docks[key].windowTitle() for key in ws.docks))
        self.bar.currentChanged.connect(lambda index: self.set(WORKSPACES[index].name))
        window.menuBar().setCornerWidget(self.bar, Qt.Corner.TopRightCorner)

    def set(self, name: str) -> None:
        """Show the docks of workspace `name` (WORKSPACES) and only those, its front dock in
        front, and remember it ("window/workspace")."""
        w = self.window
        ws = WORKSPACES[WORKSPACE_NAMES.index(name)]
        self.current = name
        for spec in DOCKS:
            w.docks[spec.key].setVisible(spec.key in ws.docks)
        # in each tab group the first shown dock is in front, then the workspace's own
        for spec in DOCKS:
            group = [g for g in DOCKS if (g.tab_with or g.key) == spec.key and g.key in ws.docks]
            if spec.tab_with is None and group:
                w.docks[group[0].key].raise_()
        w.docks[ws.front].raise_()
        w.histogram_view.setVisible("histogram" in ws.plots)
        w.decision_view.setVisible("decision" in ws.plots)
        w.plots_splitter.setVisible(bool(ws.plots))
        index = WORKSPACE_NAMES.index(name)
        if self.bar.currentIndex() != index:
            self.bar.blockSignals(True)
            self.bar.setCurrentIndex(index)
            self.bar.blockSignals(False)
        menus = getattr(w, "menus", None)
        if menus is not None and not menus.workspace_actions[name].isChecked():
            menus.workspace_actions[name].setChecked(True)
        w.settings.setValue("window/workspace", name)
        screen_fit.fit_docks(w)

    def restore(self) -> None:
        """The workspace saved as "window/workspace", if any (a window whose user never chose
        one keeps its docks)."""
        name = self.window.settings.value("window/workspace", "", type=str)
        if name in WORKSPACE_NAMES:
            self.set(name)

    def primary_action(self) -> QWidget | None:
        """The button the current workspace's task starts with (None: no single one)."""
        path = WORKSPACES[WORKSPACE_NAMES.index(self.current)].primary
        if path is None:
            return None
        obj = self.window
        for part in path.split("."):
            obj = getattr(obj, part)
        return obj

    def offer_start_page(self) -> None:
        """A first start (no workspace chosen yet, the start page never dismissed): show the
        one-screen "start here" that leads to a lesson or a workspace."""
        settings = self.window.settings
        if (settings.value("window/start_seen", False, type=bool)
                or settings.contains("window/workspace")):
            return
        from ddpm_desktop.ui.widgets.start_page import StartPage

        self.start_page = StartPage([(ws.name, ws.title) for ws in WORKSPACES[1:]], self.window)
        self.start_page.workspace_chosen.connect(self.set)
        self.start_page.lesson_chosen.connect(self._start_first_lesson)
        self.start_page.finished.connect(
            lambda _result: settings.setValue("window/start_seen", True))
        screen_fit.fit_window(self.start_page, share=screen_fit.DIALOG_SHARE)
        self.start_page.open()

    def _start_first_lesson(self) -> None:
        self.set("teach")
        combo = self.window.lesson_panel.lesson_combo
        if combo.count() > 1:
            combo.setCurrentIndex(1)
