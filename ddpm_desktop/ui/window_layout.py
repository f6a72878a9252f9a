"""The main window's layout: the centre (the two chains over the plots), the docks as DOCKS
lists them, the default a fresh window shows (View > Reset layout), and the geometry and dock
layout kept in QSettings ("window/geometry", "window/state", saved with STATE_VERSION).

The functions take the window and lay out the views it already holds (`forward_view`,
`<key>_panel`, ...), giving it `chains_splitter`, `plots_splitter`, `central_splitter`,
`docks` and a `<key>_dock` for each DOCKS entry.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtWidgets import (QDockWidget, QFrame, QMainWindow, QScrollArea, QSplitter,
                               QVBoxLayout, QWidget)

from ddpm_desktop.ui import screen_fit

# 2: two tab groups (DOCKS); a layout saved before (five tabs under the Schedule, their
# titles cut) is not restored, so everyone gets the readable default once.
STATE_VERSION = 2
LEFT = Qt.DockWidgetArea.LeftDockWidgetArea
RIGHT = Qt.DockWidgetArea.RightDockWidgetArea


@dataclass(frozen=True)
class DockSpec:
    """One dock: the window's `<key>_panel` in `<key>_dock`, tabbed behind the dock `tab_with`
    (None: the first of its group, in front), `hidden` until asked for."""

    key: str
    title: str
    object_name: str
    side: Qt.DockWidgetArea
    max_width: int
    tab_with: str | None = None
    hidden: bool = False


# The docks, in two tab groups, so that every tab's title shows in full at 1280×720 in
# lecture mode (five tabs under the Schedule came out "Samp… Traini… Inp…"):
#   left:  Input | Completions | Maths | Beliefs | Lessons (hidden until Help > Lessons)
#   right: Schedule β_t over Sampler | Training | Inpaint
# Inpaint samples like the Sampler (it fills the reverse view); Completions starts from the
# forward chain's x_t of the input digit; Maths beside Input keeps every view its terms frame
# (chains, plots, Schedule, Sampler) in sight. Reset layout restores this.
DOCKS = (
    DockSpec("input", "Input", "InputDock", LEFT, 440),
    DockSpec("schedule", "Schedule β_t", "ScheduleDock", RIGHT, 360),
    DockSpec("sampler", "Sampler", "SamplerDock", RIGHT, 360),
    DockSpec("training", "Training", "TrainingDock", RIGHT, 360, tab_with="sampler"),
    DockSpec("inpaint", "Inpaint", "InpaintDock", RIGHT, 360, tab_with="sampler"),
    DockSpec("completions", "Completions", "CompletionsDock", LEFT, 360, tab_with="input"),
    DockSpec("maths", "Maths", "MathsDock", LEFT, 440, tab_with="input"),
    DockSpec("beliefs", "Beliefs", "BeliefsDock", LEFT, 440, tab_with="input"),
    DockSpec("lesson", "Lessons", "LessonDock", LEFT, 440, tab_with="input", hidden=True),
)


def build_centre(window: QMainWindow) -> None:
    """The chains side by side over the plots: histogram and KL under the forward chain,
    p(class | x̂₀) under the reverse one. Each row is as tall as its tallest view needs, so the
    decision plot sits beside the histogram rather than under the reverse chain, where it took
    its height from the chains' column."""
    w = window
    w.chains_splitter = QSplitter(Qt.Orientation.Horizontal)
    w.chains_splitter.addWidget(w.forward_view)
    # the reverse chain with its final x₀'s copy check under it
    w.reverse_column = QWidget()
    column = QVBoxLayout(w.reverse_column)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(0)
    column.addWidget(w.reverse_view, 1)
    column.addWidget(w.copy_check_view)
    w.chains_splitter.addWidget(w.reverse_column)
    w.chains_splitter.setChildrenCollapsible(False)
    w.plots_splitter = QSplitter(Qt.Orientation.Horizontal)
    w.plots_splitter.addWidget(w.histogram_view)
    w.plots_splitter.addWidget(w.decision_view)
    w.plots_splitter.setChildrenCollapsible(False)
    # the two rows' columns move together
    w.chains_splitter.splitterMoved.connect(
        lambda *_: w.plots_splitter.setSizes(w.chains_splitter.sizes()))
    w.plots_splitter.splitterMoved.connect(
        lambda *_: w.chains_splitter.setSizes(w.plots_splitter.sizes()))
    w.central_splitter = QSplitter(Qt.Orientation.Vertical)
    w.central_splitter.addWidget(w.chains_splitter)
    w.central_splitter.addWidget(w.plots_splitter)
    w.central_splitter.setStretchFactor(0, 3)
    w.central_splitter.setStretchFactor(1, 2)
    w.central_splitter.setChildrenCollapsible(False)
    w.setCentralWidget(w.central_splitter)


def add_dock(window: QMainWindow, title: str, name: str, widget: QWidget, area,
             max_width: int = 330) -> QDockWidget:
    """`widget` in a new dock of `window` on side `area`, inside a scroll area."""
    dock = QDockWidget(title, window)
    dock.setObjectName(name)
    # A scroll area, so a tall panel never forces the window beyond a laptop screen.
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setWidget(widget)
    # Scroll vertically; the dock is as wide as its panel needs up to max_width, and
    # only a panel wider than that scrolls sideways.
    bar = scroll.verticalScrollBar().sizeHint().width()
    need = widget.minimumSizeHint().width() + bar
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded if need > max_width
                                        else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(min(need, max_width))
    dock.setWidget(scroll)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable)
    window.addDockWidget(area, dock)
    return dock


def build_docks(window: QMainWindow) -> QByteArray:
    """The docks as DOCKS lists them, at their default sizes; returns that default layout (the
    window's saveState, for Reset layout)."""
    w = window
    w.docks = {}
    for spec in DOCKS:
        dock = add_dock(w, spec.title, spec.object_name, getattr(w, f"{spec.key}_panel"),
                        spec.side, max_width=spec.max_width)
        w.docks[spec.key] = dock
        setattr(w, f"{spec.key}_dock", dock)
        if spec.tab_with is not None:
            w.tabifyDockWidget(w.docks[spec.tab_with], dock)
    show_default_docks(w)
    w.resizeDocks([w.input_dock], [410], Qt.Orientation.Horizontal)
    w.resizeDocks([w.schedule_dock], [360], Qt.Orientation.Horizontal)
    w.resizeDocks([w.schedule_dock, w.sampler_dock], [500, 330], Qt.Orientation.Vertical)
    w.central_splitter.setSizes([520, 340])
    w.chains_splitter.setSizes([600, 400])
    w.plots_splitter.setSizes([600, 400])
    return w.saveState(STATE_VERSION)


def show_default_docks(window: QMainWindow) -> None:
    """Every dock shown but the hidden ones; the first of each tab group in front."""
    for spec in DOCKS:
        window.docks[spec.key].setVisible(not spec.hidden)
    for spec in DOCKS:
        if spec.tab_with is None:
            window.docks[spec.key].raise_()


def restore_layout(window: QMainWindow, settings: QSettings) -> None:
    """The geometry and dock layout saved in `settings`; a first window takes the screen's
    room (screen_fit) and sits in its middle."""
    geometry = settings.value("window/geometry", QByteArray(), type=QByteArray)
    if geometry is not None and not geometry.isEmpty():
        window.restoreGeometry(geometry)
    else:
        screen_fit.fit_window(window, 1400, 900)
        screen_fit.centre(window)
    state = settings.value("window/state", QByteArray(), type=QByteArray)
    if state is not None and not state.isEmpty():
        window.restoreState(state, STATE_VERSION)


def save_layout(window: QMainWindow, settings: QSettings) -> None:
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState(STATE_VERSION))
