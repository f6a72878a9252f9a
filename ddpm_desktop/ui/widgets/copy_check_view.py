"""Does x₀ copy a training digit? The reverse chain's final x₀ beside its nearest training digit,
with d1 and d1/d2 (core.copies). A view of `CopyCheckState` (ui/session_copies.py); its one
intent is `twins_requested` (open the twins view). `finding_text` words one CopyFinding (also for the completions' tiles)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from ddpm_desktop.ui.widgets.canvas import gray_qimage
from ddpm_desktop.ui.widgets.plain_text import plain

COPY_TIP = ("The copy check (core.copies): pixels in [0, 1], x₀ as a 784-vector; d1 = ‖x₀ − x_a‖ "
            "and d2 = ‖x₀ − x_b‖ for its nearest and second-nearest training digits x_a, x_b "
            "among the 9,000 the model was trained on. x₀ copies x_a when d1/d2 < 1/3: it is "
            "more than three times closer to one training digit than to any other (Yoon et al. "
            "2023; Gu et al. 2025). Held-out digits, which no model saw, have d1 ≈ 5.")
IMAGE_PX = 42


def finding_text(finding) -> str:
    """'d1 = 4.91, d1/d2 = 0.87: not a copy' or '... = 0.02: copies training digit #k' (k: the row)."""
    verdict = f"copies training digit #{finding.nearest}" if finding.copy else "not a copy"
    return f"d1 = {finding.d1:.2f}, d1/d2 = {finding.ratio:.2f} (copy if < 1/3): {verdict}"


class CopyCheckView(QWidget):
    twins_requested = Signal()

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.image = QLabel()
        self.image.setFixedSize(IMAGE_PX, IMAGE_PX)
        self.image.setToolTip("The nearest training digit to x₀")
        self.text = QLabel()
        plain(self.text)   # "< 1/3" must not be taken for markup
        self.text.setProperty("role", "value")
        self.text.setWordWrap(True)
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setToolTip(COPY_TIP)
        self.text.setToolTip(COPY_TIP)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 0, 6, 0)
        lay.addWidget(self.image)
        lay.addWidget(self.text, 1)
        self.twins_button = QPushButton("Twins…")
        self.twins_button.setAccessibleName("Open the twins view")
        self.twins_button.setToolTip("Two models trained on disjoint digits, run from the same "
                                     "x_T: do they agree, or does each copy its own set?")
        self.twins_button.clicked.connect(self.twins_requested.emit)
        lay.addWidget(self.twins_button)
        state.changed.connect(self._on_state_changed)
        self._on_state_changed()

    @Slot()
    def _on_state_changed(self) -> None:
        f = self.state.finding
        self.image.setVisible(f is not None)
        if f is None:
            self.image.clear()
            self.text.setText("Copy check: comparing x₀ with the training digits…" if self.state.running
                              else "Copy check: x₀'s nearest training digit, when a chain ends")
            return
        self.image.setPixmap(QPixmap.fromImage(gray_qimage(f.image)).scaled(
            IMAGE_PX, IMAGE_PX, Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.FastTransformation))
        self.text.setText(f"x₀'s nearest training digit: {finding_text(f)}")
