"""The inpainting panel: paint a mask over the input digit, pick a method, see N completions.

A view of `InpaintState` (and the input digit): the mask editor shows the digit with the hole
tinted; the brush paints hole, the eraser gives pixels back, Undo takes back a stroke or preset.
The completions grid shows each completion with the bundled classifier's reading and its
probability. Every edit is an intent signal; `connect_inpaint_panel` wires them to the state
and the session (wiring.py calls it once).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Signal, Slot
from PySide6.QtGui import QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QSizePolicy, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from ddpm_desktop.core.imaging import to_uint8
from ddpm_desktop.core.inpaint import DEFAULT_JUMP_LENGTH, DEFAULT_RESAMPLE, MASK_PRESETS, METHODS
from ddpm_desktop.ui.inpaint_state import MAX_COMPLETIONS, METHOD_NAMES, InpaintState
from ddpm_desktop.ui.state import SAMPLER_NAMES, InputState
from ddpm_desktop.ui.theme import plot_colors, qcolor
from ddpm_desktop.ui.widgets.canvas import gray_qimage
from ddpm_desktop.ui.widgets.completion_grid import CompletionGrid
from ddpm_desktop.ui.widgets.plain_text import plain



class MaskEditor(QWidget):
    """The input digit with the mask's hole tinted; press and drag to paint.

    Signals: `stroke_started()` once per press, `painted(int, int, bool)` (row, col, hole) for
    each pixel the pointer crosses.
    """

    stroke_started = Signal()
    painted = Signal(int, int, bool)

    def __init__(self, state: InpaintState, input_state: InputState, parent=None) -> None:
        super().__init__(parent)
        self.state, self.input_state = state, input_state
        self.erasing = False
        self.setMinimumSize(168, 168)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("Paint the hole the model fills (brush) or give pixels back (eraser).\n"
                        "Tinted pixels are unknown; the others are kept exactly.")
        state.mask_changed.connect(self.update)
        input_state.changed.connect(self.update)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(224, 224)

    def _square(self) -> QRectF:
        side = min(self.width(), self.height())
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def pixel_at(self, pos: QPointF) -> tuple[int, int] | None:
        r = self._square()
        if not r.contains(pos):
            return None
        col = int((pos.x() - r.left()) / r.width() * 28)
        row = int((pos.y() - r.top()) / r.height() * 28)
        return min(row, 27), min(col, 27)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self.stroke_started.emit()
        self._paint_at(event.position())

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if event.buttons():
            self._paint_at(event.position())

    def _paint_at(self, pos: QPointF) -> None:
        px = self.pixel_at(pos)
        if px is not None:
            self.painted.emit(px[0], px[1], not self.erasing)

    def paintEvent(self, event) -> None:  # noqa: N802
        colors = plot_colors(self.palette())
        p = QPainter(self)
        r = self._square()
        p.drawPixmap(r.toRect(), QPixmap.fromImage(gray_qimage(to_uint8(self.input_state.digit))))
        hole = qcolor(colors.brush, 110)
        cell = r.width() / 28
        for row, col in zip(*np.nonzero(~self.state.known)):
            p.fillRect(QRectF(r.left() + col * cell, r.top() + row * cell, cell, cell), hole)
        p.setPen(QPen(qcolor(colors.outline), 1))
        p.drawRect(r)
        p.end()


class InpaintPanel(QWidget):
    """Intents: `stroke_started()`, `painted(int, int, bool)`, `preset_chosen(str)`,
    `undo_requested()`, `settings_edited(str, str, int)` (method, sampler, n),
    `inpaint_requested()`, `cancel_requested()`."""

    stroke_started = Signal()
    painted = Signal(int, int, bool)
    preset_chosen = Signal(str)
    undo_requested = Signal()
    settings_edited = Signal(str, str, int)
    inpaint_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, state: InpaintState, input_state: InputState, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        lay = QVBoxLayout(self)
        self.editor = MaskEditor(state, input_state)
        self.editor.stroke_started.connect(self.stroke_started)
        self.editor.painted.connect(self.painted)
        lay.addWidget(self.editor, 1)

        tools = QHBoxLayout()
        self.brush = QToolButton(text="Brush", checkable=True, checked=True,
                                 toolTip="Paint pixels as unknown (the hole)")
        self.eraser = QToolButton(text="Eraser", checkable=True, toolTip="Give pixels back (known)")
        group = QButtonGroup(self)
        group.addButton(self.brush)
        group.addButton(self.eraser)
        self.eraser.toggled.connect(self._on_eraser_toggled)
        self.undo = QToolButton(text="Undo", toolTip="Take back the last stroke or preset")
        self.undo.clicked.connect(self.undo_requested)
        tools.addWidget(self.brush)
        tools.addWidget(self.eraser)
        tools.addWidget(self.undo)
        tools.addStretch(1)
        lay.addLayout(tools)

        presets = QHBoxLayout()
        presets.addWidget(QLabel("Hide half:"))
        self.preset_buttons = {}
        for name in MASK_PRESETS:
            b = QToolButton(text=name, toolTip=f"Hide the {name} half of the digit")
            b.clicked.connect(lambda _=False, n=name: self.preset_chosen.emit(n))
            presets.addWidget(b)
            self.preset_buttons[name] = b
        presets.addStretch(1)
        lay.addLayout(presets)

        form = QGridLayout()
        self.method = QComboBox()
        for m in METHODS:
            self.method.addItem(METHOD_NAMES[m], m)
        self.method.setToolTip("paste: x_t^known = √ᾱ_t x₀ + √(1-ᾱ_t) ε before every step;\n"
                               "RePaint: DDPM steps with resampling jumps "
                               f"(j = {DEFAULT_JUMP_LENGTH}, r = {DEFAULT_RESAMPLE});\n"
                               "x̂₀: the known part of x̂₀ replaced by x₀ at every step")
        self.sampler = QComboBox()
        for key, name in SAMPLER_NAMES.items():
            self.sampler.addItem(name, key)
        self.sampler.setToolTip("The sampler of paste and x̂₀ replacement (RePaint runs DDPM)")
        self.n = QSpinBox(minimum=1, maximum=MAX_COMPLETIONS, toolTip="Completions N, drawn at once")
        form.addWidget(QLabel("Method"), 0, 0)
        form.addWidget(self.method, 0, 1)
        form.addWidget(QLabel("Sampler"), 1, 0)
        form.addWidget(self.sampler, 1, 1)
        form.addWidget(QLabel("Completions N"), 2, 0)
        form.addWidget(self.n, 2, 1)
        lay.addLayout(form)
        for w in (self.method, self.sampler):
            w.currentIndexChanged.connect(self._emit_settings)
        self.n.valueChanged.connect(self._emit_settings)

        run = QHBoxLayout()
        self.run_button = QPushButton("Inpaint")
        self.run_button.clicked.connect(self.inpaint_requested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested)
        run.addWidget(self.run_button)
        run.addWidget(self.cancel_button)
        lay.addLayout(run)
        self.info = QLabel()
        plain(self.info)
        self.info.setWordWrap(True)
        lay.addWidget(self.info)

        self.grid = CompletionGrid(columns=3)  # 3 captioned tiles fit a 360 px dock
        lay.addWidget(self.grid)
        self.tiles = self.grid.tiles       # the grid's own list (kept for tests)

        state.mask_changed.connect(self._on_state_mask_changed)
        state.settings_changed.connect(self._on_state_settings_changed)
        state.completions_changed.connect(self._on_state_completions_changed)
        state.running_changed.connect(self._on_state_running_changed)
        self._on_state_settings_changed()
        self._on_state_mask_changed()
        self._on_state_running_changed(state.running)
        self._on_state_completions_changed()

    @Slot(bool)
    def _on_eraser_toggled(self, on: bool) -> None:
        self.editor.erasing = on

    def _emit_settings(self, *_args) -> None:
        self.settings_edited.emit(self.method.currentData(), self.sampler.currentData(), self.n.value())

    @Slot()
    def _on_state_settings_changed(self) -> None:
        s = self.state
        for combo, value in ((self.method, s.method), (self.sampler, s.sampler)):
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(value))
            combo.blockSignals(False)
        self.n.blockSignals(True)
        self.n.setValue(s.n)
        self.n.blockSignals(False)
        self.sampler.setEnabled(s.method != "repaint")

    @Slot()
    def _on_state_mask_changed(self) -> None:
        problem = self.state.problem()
        hidden = int((~self.state.known).sum())
        self.undo.setEnabled(self.state.can_undo())
        self.run_button.setEnabled(problem is None and not self.state.running)
        self.info.setText(problem or f"{hidden} of 784 pixels unknown; the other {784 - hidden} are kept exactly")

    @Slot(bool)
    def _on_state_running_changed(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        self.run_button.setEnabled(not running and self.state.problem() is None)

    @Slot()
    def _on_state_completions_changed(self) -> None:
        s = self.state
        n = 0 if s.completions is None else len(s.completions)
        extras = None if s.settled is None else [f"settles t = {t}" for t in s.settled]
        self.grid.show_completions(s.completions, s.readings, s.probabilities, extras, s.digits)
        if n:
            self.info.setText(f"{n} completions, {s.nfe} network evaluations each")


def connect_inpaint_panel(panel: InpaintPanel, inpainter) -> None:
    """Wire the panel's intents to the inpainting area (`session.inpainter`) and its state."""
    st = inpainter.state
    panel.stroke_started.connect(st.begin_stroke)
    panel.painted.connect(lambda row, col, hole: st.paint(row, col, hole))
    panel.preset_chosen.connect(st.set_preset)
    panel.undo_requested.connect(st.undo)
    panel.settings_edited.connect(lambda m, s, n: st.set_settings(method=m, sampler=s, n=n))
    panel.inpaint_requested.connect(inpainter.start)
    panel.cancel_requested.connect(inpainter.cancel)
