"""The reverse chain view: x_t and the predicted x̂_0 of each sampler lane (two stacked in
compare mode), a scrub slider over the frames received so far, the step t and the NFE counter,
and a clear placeholder when there is no model yet. Built from `ReverseState` and
`ModelState`; it emits intent only (`sample_requested`, `load_model_requested`,
`train_requested`).
"""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ddpm_desktop.ui.distilled_names import lane_name
from ddpm_desktop.ui.state import ModelState, ReverseState
from ddpm_desktop.ui.widgets.chain_view import ImagePane
from ddpm_desktop.ui.widgets.plain_text import plain


def caption_text(sampler: str, t: int, index: int, total: int, name: str | None = None) -> str:
    """A lane's readout, e.g. "DDPM   t = 490   step 51/100": the sampler's name, the step t of
    the frame shown and its index in the run. Spaces inside a field are non-breaking, so a
    word-wrapped caption breaks only between fields (and after a comma of `name`, the lane's
    name where it is not the sampler's, e.g. "distilled student, 2 steps")."""
    fields = (name or SAMPLER_NAMES.get(sampler, sampler), f"t = {t}", f"step {index}/{total}")
    return "   ".join(field.replace(" ", "\u00a0").replace(",\u00a0", ", ") for field in fields)


class _LanePanel(QWidget):
    """One sampler lane: a caption and x_t beside x̂_0."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel()
        self.caption.setProperty("role", "value")
        # The caption's text (sampler name, t, step) must not size the panel: a longer name
        # used to widen the reverse view and shrink the forward image beside it.
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # ...so a lane narrower than its caption (1280×720 in lecture mode) wraps it between
        # fields (caption_text) instead of cutting "step 49/100" to "step 49/1".
        self.caption.setWordWrap(True)
        self.x_t_pane = ImagePane(min_side=110)
        self.x0_pane = ImagePane(min_side=110)
        x_t_title = QLabel("x_t")
        x0_title = QLabel("predicted x̂₀")
        for label in (x_t_title, x0_title):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setProperty("role", "caption")
        grid = QHBoxLayout()
        grid.setSpacing(10)  # a visible gutter: x_t and x̂₀ must not read as one image
        left, right = QVBoxLayout(), QVBoxLayout()
        left.addWidget(self.x_t_pane, 1)
        left.addWidget(x_t_title)
        right.addWidget(self.x0_pane, 1)
        right.addWidget(x0_title)
        grid.addLayout(left)
        grid.addLayout(right)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        layout.addLayout(grid, 1)


class ReverseChainView(QWidget):
    """The reverse chain(s) as they arrive.

    Signals: `sample_requested()` (the placeholder's / toolbar's "Sample" button),
    `load_model_requested()`, `train_requested()` (the no-model placeholder's buttons).
    """

    sample_requested = Signal()
    load_model_requested = Signal()
    train_requested = Signal()

    def __init__(self, state: ReverseState, model_state: ModelState,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.model_state = model_state

        self.title = QLabel("Reverse  p_θ(x_{t-1} | x_t)")
        self.title.setProperty("role", "title")
        self.nfe_label = QLabel()
        self.nfe_label.setProperty("role", "value")
        self.nfe_label.setText(" ")
        self.nfe_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.nfe_label.setWordWrap(True)  # two compared lanes' counts on a narrow view

        # Page 0: no model; page 1: ready, nothing sampled yet; page 2: lanes.
        self.stack = QStackedWidget()
        self.no_model_page = QWidget()
        self.no_model_label = QLabel(
            "<b>No model yet</b><br>Train one in the Training dock, or load a checkpoint."
            "<br><br>The forward chain, histogram, KL and schedule all work without one.")
        self.no_model_label.setWordWrap(True)
        self.no_model_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.load_button = QPushButton("Load checkpoint…")
        self.train_button = QPushButton("Open Training")
        buttons = QVBoxLayout()  # stacked: side by side they widened the window (lecture mode)
        buttons.addWidget(self.load_button, 0, Qt.AlignmentFlag.AlignHCenter)
        buttons.addWidget(self.train_button, 0, Qt.AlignmentFlag.AlignHCenter)
        page0 = QVBoxLayout(self.no_model_page)
        page0.addStretch(1)
        page0.addWidget(self.no_model_label)
        page0.addLayout(buttons)
        page0.addStretch(1)

        self.ready_page = QWidget()
        self.ready_label = QLabel()
        plain(self.ready_label)
        self.ready_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.ready_label.setWordWrap(True)
        self.sample_button = QPushButton("Sample")
        page1 = QVBoxLayout(self.ready_page)
        page1.addStretch(1)
        page1.addWidget(self.ready_label)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.sample_button)
        row.addStretch(1)
        page1.addLayout(row)
        page1.addStretch(1)

        self.lanes_page = QWidget()
        self.lane_panels = [_LanePanel(), _LanePanel()]
        lanes = QVBoxLayout(self.lanes_page)  # compare mode: lanes stacked, x_t | x̂₀ in each
        lanes.setContentsMargins(0, 0, 0, 0)
        for panel in self.lane_panels:
            lanes.addWidget(panel, 1)
        self.stack.addWidget(self.no_model_page)
        self.stack.addWidget(self.ready_page)
        self.stack.addWidget(self.lanes_page)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Scrub through the reverse chain (x_T -> x_0)")
        self.slider.setEnabled(False)

        header = QVBoxLayout()
        header.setSpacing(0)
        header.addWidget(self.title)
        header.addWidget(self.nfe_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.slider)

        self.load_button.clicked.connect(self.load_model_requested)
        self.train_button.clicked.connect(self.train_requested)
        self.sample_button.clicked.connect(self.sample_requested)
        self.slider.valueChanged.connect(self._on_slider_moved)
        state.reset.connect(self._on_reset)
        state.frames_added.connect(self._on_frames_added)
        state.frame_changed.connect(self._on_frame_changed)
        state.run_finished.connect(self._on_run_finished)
        model_state.changed.connect(self._on_model_changed)
        self._on_model_changed()

    # ---------------------------------------------------------------- slots
    @Slot()
    def _on_model_changed(self) -> None:
        if self.state.lanes:
            self.stack.setCurrentWidget(self.lanes_page)
        elif self.model_state.available:
            self.ready_label.setText(f"Model ready ({self.model_state.source}).\n"
                                     "Sample a digit from noise (Ctrl+R).")
            self.stack.setCurrentWidget(self.ready_page)
        elif self.model_state.loading:
            self.ready_label.setText("Loading the model…")
            self.sample_button.hide()
            self.stack.setCurrentWidget(self.ready_page)
            return
        else:
            self.stack.setCurrentWidget(self.no_model_page)
        self.sample_button.setVisible(self.model_state.available)

    @Slot()
    def _on_reset(self) -> None:
        self.stack.setCurrentWidget(self.lanes_page)
        for k, panel in enumerate(self.lane_panels):
            panel.setVisible(k < len(self.state.lanes))
            panel.x_t_pane.set_image(None)
            panel.x0_pane.set_image(None)
            panel.caption.setText("")
        with QSignalBlocker(self.slider):
            self.slider.setRange(0, 0)
        self.slider.setEnabled(False)
        self.nfe_label.setText("starting…")
        if not self.state.lanes:  # cleared: no chain on screen
            self.nfe_label.setText("")
            self._on_model_changed()

    @Slot()
    def _on_frames_added(self) -> None:
        n = self.state.length()
        with QSignalBlocker(self.slider):
            self.slider.setRange(0, max(n - 1, 0))
        self.slider.setEnabled(n > 1)

    @Slot(int)
    def _on_frame_changed(self, index: int) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(index)
        nfe_parts = []
        for lane, panel in zip(self.state.lanes, self.lane_panels):
            if not len(lane):
                continue
            i = min(index, len(lane) - 1)
            panel.x_t_pane.set_image(lane.x_t[i])
            panel.x0_pane.set_image(lane.x0_pred[i] if i > 0 else None)
            name = lane_name(lane.sampler, lane.steps)  # "distilled student, N steps"
            panel.caption.setText(caption_text(lane.sampler, lane.t[i], i, lane.total, name=name))
            nfe_parts.append(f"{lane.nfe[i]}")
        if nfe_parts:
            total = self.state.lanes[0].total
            self.nfe_label.setText(f"NFE {' | '.join(nfe_parts)} / {total}")

    @Slot(bool)
    def _on_run_finished(self, completed: bool) -> None:
        if not completed and self.state.length() == 0:
            self.nfe_label.setText("stopped")

    @Slot(int)
    def _on_slider_moved(self, value: int) -> None:
        self.state.set_frame(value, user=True)
