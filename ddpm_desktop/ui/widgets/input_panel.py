"""Where the chains start: the digit x_0 and the starting-noise distribution for x_T.

Hosts the dataset browser and the drawing canvas (widgets/dataset_browser.py, canvas.py) in
tabs, an "Open image…" button (core.imaging.load_digit), the distribution x_T is drawn from
(core.forward.sample_start) with its parameters and seed, and whether the forward chain starts
from the digit or from that noise. Built from an `InputState`; writes the user's choices into
it.

Signals: `error(str)` - a one-line message for a message box.
"""
from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QStyle,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_desktop.core import readout
from ddpm_desktop.core.data import load_bundled_mnist
from ddpm_desktop.core.forward import START_PARAMS, STARTS, start_analytic_kl
from ddpm_desktop.core.imaging import load_digit, to_model_range
from ddpm_desktop.core.readout import format_kl
from ddpm_desktop.ui.help_texts import HELP
from ddpm_desktop.ui.state import InputState
from ddpm_desktop.ui.widgets.canvas import CanvasPanel
from ddpm_desktop.ui.widgets.chain_view import ImagePane
from ddpm_desktop.ui.widgets.dataset_browser import DatasetBrowser
from ddpm_desktop.ui.widgets.plain_text import plain

START_LABELS = {
    "gaussian": "Gaussian N(0, 1)",
    "exponential": "Exponential (rate λ)",
    "uniform": "Uniform [-a, a]",
    "laplace": "Laplace (scale b)",
    "salt_pepper": "Salt and pepper",
    "shifted_gaussian": "Shifted Gaussian N(μ, s²)",
}
PARAM_LABELS = {"rate": "rate λ", "a": "half-width a", "scale": "scale b", "amount": "amount p",
                "value": "value ±v", "mean": "mean μ", "std": "std s"}
PARAM_TIPS = {
    "rate": "Exponential −log(U)/λ: mean 1/λ, density λ e^{−λx} for x ≥ 0 (the poster's λ = 0.5)",
    "a": "Uniform on [−a, a]: variance a²/3 (a = √3 gives variance 1)",
    "scale": "Laplace e^{−|x|/b}/(2b): variance 2b² (b = 1/√2 gives variance 1)",
    "amount": "Salt and pepper: a pixel is +v or −v with probability p/2 each, else 0",
    "value": "Salt and pepper: the magnitude v of a salt or pepper pixel",
    "mean": "Shifted Gaussian N(μ, s²): its mean μ",
    "std": "Shifted Gaussian N(μ, s²): its standard deviation s",
}
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp *.pgm *.ppm);;All files (*)"


_START_KL_TIP = HELP["InputPanel"]["kl_label"][0]  # the formula; the reading adds why


class InputPanel(QWidget):
    error = Signal(str)

    def __init__(self, state: InputState, parent: QWidget | None = None,
                 load_dataset: bool = True) -> None:
        super().__init__(parent)
        self.state = state

        # --- digit sources. A dataset that cannot be read shows its reason inside the browser
        # (DatasetBrowser catches only ValueError / OSError); a bug in either widget raises.
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.browser = DatasetBrowser(load_default=load_dataset, columns=10, rows=6)
        self.browser.digit_selected.connect(self._on_browser_digit_selected)
        self.tabs.addTab(self.browser, "Dataset")
        self.canvas_panel = CanvasPanel()
        self.canvas_panel.digit_changed.connect(self._on_canvas_digit_changed)
        self.tabs.addTab(self.canvas_panel, "Draw")

        self.preview = ImagePane(min_side=56)
        self.preview.setMaximumSize(64, 64)
        self.source_label = QLabel()
        plain(self.source_label)
        self.source_label.setWordWrap(True)
        self.open_button = QPushButton("Open image…")
        self.open_button.setToolTip("Load a digit from an image file (or drop one on the window)")
        digit_row = QHBoxLayout()
        digit_row.addWidget(self.preview)
        info = QVBoxLayout()
        info.addWidget(self.source_label)
        info.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignLeft)
        digit_row.addLayout(info, 1)

        # --- starting noise
        self.start_combo = QComboBox()
        for name in STARTS:
            if name in START_LABELS:
                self.start_combo.addItem(START_LABELS[name], name)
        self.param_spins: dict[str, QDoubleSpinBox] = {}
        self.param_form = QFormLayout()
        for key, label in PARAM_LABELS.items():
            spin = QDoubleSpinBox()
            spin.setDecimals(3)
            spin.setSingleStep(0.1)
            spin.setRange(0.0 if key == "amount" else (-10.0 if key == "mean" else 0.001),
                          1.0 if key == "amount" else 10.0)
            spin.setKeyboardTracking(False)
            spin.setToolTip(PARAM_TIPS[key])
            spin.valueChanged.connect(self._on_param_changed)
            self.param_spins[key] = spin
            self.param_form.addRow(label, spin)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setKeyboardTracking(False)
        self.seed_spin.setToolTip("Seed of the forward chain's noise and of the x_T draw")
        self.seed_button = QToolButton()
        self.seed_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        self.seed_button.setToolTip("New random seed")
        self.kl_label = QLabel()
        self.kl_label.setProperty("role", "caption")
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_spin, 1)
        seed_row.addWidget(self.seed_button)

        self.from_digit = QRadioButton("digit x₀")
        self.from_noise = QRadioButton("the noise above")
        self.from_group = QButtonGroup(self)
        self.from_group.addButton(self.from_digit)
        self.from_group.addButton(self.from_noise)
        from_row = QHBoxLayout()
        from_row.addWidget(self.from_digit)
        from_row.addWidget(self.from_noise)
        from_row.addStretch(1)

        noise_box = QGroupBox("Starting noise x_T")
        noise = QFormLayout(noise_box)
        noise.addRow("Distribution", self.start_combo)
        noise.addRow(self.param_form)
        noise.addRow("Seed", seed_row)
        noise.addRow(self.kl_label)
        noise.addRow("Forward from", from_row)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 4, 2, 4)
        # The tabs take the dock's free height: the Draw tab's canvas grows with it (it was
        # 140 px high at 1400x900 with the free space left empty below the noise box).
        layout.addWidget(self.tabs, 1)
        layout.addLayout(digit_row)
        layout.addWidget(noise_box)

        self.open_button.clicked.connect(self.choose_image)
        self.start_combo.currentIndexChanged.connect(self._on_start_changed)
        self.seed_spin.valueChanged.connect(self._on_seed_changed)
        self.seed_button.clicked.connect(self._on_seed_button_clicked)
        self.from_digit.toggled.connect(self._on_from_toggled)
        state.changed.connect(self._on_state_changed)
        self._on_state_changed("all")

    # ---------------------------------------------------------------- public
    def pick_initial_digit(self) -> None:
        """Select a first digit (the browser's first, else the bundled test set's first)."""
        if self.browser.dataset() is not None and len(self.browser.dataset()):
            self.browser.select(0, emit=True)
            return
        try:
            ds = load_bundled_mnist("test")
            self.state.set_digit(to_model_range(ds.images[0]), f"MNIST test #0 "
                                 f"(label {int(ds.labels[0])})", int(ds.labels[0]))
        except (ValueError, OSError) as exc:
            self.error.emit(f"Could not load the bundled digits: {exc}")

    @Slot()
    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a digit image", "", IMAGE_FILTER)
        if path:
            self.open_image(path)

    def open_image(self, path: str | Path) -> bool:
        """Load a digit with core.imaging.load_digit; errors go to `error`. True on success."""
        try:
            digit = load_digit(path)
        except (ValueError, OSError) as exc:
            self.error.emit(" ".join(str(exc).split()) or f"Could not open {path}")
            return False
        self.state.set_digit(digit, Path(path).name)
        self.state.set_forward_from("digit")
        return True

    # ---------------------------------------------------------------- state -> view
    def _sync_browser(self) -> None:
        """Highlight the browser's digit only while it is x_0: a drawing, an image file or a
        session clears the highlight; a session whose x_0 is a digit of the data set on show
        (same index, same pixels) highlights that one."""
        b, ds = self.browser, self.browser.dataset()
        if ds is None:
            return
        prefix, source = f"{ds.name} #", self.state.digit_source
        index = int(source[len(prefix):]) if source.startswith(prefix) \
            and source[len(prefix):].isdigit() else None
        if index is not None and index == b.selected_index():
            return  # the browser's own choice
        if index is not None and 0 <= index < len(ds) and np.array_equal(
                to_model_range(np.asarray(ds.images[index])).astype(np.float32),
                self.state.digit):
            try:
                b.select_index(index, emit=False)
                return
            except ValueError:  # filtered out of the view
                pass
        b.clear_selection()

    @Slot(str)
    def _on_state_changed(self, what: str) -> None:
        s = self.state
        if what in ("digit", "all"):
            self._sync_browser()
        self.preview.set_image(s.digit)
        label = f" · label {s.digit_label}" if s.digit_label >= 0 else ""
        self.source_label.setText(f"x₀: {s.digit_source}{label}")
        with QSignalBlocker(self.start_combo):
            self.start_combo.setCurrentIndex(max(0, self.start_combo.findData(s.start_name)))
        defaults = START_PARAMS.get(s.start_name, {})
        for key, spin in self.param_spins.items():
            visible = key in defaults
            spin.setVisible(visible)
            self.param_form.labelForField(spin).setVisible(visible)
            if visible:
                with QSignalBlocker(spin):
                    spin.setValue(float(s.start_params.get(key, defaults[key])))
        with QSignalBlocker(self.seed_spin):
            self.seed_spin.setValue(s.seed)
        with QSignalBlocker(self.from_digit), QSignalBlocker(self.from_noise):
            (self.from_digit if s.forward_from == "digit" else self.from_noise).setChecked(True)
        try:
            kl = start_analytic_kl(s.start_name, **s.start_params)  # None: no density
            r = format_kl(math.inf if kl is None else kl, infinite=readout.DISCRETE,
                          infinite_tip=readout.DISCRETE_TIP, unit=" nats/pixel")
        except ValueError as exc:
            r = readout.Readout(readout.UNDEFINED, tooltip=str(exc))
        self.kl_label.setText("exact KL to N(0,1): " + r.text)
        self.kl_label.setToolTip(_START_KL_TIP + ("\n" + r.tooltip if r.tooltip else ""))

    # ---------------------------------------------------------------- view -> state
    @Slot(object, int)
    def _on_browser_digit_selected(self, digit: np.ndarray, label: int) -> None:
        index = self.browser.selected_index()
        name = self.browser.dataset().name
        where = f"{name} #{index}" if index is not None else name
        self._set_digit(digit, where, label)

    @Slot(object)
    def _on_canvas_digit_changed(self, digit: np.ndarray) -> None:
        self._set_digit(digit, self.canvas_panel.image_source or "drawn on the canvas", -1)

    def _set_digit(self, digit, source: str, label: int) -> None:
        try:
            self.state.set_digit(digit, source, label)
            self.state.set_forward_from("digit")
        except ValueError as exc:
            self.error.emit(str(exc))

    @Slot(int)
    def _on_start_changed(self, _index: int) -> None:
        name = self.start_combo.currentData()
        try:
            self.state.set_start(name)  # a new distribution starts from its defaults
        except ValueError as exc:
            self.error.emit(str(exc))

    @Slot(float)
    def _on_param_changed(self, _value: float) -> None:
        name = self.state.start_name
        params = {k: self.param_spins[k].value() for k in START_PARAMS.get(name, {})
                  if k in self.param_spins}
        try:
            self.state.set_start(name, **params)
        except ValueError as exc:
            self._on_state_changed("start")  # revert the fields
            self.error.emit(str(exc))

    @Slot(int)
    def _on_seed_changed(self, seed: int) -> None:
        self.state.set_seed(seed)

    @Slot()
    def _on_seed_button_clicked(self) -> None:
        self.seed_spin.setValue(random.randrange(0, 100_000))

    @Slot(bool)
    def _on_from_toggled(self, digit_checked: bool) -> None:
        self.state.set_forward_from("digit" if digit_checked else "noise")
