"""Draw a digit with the mouse: a soft round brush on a 280x280 ink buffer, MNIST-preprocessed.

Public API (for the main window)
--------------------------------
``DrawCanvas(parent=None, size=280)``  (QWidget)
    signals
        ``digit_changed(object)``  float32 ``[28, 28]`` in ``[-1, 1]`` (-1 = background), made
            by ``core.imaging.preprocess_digit`` (fitted into 20x20, centred by mass, like
            MNIST). Emitted when a stroke ends, while drawing at once on the first move and
            then every THROTTLE_MS while the ink keeps changing (40 Hz), and after
            ``clear()`` / ``undo()`` / ``set_digit(..., emit=True)``. A blank canvas emits an
            all ``-1`` image.
    properties / methods
        ``brush_radius`` (int, buffer pixels; ``set_brush_radius(r)``), ``eraser`` (bool;
        ``set_eraser(on)``), ``clear()``, ``undo()``, ``can_undo()``,
        ``set_digit(x28, emit=False)`` shows an existing float32 ``[28, 28]`` digit in
        ``[-1, 1]`` (undoable), ``digit() -> np.ndarray | None`` (the preprocessed digit,
        None when blank), ``ink() -> np.ndarray`` (float32 ``[size, size]`` in ``[0, 1]``,
        a copy), ``is_empty()``.
    signal ``undo_available(bool)`` for enabling an Undo button/action.
    Left button draws (or erases in eraser mode), right button always erases,
    Ctrl+Z (the platform Undo key) undoes while the canvas has focus.

``CanvasPanel(parent=None)``  (QWidget)
    The canvas plus its tools: brush size, pen/eraser, undo, clear, "Open image..." (via
    ``core.imaging.load_digit``; errors go to a message box) and a 28x28 preview of what the
    model sees. ``panel.canvas`` is the DrawCanvas; ``panel.digit_changed`` re-emits its
    signal. ``panel.undo_action`` is a QAction (Ctrl+Z, panel-local) a menu can reuse.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QImage, QKeySequence, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_desktop.core import imaging
from ddpm_desktop.core.imaging import IMAGE_SIDE
from ddpm_desktop.ui.theme import plot_colors, qcolor
from ddpm_desktop.ui.widgets.canvas_raster import (  # noqa: F401 (re-exported)
    gray_qimage, ink_u8, stamp_segment, upsample_digit)
from ddpm_desktop.ui.widgets.plain_text import warn

UNDO_DEPTH = 40
# Emits while a stroke is in progress: at a steady <= 40 Hz (reconstruct as you draw wants >= 30).
THROTTLE_MS = 25


class DrawCanvas(QWidget):
    """Square drawing surface over a float32 ink buffer (0 = black background, 1 = ink)."""

    digit_changed = Signal(object)
    undo_available = Signal(bool)

    def __init__(self, parent: QWidget | None = None, size: int = 280) -> None:
        super().__init__(parent)
        self._size = int(size)
        self._buf = np.zeros((self._size, self._size), np.float32)
        self._undo: list[np.ndarray] = []
        self._brush_radius = max(2, round(self._size * 0.045))
        self._eraser = False
        self._stroke_erase = False
        self._last: tuple[float, float] | None = None
        self._dirty = False  # ink changed since the last emit
        # The displayed pixels, kept in step with the ink: a stroke converts only the box it
        # touched (a whole 280x280 conversion per paint took ~2 ms of the GUI thread).
        self._u8 = ink_u8(self._buf)
        self._hover: QPointF | None = None
        self._throttle = QTimer(self)
        self._throttle.setInterval(THROTTLE_MS)  # repeating while the ink keeps changing
        self._throttle.timeout.connect(self._on_throttle_timeout)
        self.setMinimumSize(140, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw a digit. Right button erases; Ctrl+Z undoes.")

    # ---- state ---------------------------------------------------------------------------
    @property
    def buffer_size(self) -> int:
        return self._size

    @property
    def brush_radius(self) -> int:
        return self._brush_radius

    def set_brush_radius(self, radius: int) -> None:
        self._brush_radius = int(max(1, radius))
        self.update()

    @property
    def eraser(self) -> bool:
        return self._eraser

    def set_eraser(self, on: bool) -> None:
        self._eraser = bool(on)

    def ink(self) -> np.ndarray:
        return self._buf.copy()

    def is_empty(self) -> bool:
        return not bool((self._buf > 1e-3).any())

    def can_undo(self) -> bool:
        return bool(self._undo)

    def digit(self) -> np.ndarray | None:
        """The preprocessed float32 [28, 28] digit in [-1, 1], or None while blank."""
        if self.is_empty():
            return None
        try:
            return np.asarray(imaging.preprocess_digit(self._buf.copy()), dtype=np.float32)
        except imaging.ImageLoadError:  # only a faint smudge left: no digit yet
            return None

    # ---- edits ---------------------------------------------------------------------------
    def _push_undo(self) -> None:
        self._undo.append(self._buf.copy())
        if len(self._undo) > UNDO_DEPTH:
            del self._undo[0]
        if len(self._undo) == 1:
            self.undo_available.emit(True)

    def _changed(self, box: tuple[int, int, int, int] | None = None, whole: bool = True) -> None:
        """The ink changed: in `box` (ya, yb, xa, xb) only, or everywhere when `whole`."""
        if whole:
            self._u8 = ink_u8(self._buf)
            self.update()
        elif box is not None:
            ya, yb, xa, xb = box
            self._u8[ya:yb, xa:xb] = ink_u8(self._buf[ya:yb, xa:xb])
            self.update(self._box_rect(box))  # repaint what the stroke touched, not all
        self._dirty = True

    @Slot()
    def clear(self) -> None:
        if self.is_empty():
            return
        self._push_undo()
        self._buf[:] = 0.0
        self._changed()
        self._emit_digit()

    @Slot()
    def undo(self) -> None:
        if self._last is not None:  # undo in the middle of a stroke ends it first
            self._end_stroke()
        if not self._undo:
            return
        self._buf = self._undo.pop()
        if not self._undo:
            self.undo_available.emit(False)
        self._changed()
        self._emit_digit()

    def set_digit(self, x28: np.ndarray, emit: bool = False) -> None:
        """Show an existing float32 [28, 28] digit in [-1, 1] (undoable)."""
        ink = upsample_digit(x28, self._size)
        self._push_undo()
        self._buf = ink
        self._changed()
        if emit:
            self._emit_digit()
        else:
            self._dirty = False

    # ---- emitting ------------------------------------------------------------------------
    def _emit_digit(self) -> None:
        self._dirty = False
        x = self.digit()
        if x is None:
            x = np.full((IMAGE_SIDE, IMAGE_SIDE), -1.0, np.float32)
        self.digit_changed.emit(x)

    def _emit_while_drawing(self) -> None:
        """Leading edge, then a steady cadence: the first edit of a quiet spell emits at once
        and starts the repeating timer; each timeout emits what changed since, or stops the
        timer when nothing did. A moving pen so emits every THROTTLE_MS, however long an emit
        takes (a single-shot timer restarted by the next move, or after the emit, would add
        the gap between moves or the emit's own time to every period)."""
        if not self._throttle.isActive():
            self._emit_digit()
            self._throttle.start()

    @Slot()
    def _on_throttle_timeout(self) -> None:
        if self._dirty and self._last is not None:
            self._emit_digit()
        else:
            self._throttle.stop()

    # ---- mouse ---------------------------------------------------------------------------
    def _target_rect(self) -> QRectF:
        side = float(min(self.width(), self.height()))
        return QRectF((self.width() - side) / 2.0, (self.height() - side) / 2.0, side, side)

    def _to_buffer(self, pos: QPointF) -> tuple[float, float]:
        r = self._target_rect()
        k = self._size / max(r.width(), 1.0)
        return ((pos.x() - r.x()) * k, (pos.y() - r.y()) * k)

    def _box_rect(self, box: tuple[int, int, int, int]) -> QRect:
        """Buffer rows/columns (ya, yb, xa, xb) -> the widget pixels showing them (+ 2 px)."""
        r = self._target_rect()
        k = r.width() / self._size
        ya, yb, xa, xb = box
        return QRectF(r.x() + xa * k, r.y() + ya * k, (xb - xa) * k, (yb - ya) * k) \
            .toAlignedRect().adjusted(-2, -2, 2, 2)

    def _hover_rect(self, pos: QPointF | None) -> QRect:
        """The widget pixels of the brush outline drawn at `pos` (empty for None)."""
        if pos is None:
            return QRect()
        rad = self._brush_radius * self._target_rect().width() / self._size + 2.0
        return QRectF(pos.x() - rad, pos.y() - rad, 2 * rad, 2 * rad).toAlignedRect()

    def _begin_stroke(self, pos: QPointF, erase: bool) -> None:
        self._push_undo()
        self._stroke_erase = erase
        p = self._to_buffer(pos)
        self._last = p
        self._changed(stamp_segment(self._buf, p, p, self._brush_radius, erase), whole=False)
        self._emit_while_drawing()

    def _extend_stroke(self, pos: QPointF, emit: bool = True) -> None:
        p = self._to_buffer(pos)
        box = stamp_segment(self._buf, self._last, p, self._brush_radius, self._stroke_erase)
        self._last = p
        self._changed(box, whole=False)
        if emit:
            self._emit_while_drawing()

    def _end_stroke(self) -> None:
        self._last = None
        self._throttle.stop()
        self._emit_digit()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self._last is not None:
            return
        if event.button() == Qt.MouseButton.LeftButton:
            self._begin_stroke(event.position(), self._eraser)
        elif event.button() == Qt.MouseButton.RightButton:
            self._begin_stroke(event.position(), True)
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        self.update(self._hover_rect(self._hover))  # the brush outline moves: old and new
        self._hover = event.position()
        self.update(self._hover_rect(self._hover))
        if self._last is not None:
            self._extend_stroke(event.position())

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._last is not None and event.button() in (
                Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self._extend_stroke(event.position(), emit=False)  # the end of the stroke emits
            self._end_stroke()
        else:
            super().mouseReleaseEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802
        self.update(self._hover_rect(self._hover))
        self._hover = None
        super().leaveEvent(event)

    # ---- keys: take Ctrl+Z before a window-level Undo shortcut does (as QLineEdit does) --
    def event(self, event) -> bool:
        if (event.type() == QEvent.Type.ShortcutOverride
                and event.matches(QKeySequence.StandardKey.Undo)):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo()
            event.accept()
            return
        super().keyPressEvent(event)

    # ---- painting ------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802
        """Paints only the region Qt asks for: while drawing, the box a stroke touched and
        the brush outline (the whole smoothly scaled image took ~5 ms a paint under load)."""
        u8 = self._u8  # a view on it for this paint only: no copy
        image = QImage(u8.data, u8.shape[1], u8.shape[0], u8.strides[0],
                       QImage.Format.Format_Grayscale8)
        colors = plot_colors(self.palette())
        p = QPainter(self)
        p.setClipRegion(event.region())
        p.fillRect(event.rect(), self.palette().window())
        r = self._target_rect()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        source = self._source_rect(QRectF(event.rect()), r)
        if not source.isEmpty():
            k = r.width() / self._size
            target = QRectF(r.x() + source.x() * k, r.y() + source.y() * k,
                            source.width() * k, source.height() * k)
            p.drawImage(target, image, source)
        p.setPen(QPen(qcolor(colors.outline), 1))
        p.drawRect(r.adjusted(0, 0, -1, -1))
        if self._hover is not None and r.contains(self._hover):
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            rad = self._brush_radius * r.width() / self._size
            p.setPen(QPen(qcolor(colors.eraser if self._eraser else colors.brush), 1))
            p.drawEllipse(self._hover, rad, rad)
        p.end()


    def _source_rect(self, area: QRectF, r: QRectF) -> QRectF:
        """The buffer pixels under the widget `area` of the image drawn in `r`, two more on
        each side (the bilinear filter reads neighbours), whole pixels, inside the buffer."""
        area = area.intersected(r)
        if area.isEmpty():
            return QRectF()
        k = self._size / r.width()
        x0 = max(int(np.floor((area.left() - r.x()) * k)) - 2, 0)
        y0 = max(int(np.floor((area.top() - r.y()) * k)) - 2, 0)
        x1 = min(int(np.ceil((area.right() - r.x()) * k)) + 2, self._size)
        y1 = min(int(np.ceil((area.bottom() - r.y()) * k)) + 2, self._size)
        return QRectF(x0, y0, x1 - x0, y1 - y0)


class CanvasPanel(QWidget):
    """DrawCanvas with brush size, pen/eraser, undo, clear, open image and a 28x28 preview."""

    digit_changed = Signal(object)
    _styled = False  # a palette change before the preview exists has nothing to restyle

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = DrawCanvas(self)
        # The file name while an opened image is being emitted (its caption), else None.
        self.image_source: str | None = None

        self.pen_button = QToolButton(text="Pen", checkable=True, checked=True)
        self.eraser_button = QToolButton(text="Eraser", checkable=True)
        group = QButtonGroup(self)
        group.setExclusive(True)
        group.addButton(self.pen_button)
        group.addButton(self.eraser_button)
        self.eraser_button.toggled.connect(self.canvas.set_eraser)

        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(3, 40)
        self.size_slider.setValue(self.canvas.brush_radius)
        self.size_slider.setToolTip("Brush radius")
        self.size_slider.valueChanged.connect(self.canvas.set_brush_radius)

        self.undo_action = QAction("Undo", self)
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.undo_action.setEnabled(False)
        self.undo_action.triggered.connect(self.canvas.undo)
        self.addAction(self.undo_action)
        self.canvas.undo_available.connect(self.undo_action.setEnabled)
        self.undo_button = QToolButton()
        self.undo_button.setDefaultAction(self.undo_action)
        self.clear_button = QToolButton(text="Clear")
        self.clear_button.clicked.connect(self.canvas.clear)
        self.open_button = QToolButton(text="Open image…")
        self.open_button.clicked.connect(self._on_open_clicked)

        self.preview = QLabel()
        self.preview.setFixedSize(3 * IMAGE_SIDE + 2, 3 * IMAGE_SIDE + 2)
        self.preview.setToolTip("What the model sees: 28x28, fitted into 20x20, centred by mass")
        self._apply_colors()

        tools = QHBoxLayout()
        tools.addWidget(self.pen_button)
        tools.addWidget(self.eraser_button)
        tools.addWidget(self.undo_button)
        tools.addWidget(self.clear_button)
        tools.addStretch(1)
        tools.addWidget(self.open_button)
        self.size_slider.setMinimumWidth(80)
        size_row = QHBoxLayout()
        size_row.addWidget(QLabel("Brush"))
        size_row.addWidget(self.size_slider, 1)
        side = QVBoxLayout()
        side.addLayout(size_row)
        side.addWidget(QLabel("Model input (28×28):"))
        side.addStretch(1)
        below = QHBoxLayout()
        below.addLayout(side, 1)
        below.addWidget(self.preview)
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(below)

        self.canvas.digit_changed.connect(self._on_canvas_digit_changed)
        self.canvas.digit_changed.connect(self.digit_changed)

    def _apply_colors(self) -> None:
        self._styled = True
        colors = plot_colors(self.palette())
        self.preview.setStyleSheet(
            f"border: 1px solid {colors.outline}; background: {colors.image_bg};")

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.PaletteChange and self._styled:
            self._apply_colors()
        super().changeEvent(event)

    @Slot(object)
    def _on_canvas_digit_changed(self, x: np.ndarray) -> None:
        u8 = np.rint((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
        pix = QPixmap.fromImage(gray_qimage(u8)).scaled(
            3 * IMAGE_SIDE, 3 * IMAGE_SIDE, Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.FastTransformation)
        self.preview.setPixmap(pix)

    @Slot()
    def _on_open_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a digit image", "", "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp)")
        if path:
            self.open_image(path)

    def open_image(self, path: str) -> bool:
        """Load an image file as a digit (MNIST-style preprocessing); False + message on error."""
        try:
            x = imaging.load_digit(path)
        except (ValueError, OSError) as exc:
            warn(self, "Could not open image", str(exc))
            return False
        from pathlib import Path

        self.image_source = Path(path).name
        try:
            self.canvas.set_digit(x, emit=True)  # emits digit_changed now, with this source
        finally:
            self.image_source = None
        return True
