"""A grid of completed digits, each with the bundled classifier's reading under it (shared by the
Inpaint and Completions panels). A view: `show_completions(images, captions)` redraws it."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ddpm_desktop.core.classifier import UNSURE_P, reading_text
from ddpm_desktop.core.imaging import to_uint8
from ddpm_desktop.ui.widgets.canvas import gray_qimage

PROB_TIP = ("The bundled classifier's reading of this completion: its most probable class k and "
            "p(k | completion), the softmax of its logits at k; \"not a digit\" when its "
            "activations lie farther from the training digits' than the calibrated threshold "
            f"(core.classifier.DigitReader); \"k?\" and \"unsure\" when p < {UNSURE_P:g}, where "
            "held-out digits are read right only about three times in four.")
NOT_A_DIGIT = "not a digit"
TILE_PX = 56
NEAREST_PX = 28     # the nearest training digit beside a completion, at its own 28 px


class CompletionTile(QWidget):
    """One completion and the classifier's reading under it; beside it, when given, its
    nearest training digit (the copy check)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(1, 1, 1, 1)
        lay.setSpacing(0)
        self.image = QLabel()
        self.image.setFixedSize(TILE_PX, TILE_PX)
        self.nearest = QLabel()
        self.nearest.setFixedSize(NEAREST_PX, NEAREST_PX)
        self.nearest.setToolTip("The nearest training digit to this completion (pixels, L2)")
        self.nearest.setVisible(False)
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setToolTip(PROB_TIP)
        row = QHBoxLayout()
        row.setSpacing(2)
        row.addWidget(self.image)
        row.addWidget(self.nearest, 0, Qt.AlignmentFlag.AlignTop)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addWidget(self.caption)

    def show_nearest(self, image_u8: np.ndarray | None) -> None:
        """The nearest training digit (uint8 [28, 28]) beside the completion; None hides it."""
        self.nearest.setVisible(image_u8 is not None)
        if image_u8 is None:
            self.nearest.clear()
        else:
            self.nearest.setPixmap(QPixmap.fromImage(gray_qimage(image_u8)))

    def show_completion(self, image: np.ndarray, reading: int, probability: float,
                        extra: str = "", digit: bool = True) -> None:
        self.image.setPixmap(QPixmap.fromImage(gray_qimage(to_uint8(image))).scaled(
            TILE_PX, TILE_PX, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.FastTransformation))
        text = f"reads {reading_text(reading, probability, True)}" if digit else NOT_A_DIGIT
        self.caption.setText(text + (f"\n{extra}" if extra else ""))


class CompletionGrid(QWidget):
    """Tiles `columns` wide; `tiles` holds every tile made so far (hidden beyond the count)."""

    def __init__(self, columns: int = 4, tip: str = PROB_TIP, parent=None) -> None:
        super().__init__(parent)
        self.columns, self.tip = columns, tip
        self.layout_ = QGridLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(2)
        self.tiles: list[CompletionTile] = []

    def show_completions(self, images, readings, probabilities, extras=None, digits=None) -> None:
        """images [N, 28, 28] (or None: empty); readings, probabilities [N]; extras [N] str;
        digits [N] bool (None: all digits)."""
        n = 0 if images is None else len(images)
        while len(self.tiles) < n:
            tile = CompletionTile()
            tile.caption.setToolTip(self.tip)
            self.layout_.addWidget(tile, len(self.tiles) // self.columns, len(self.tiles) % self.columns)
            self.tiles.append(tile)
        for i, tile in enumerate(self.tiles):
            tile.setVisible(i < n)
            if i < n:
                tile.show_completion(images[i], int(readings[i]), float(probabilities[i]),
                                     "" if extras is None else extras[i],
                                     True if digits is None else bool(digits[i]))
