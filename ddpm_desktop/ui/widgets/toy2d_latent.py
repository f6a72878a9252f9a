"""The digits' latent map in the 2-D window: the class to sample, the particles decoded into
digits beside the plot (live while sampling, then at the step shown), and the digit of a
clicked map point.

A view of the session's Toy2DState (`decoded`, `decoded_t`, `decoded_image`, `decoded_point`,
`latent_label`, `is_latent`); it emits `label_chosen(int)` (-1: all classes) and starts
nothing. The decoding itself is core.latent's, run by the session (its worker while sampling).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from ddpm_desktop.core.imaging import make_grid, upscale
from ddpm_desktop.ui import theme

GRID_COLUMNS = 5
GRID_SCALE = 2
POINT_SCALE = 3


def _pixmap(gray: np.ndarray) -> QPixmap:
    """A QPixmap of a uint8 [H, W] grey image (copied: the array may go)."""
    a = np.ascontiguousarray(gray, dtype=np.uint8)
    h, w = a.shape
    return QPixmap.fromImage(QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy())


class LatentPanel(QWidget):
    """See the module docstring."""

    label_chosen = Signal(int)

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.class_combo = QComboBox()
        self.class_combo.addItem("All (0-9 cycled)", -1)
        for k in range(10):
            self.class_combo.addItem(f"Digit {k}", k)
        self.class_combo.setToolTip("The class y the latent model samples, with classifier-free "
                                    "guidance ε̂ = ε̂_∅ + w (ε̂_y − ε̂_∅), w = 2; all: particle i "
                                    "gets class i mod 10")
        self.grid_label = QLabel()
        self.grid_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grid_label.setToolTip("The first 10 particles z_t decoded, D(z_t), at the step "
                                   "shown (live while sampling)")
        self.grid_info = QLabel()
        self.grid_info.setWordWrap(True)
        self.grid_info.setToolTip("Which particles are decoded and at which step t")
        self.point_label = QLabel()
        self.point_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.point_label.setToolTip("D(z): the digit the decoder makes of the clicked point z "
                                    "of the map (Mouse: Decode a point)")
        self.point_info = QLabel()
        self.point_info.setWordWrap(True)
        self.point_info.setToolTip("The clicked point z = (z₁, z₂) of the latent map")
        form = QFormLayout()
        form.addRow("Class", self.class_combo)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(form)
        lay.addWidget(self.grid_info)
        lay.addWidget(self.grid_label)
        lay.addWidget(self.point_info)
        lay.addWidget(self.point_label)
        lay.addStretch(1)
        self.class_combo.activated.connect(
            lambda _i: self.label_chosen.emit(int(self.class_combo.currentData())))
        state.decoded_changed.connect(self._on_decoded_changed)
        state.data_changed.connect(self._on_decoded_changed)
        state.mixture_changed.connect(self._on_decoded_changed)
        self._on_decoded_changed()

    @Slot()
    def _on_decoded_changed(self) -> None:
        s = self.state
        self.setVisible(s.is_latent)
        with QSignalBlocker(self.class_combo):
            self.class_combo.setCurrentIndex(0 if s.latent_label is None else s.latent_label + 1)
        fill = theme.rgb(theme.plot_colors(self.palette()).image_gap)[0]
        if s.decoded is not None and len(s.decoded):
            grid = make_grid(s.decoded, nrow=GRID_COLUMNS, pad=1, pad_value=fill)
            pix = _pixmap(upscale(grid, GRID_SCALE))
            self.grid_label.setPixmap(pix)
            self.grid_label.setMinimumSize(pix.size())   # the whole grid, never cropped
            asked = "" if s.sample_labels is None else \
                ", asked classes " + " ".join(str(int(k)) for k in s.sample_labels[:GRID_COLUMNS])
            self.grid_info.setText(f"Decoded particles D(z_t) at t = {s.decoded_t}{asked}"
                                   f"{'…' if asked else ''}")
        else:
            self.grid_label.clear()
            self.grid_info.setText("Decoded particles: press Sample")
        if s.decoded_image is not None and s.decoded_point is not None:
            self.point_label.setPixmap(_pixmap(upscale(s.decoded_image, POINT_SCALE)))
            x, y = s.decoded_point
            self.point_info.setText(f"Clicked z = ({x:.2f}, {y:.2f}) decodes to:")
        else:
            self.point_label.clear()
            self.point_info.setText("Click the map (Mouse: Decode a point) to see its digit")
