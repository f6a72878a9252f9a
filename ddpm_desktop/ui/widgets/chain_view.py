"""Views of the two Markov chains.

- `ForwardChainView(forward_state)`: x_t of the forward chain, a filmstrip of key frames
  (t = 0, T/10, ..., T; click one to jump), and a transport bar: play/pause, single step,
  Home/End, speed, and a scrub slider. Playback only indexes the precomputed chain.
- `ReverseChainView(reverse_state, model_state)`: x_t and the predicted x̂_0 of each sampler
  lane (two side by side in compare mode), a scrub slider over the frames received so far,
  the step t and the NFE counter; a clear placeholder when there is no model yet.

Images are pyqtgraph ImageItems in row-major order with fixed levels (-1, 1): what the model
sees, black background and white ink; values beyond ±1 (noise) saturate.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, QSignalBlocker, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QPen
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QStackedWidget,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_desktop.ui.state import SAMPLER_NAMES, ForwardState, ModelState, ReverseState
from ddpm_desktop.ui.theme import plot_colors, qcolor

SIDE = 28
SPEEDS = (10, 30, 100, 300, 1000)  # steps per second
_TICK_MS = 16  # ~60 frames/s; a frame paints in ~10 ms (bench/)


class ImagePane(pg.GraphicsLayoutWidget):
    """One 28x28 image, aspect locked, no mouse interaction; `set_image(None)` blanks it."""

    def __init__(self, parent: QWidget | None = None, min_side: int = 120) -> None:
        super().__init__(parent)
        self.ci.layout.setContentsMargins(0, 0, 0, 0)
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMouse=False,
                                    enableMenu=False)
        self.view.setDefaultPadding(0.0)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.view.setRange(QRectF(0, 0, SIDE, SIDE), padding=0)
        self.setMinimumSize(min_side, min_side)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setBackground(None)
        self._blank = np.full((SIDE, SIDE), -1.0, dtype=np.float32)
        self.set_image(None)

    def set_image(self, image: np.ndarray | None) -> None:
        self.image.setImage(self._blank if image is None else image, autoLevels=False,
                            levels=(-1.0, 1.0))

    def heightForWidth(self, w: int) -> int:  # noqa: N802 - Qt override
        return w

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return True


class FilmStrip(pg.GraphicsLayoutWidget):
    """Key frames of a chain in one image (11 thumbnails), labelled by t; click to jump.

    Signal `frame_clicked(int)`: the t of the clicked thumbnail.
    """

    frame_clicked = Signal(int)
    PAD = 3
    _styled = False  # a palette change during construction has nothing to restyle yet

    def __init__(self, n_frames: int = 11, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.n = n_frames
        self.ci.layout.setContentsMargins(0, 0, 0, 0)
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMouse=False,
                                    enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        width = self.n * (SIDE + self.PAD) - self.PAD
        self.view.setRange(QRectF(0, -1, width, SIDE + 11), padding=0.01)
        self.labels = []
        for k in range(self.n):
            label = pg.TextItem("", anchor=(0.5, 0.0))
            font = label.textItem.font()
            font.setPointSizeF(7.5)
            label.setFont(font)
            label.setPos(k * (SIDE + self.PAD) + SIDE / 2, SIDE + 0.5)
            self.view.addItem(label)
            self.labels.append(label)
        self.marker = QGraphicsRectItem(0, 0, SIDE, SIDE)
        self.view.addItem(self.marker)
        self.setFixedHeight(78)
        self.setBackground(None)
        self.ts: list[int] = []
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)
        self._apply_colors()

    def _apply_colors(self) -> None:
        self._styled = True
        colors = plot_colors(self.palette())
        pen = QPen(qcolor(colors.cursor))
        pen.setWidthF(2.0)
        pen.setCosmetic(True)
        self.marker.setPen(pen)
        for label in self.labels:
            label.setColor(colors.foreground)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.PaletteChange and self._styled:
            self._apply_colors()
        super().changeEvent(event)

    def set_frames(self, frames: np.ndarray | None) -> None:
        if frames is None:
            self.ts = []
            return
        T = frames.shape[0] - 1
        self.ts = sorted({int(round(k * T / (self.n - 1))) for k in range(self.n)})
        strip = np.full((SIDE, self.n * (SIDE + self.PAD) - self.PAD), np.nan, dtype=np.float32)
        for k, t in enumerate(self.ts):
            x = k * (SIDE + self.PAD)
            strip[:, x:x + SIDE] = frames[t]
        self.image.setImage(strip, autoLevels=False, levels=(-1.0, 1.0))
        for k, label in enumerate(self.labels):
            # every other key frame labelled, so the numbers never collide
            text = "" if k >= len(self.ts) or k % 2 else (
                f"t={self.ts[k]}" if k == 0 else str(self.ts[k]))
            label.setText(text)

    def set_current(self, t: int) -> None:
        """Highlight the key frame at or just before t."""
        if not self.ts:
            self.marker.hide()
            return
        k = max(i for i, kt in enumerate(self.ts) if kt <= t) if t >= self.ts[0] else 0
        self.marker.setRect(k * (SIDE + self.PAD), 0, SIDE, SIDE)
        self.marker.show()

    @Slot(object)
    def _on_scene_clicked(self, event) -> None:
        pos = self.view.mapSceneToView(event.scenePos())
        k = int(pos.x() // (SIDE + self.PAD))
        if 0 <= k < len(self.ts):
            self.frame_clicked.emit(self.ts[k])


def _tool_button(icon: QStyle.StandardPixmap, tip: str, parent: QWidget) -> QToolButton:
    button = QToolButton(parent)
    button.setIcon(parent.style().standardIcon(icon))
    button.setToolTip(tip)
    button.setAutoRaise(True)
    return button


class ForwardChainView(QWidget):
    """The forward chain x_0 -> x_T with playback. Keyboard shortcuts live in the main window
    and call `toggle_play`, `step`, `go_start`, `go_end`.

    Signal `playing_changed(bool)`.
    """

    playing_changed = Signal(bool)

    def __init__(self, state: ForwardState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._speed = 100
        self._carry = 0.0

        self.title = QLabel("Forward  q(x_t | x_{t-1})")
        self.title.setProperty("role", "title")
        self.t_label = QLabel()
        self.t_label.setProperty("role", "value")
        self.pane = ImagePane(min_side=150)
        self.filmstrip = FilmStrip()

        self.home_button = _tool_button(QStyle.StandardPixmap.SP_MediaSkipBackward,
                                        "Go to t = 0 (Home)", self)
        self.back_button = _tool_button(QStyle.StandardPixmap.SP_MediaSeekBackward,
                                        "Step back (Left)", self)
        self.play_button = _tool_button(QStyle.StandardPixmap.SP_MediaPlay,
                                        "Play / pause (Space)", self)
        self.step_button = _tool_button(QStyle.StandardPixmap.SP_MediaSeekForward,
                                        "Step forward (Right)", self)
        self.end_button = _tool_button(QStyle.StandardPixmap.SP_MediaSkipForward,
                                       "Go to t = T (End)", self)
        self.speed_combo = QComboBox()
        for s in SPEEDS:
            self.speed_combo.addItem(f"{s}/s", s)
        self.speed_combo.setCurrentIndex(SPEEDS.index(100))
        self.speed_combo.setToolTip("Playback speed, in steps t per second")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Scrub through t")

        header = QVBoxLayout()
        header.setSpacing(0)
        header.addWidget(self.title)
        header.addWidget(self.t_label)
        transport = QHBoxLayout()
        transport.setSpacing(2)
        for b in (self.home_button, self.back_button, self.play_button, self.step_button,
                  self.end_button):
            transport.addWidget(b)
        transport.addStretch(1)
        transport.addWidget(QLabel("speed"))
        transport.addWidget(self.speed_combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.pane, 1)
        layout.addWidget(self.filmstrip)
        layout.addWidget(self.slider)
        layout.addLayout(transport)

        self.timer = QTimer(self)
        self.timer.setInterval(_TICK_MS)
        self.timer.timeout.connect(self._on_timer_timeout)
        self.play_button.clicked.connect(self.toggle_play)
        self.home_button.clicked.connect(self.go_start)
        self.end_button.clicked.connect(self.go_end)
        self.back_button.clicked.connect(lambda: self.step(-1))
        self.step_button.clicked.connect(lambda: self.step(1))
        self.speed_combo.currentIndexChanged.connect(self._on_speed_changed)
        self.slider.valueChanged.connect(self._on_slider_moved)
        self.filmstrip.frame_clicked.connect(self._on_filmstrip_clicked)
        state.chain_changed.connect(self._on_chain_changed)
        state.frame_changed.connect(self._on_frame_changed)
        self._on_chain_changed()
        self._on_frame_changed(state.t)

    # ---------------------------------------------------------------- public
    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    @property
    def speed(self) -> int:
        return self._speed

    def set_speed(self, steps_per_s: int) -> None:
        nearest = min(SPEEDS, key=lambda s: abs(s - steps_per_s))
        self.speed_combo.setCurrentIndex(SPEEDS.index(nearest))

    def play(self) -> None:
        if self.state.T == 0:
            return
        if self.state.t >= self.state.T:
            self.state.set_frame(0)
        self._carry = 0.0
        self.timer.start()
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause))
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if self.timer.isActive():
            self.timer.stop()
            self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
            self.playing_changed.emit(False)

    @Slot()
    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def step(self, delta: int) -> None:
        self.pause()
        self.state.set_frame(self.state.t + delta)

    def go_start(self) -> None:
        self.pause()
        self.state.set_frame(0)

    def go_end(self) -> None:
        self.pause()
        self.state.set_frame(self.state.T)

    # ---------------------------------------------------------------- slots
    @Slot()
    def _on_timer_timeout(self) -> None:
        self._carry += self._speed * _TICK_MS / 1000.0
        advance = int(self._carry)
        if advance == 0:
            return
        self._carry -= advance
        t = min(self.state.t + advance, self.state.T)
        self.state.set_frame(t)
        if t >= self.state.T:
            self.pause()

    @Slot(int)
    def _on_speed_changed(self, index: int) -> None:
        self._speed = int(self.speed_combo.itemData(index))

    @Slot(int)
    def _on_slider_moved(self, value: int) -> None:
        self.state.set_frame(value)

    @Slot(int)
    def _on_filmstrip_clicked(self, t: int) -> None:
        self.pause()
        self.state.set_frame(t)

    @Slot()
    def _on_chain_changed(self) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setRange(0, max(self.state.T, 0))
            self.slider.setPageStep(max(1, self.state.T // 10))
        self.filmstrip.set_frames(self.state.frames)

    @Slot(int)
    def _on_frame_changed(self, t: int) -> None:
        self.pane.set_image(self.state.frame())
        with QSignalBlocker(self.slider):
            self.slider.setValue(t)
        self.filmstrip.set_current(t)
        schedule = self.state.schedule
        if schedule is not None:
            a = schedule.alpha_bar(t)
            self.t_label.setText(f"t = {t} / {self.state.T}   ᾱ_t = {a:.3g}")


class _LanePanel(QWidget):
    """One sampler lane: a caption and x_t beside x̂_0."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel()
        self.caption.setProperty("role", "value")
        # The caption's text (sampler name, t, step) must not size the panel: a longer name
        # used to widen the reverse view and shrink the forward image beside it.
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
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
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.train_button)
        buttons.addStretch(1)
        page0 = QVBoxLayout(self.no_model_page)
        page0.addStretch(1)
        page0.addWidget(self.no_model_label)
        page0.addLayout(buttons)
        page0.addStretch(1)

        self.ready_page = QWidget()
        self.ready_label = QLabel()
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
            name = SAMPLER_NAMES.get(lane.sampler, lane.sampler)
            panel.caption.setText(f"{name}   t = {lane.t[i]}   step {i}/{lane.total}")
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
