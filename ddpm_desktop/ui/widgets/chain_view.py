"""Views of the two Markov chains.

- `ForwardChainView(forward_state)`: x_t of the forward chain, a filmstrip of key frames
  (t = 0, T/10, ..., T; click one to jump), and a transport bar: play/pause, single step,
  Home/End, speed, and a scrub slider. Playback only indexes the precomputed chain.
- The reverse chain's view is `reverse_view.ReverseChainView`.

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
    QSizePolicy,
    QSlider,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_desktop.core.imaging import IMAGE_SIDE
from ddpm_desktop.ui.state import ForwardState
from ddpm_desktop.ui.theme import plot_colors, qcolor

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
        self.view.setRange(QRectF(0, 0, IMAGE_SIDE, IMAGE_SIDE), padding=0)
        self.setMinimumSize(min_side, min_side)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setBackground(None)
        self._blank = np.full((IMAGE_SIDE, IMAGE_SIDE), -1.0, dtype=np.float32)
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
        width = self.n * (IMAGE_SIDE + self.PAD) - self.PAD
        self.view.setRange(QRectF(0, -1, width, IMAGE_SIDE + 11), padding=0.01)
        self.labels = []
        for k in range(self.n):
            label = pg.TextItem("", anchor=(0.5, 0.0))
            font = label.textItem.font()
            font.setPointSizeF(7.5)
            label.setFont(font)
            label.setPos(k * (IMAGE_SIDE + self.PAD) + IMAGE_SIDE / 2, IMAGE_SIDE + 0.5)
            self.view.addItem(label)
            self.labels.append(label)
        self.marker = QGraphicsRectItem(0, 0, IMAGE_SIDE, IMAGE_SIDE)
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
        strip = np.full((IMAGE_SIDE, self.n * (IMAGE_SIDE + self.PAD) - self.PAD), np.nan, dtype=np.float32)
        for k, t in enumerate(self.ts):
            x = k * (IMAGE_SIDE + self.PAD)
            strip[:, x:x + IMAGE_SIDE] = frames[t]
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
        self.marker.setRect(k * (IMAGE_SIDE + self.PAD), 0, IMAGE_SIDE, IMAGE_SIDE)
        self.marker.show()

    @Slot(object)
    def _on_scene_clicked(self, event) -> None:
        pos = self.view.mapSceneToView(event.scenePos())
        k = int(pos.x() // (IMAGE_SIDE + self.PAD))
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
