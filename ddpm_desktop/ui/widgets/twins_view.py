"""Two models, one x_T: the twins (or the few-digit pair) side by side, each sample beside its
nearest training digit, with the distances. A view of `TwinsState` (ui/twins_state.py); it
emits the user's intent (pair, seed, label, number of pairs, run) and starts nothing."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from ddpm_desktop.core.imaging import to_uint8
from ddpm_desktop.ui.twins_state import MAX_TWIN_PAIRS, TWIN_LABELS
from ddpm_desktop.ui.widgets.canvas_raster import gray_qimage
from ddpm_desktop.ui.widgets.plain_text import plain

IMAGE_PX = 64
PAIR_TEXTS = {"twin": "twin-a and twin-b (disjoint halves, 4,500 digits each)",
              "few": "few-a and few-b (disjoint sets of 64 digits each)"}
WHAT_IT_SHOWS = ("Same noise x_T, two models trained on disjoint training digits. Models that "
                 "generalise agree with each other: the two samples are nearly the same digit, "
                 "and each is far from its nearest training digit (d(a, b) < d1). Models that copy "
                 "each return a digit of their own training set: the samples differ and d1 ≈ 0 "
                 "(Kadkhodaie et al. 2024).")
D_AB_TIP = ("d(a, b) = ‖x₀ᵃ − x₀ᵇ‖: the distance between the two models' samples from the same "
            "x_T, pixels in [0, 1], over the 784 pixels. Two unrelated digits are about 9 apart, "
            "a digit and a slight variation of it about 3.")
D1_TIP = ("d1 = ‖x₀ − x_nearest‖: the sample's distance to its nearest training digit among the "
          "9,000 (pixels in [0, 1]); d1/d2 < 1/3, with d2 the second nearest, counts as a copy "
          "(core.copies). Held-out digits, which no model saw, have d1 ≈ 5.")
OWN_TIP = ("'own set': the nearest training digit is one this model was trained on (from the "
           "subset in its checkpoint); 'other set': it is one only the other model saw.")
SUMMARY_TIP = ("The medians over the pairs of d(a, b) = ‖x₀ᵃ − x₀ᵇ‖ and of each model's d1 = "
               "‖x₀ − x_nearest‖ (pixels in [0, 1]), and how many samples copy (d1/d2 < 1/3).")


def _pixmap(u8) -> QPixmap:
    return QPixmap.fromImage(gray_qimage(u8)).scaled(
        IMAGE_PX, IMAGE_PX, Qt.AspectRatioMode.IgnoreAspectRatio,
        Qt.TransformationMode.FastTransformation)


def side_text(name: str, d1: float, ratio: float, copy: bool, own) -> str:
    """'d1(twin-a) = 4.91, d1/d2 = 0.87' plus 'copies (own set)' when it copies."""
    text = f"d1({name}) = {d1:.2f}, d1/d2 = {ratio:.2f}"
    if copy:
        text += ": copies" + ("" if own is None else " (own set)" if own else " (other set)")
    return text


class TwinsView(QWidget):
    pair_chosen = Signal(str)
    seed_changed = Signal(int)
    label_chosen = Signal(str)
    n_changed = Signal(int)
    run_requested = Signal()

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Twins: one x_T, two models")
        self.pair_combo = QComboBox()
        for key, text in PAIR_TEXTS.items():
            self.pair_combo.addItem(text, key)
        self.pair_combo.setAccessibleName("Pair of models")
        self.pair_combo.setToolTip("Which two models run from the same x_T")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setAccessibleName("Seed of x_T")
        self.seed_spin.setToolTip("The seed of the shared x_T ~ N(0, I)")
        self.label_combo = QComboBox()
        for label in TWIN_LABELS:
            self.label_combo.addItem({"all": "0-9 in turn", "none": "none (unconditional)"}
                                     .get(label, label), label)
        self.label_combo.setAccessibleName("Class asked for")
        self.label_combo.setToolTip("The class both models are asked for (classifier-free "
                                    "guidance, w as the Sampler panel's default)")
        self.n_spin = QSpinBox()
        self.n_spin.setRange(1, MAX_TWIN_PAIRS)
        self.n_spin.setAccessibleName("Number of pairs")
        self.n_spin.setToolTip("How many x_T to run both models from")
        self.run_button = QPushButton("&Run both models")
        self.run_button.setAccessibleName("Run both models from the same x_T")
        self.run_button.setToolTip("Sample both models from the same x_T (DPM-Solver++, 20 "
                                   "steps) and find each sample's nearest training digit")
        # two rows, so the window fits an 800-pixel screen: the pair, then the rest
        for combo in (self.pair_combo, self.label_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        controls = QVBoxLayout()
        rows = (QHBoxLayout(), QHBoxLayout())
        for row, text, w in ((0, "Models", self.pair_combo), (1, "Seed", self.seed_spin),
                             (1, "Class", self.label_combo), (1, "Pairs", self.n_spin)):
            label = QLabel(text)
            label.setBuddy(w)
            rows[row].addWidget(label)
            rows[row].addWidget(w, 1 if w is self.pair_combo else 0)
        rows[1].addStretch(1)
        rows[1].addWidget(self.run_button)
        for row in rows:
            controls.addLayout(row)
        self.explain = QLabel(WHAT_IT_SHOWS)
        self.explain.setWordWrap(True)
        plain(self.explain)
        self.summary = QLabel()
        plain(self.summary)
        self.summary.setWordWrap(True)
        self.summary.setProperty("role", "value")
        self.summary.setToolTip(SUMMARY_TIP)
        self.summary.setAccessibleName("Twins summary")
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll_body = QWidget()
        body = QVBoxLayout(scroll_body)
        body.addWidget(self.grid_host)
        body.addStretch(1)  # the rows stay at the top, at their own height
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(scroll_body)
        lay = QVBoxLayout(self)
        lay.addLayout(controls)
        lay.addWidget(self.explain)
        lay.addWidget(self.summary)
        lay.addWidget(scroll, 1)
        self.rows: list[dict] = []

        self.pair_combo.currentIndexChanged.connect(
            lambda _i: self.pair_chosen.emit(self.pair_combo.currentData()))
        self.seed_spin.valueChanged.connect(self.seed_changed.emit)
        self.label_combo.currentIndexChanged.connect(
            lambda _i: self.label_chosen.emit(self.label_combo.currentData()))
        self.n_spin.valueChanged.connect(self.n_changed.emit)
        self.run_button.clicked.connect(self.run_requested.emit)
        state.settings_changed.connect(self._on_settings_changed)
        state.changed.connect(self._on_state_changed)
        self._on_settings_changed()
        self._on_state_changed()

    @Slot()
    def _on_settings_changed(self) -> None:
        s = self.state.settings
        for w, value in ((self.pair_combo, s.pair), (self.label_combo, s.label)):
            w.blockSignals(True)
            w.setCurrentIndex(max(0, w.findData(value)))
            w.blockSignals(False)
        for w, value in ((self.seed_spin, s.seed), (self.n_spin, s.n)):
            w.blockSignals(True)
            w.setValue(int(value))
            w.blockSignals(False)

    def _clear_rows(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.rows = []

    @Slot()
    def _on_state_changed(self) -> None:
        st = self.state
        self.run_button.setEnabled(not st.running)
        r = st.result
        if r is None:
            self._clear_rows()
            if st.message:
                text = f"Could not run the pair: {st.message}"
            elif st.running:
                text = "Running both models…"
            else:
                text = "Press Run to draw both models' samples from the same x_T."
            self.summary.setText(text)
            return
        s = r.pairs.summary()
        a, b = r.models
        self.summary.setText(
            f"median d(a, b) = {s['median_d_ab']:.2f}; median d1({a}) = {s['median_d1_a']:.2f}, "
            f"median d1({b}) = {s['median_d1_b']:.2f}; copies: {s['copies_a']} of {s['n']} "
            f"({a}), {s['copies_b']} of {s['n']} ({b})")
        self._fill(r)

    def _fill(self, r) -> None:
        self._clear_rows()
        a, b = r.models
        heads = (f"{a}", f"{a}'s nearest training digit", f"{b}", f"{b}'s nearest training digit",
                 "distances (pixels in [0, 1])")
        for col, text in enumerate(heads):
            head = QLabel(text)
            if col < 4:  # an image's column is as wide as the image and a little more
                head.setWordWrap(True)
                head.setMaximumWidth(IMAGE_PX + 40)
            plain(head)
            self.grid.addWidget(head, 0, col)
        p = r.pairs
        for i in range(len(p)):
            row = {}
            for col, (key, u8, tip) in enumerate((
                    ("a", to_uint8(p.a[i]), f"{a}'s sample from x_T #{i + 1}"),
                    ("nearest_a", r.nearest_a[i], f"the training digit nearest to {a}'s sample"),
                    ("b", to_uint8(p.b[i]), f"{b}'s sample from the same x_T"),
                    ("nearest_b", r.nearest_b[i], f"the training digit nearest to {b}'s sample"))):
                img = QLabel()
                img.setFixedSize(IMAGE_PX, IMAGE_PX)
                img.setPixmap(_pixmap(u8))
                img.setToolTip(tip)
                img.setAccessibleName(tip)
                self.grid.addWidget(img, i + 1, col)
                row[key] = img
            numbers = QVBoxLayout()
            asked = "" if p.labels[i] < 0 else f"class asked for: {p.labels[i]}"
            for key, text, tip in (
                    ("d_ab", f"d(a, b) = {p.distance[i]:.2f}", D_AB_TIP),
                    ("d1_a", side_text(a, p.nearest_a.d1[i], p.nearest_a.ratio[i],
                                       bool(p.nearest_a.copies[i]),
                                       None if p.own_a is None else bool(p.own_a[i])), D1_TIP),
                    ("d1_b", side_text(b, p.nearest_b.d1[i], p.nearest_b.ratio[i],
                                       bool(p.nearest_b.copies[i]),
                                       None if p.own_b is None else bool(p.own_b[i])), D1_TIP)):
                label = QLabel(text)
                plain(label)
                label.setProperty("role", "value")
                label.setToolTip(tip + (" " + OWN_TIP if key != "d_ab" else ""))
                label.setAccessibleName(text)
                numbers.addWidget(label)
                row[key] = label
            if asked:
                note = QLabel(asked)
                note.setToolTip("Both models were asked for this class (classifier-free guidance)")
                numbers.addWidget(note)
            box = QWidget()
            box.setLayout(numbers)
            self.grid.addWidget(box, i + 1, 4)
            self.rows.append(row)
        self.grid.setColumnStretch(4, 1)
