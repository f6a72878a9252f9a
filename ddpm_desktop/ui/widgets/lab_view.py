"""The generalisation lab, in the Training panel: how the copy fraction and the classifier's
accuracy of a model's samples grow over training, one curve per training-set size (Bonnaire et
al. 2025: with few digits copying starts early; with many, good samples come long before it).

A view of `LabState` (ui/lab_state.py): the shipped curves and a run made here, redrawn when
the state changes. Its intents: `size_chosen(int)`, `run_requested()`, `stop_requested()`.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSignalBlocker, Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ddpm_desktop.core.generalisation import LAB_SIZES
from ddpm_desktop.ui import theme
from ddpm_desktop.ui.lab_state import LabState, size_text
from ddpm_desktop.ui.widgets.plain_text import plain

PLOT_MIN_HEIGHT = 110
F_MEM_TIP = ("The copy fraction f_mem = (1/n) Σᵢ 1[d1ᵢ/d2ᵢ < 1/3] of n = 100 guided samples "
             "(classes 0-9 in turn, one fixed x_T, the EMA weights at that step): d1, d2 are a "
             "sample's distances to its nearest and second-nearest training digit among all "
             "9,000 (pixels in [0, 1]). The band is its 95% bootstrap interval.")
ACCURACY_TIP = ("The classifier's accuracy: the share of the same samples the bundled "
                "classifier reads as a digit of the class asked for.")
LAB_TIP = ("Train the U-Net on the chosen number of training digits (the same recipe and seed "
           "for every size) and measure both numbers every 250 steps. On one CPU thread a "
           "run of 2,000 steps takes tens of minutes; Stop keeps the points so far.")


def _plot(left: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setLabel("left", left)
    plot.setLabel("bottom", "training step")
    plot.setMouseEnabled(x=False, y=False)
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.setYRange(0.0, 1.0, padding=0.05)
    plot.setMinimumHeight(PLOT_MIN_HEIGHT)
    return plot


class LabView(QWidget):
    size_chosen = Signal(int)
    run_requested = Signal()
    stop_requested = Signal()

    def __init__(self, state: LabState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.size_combo = QComboBox()
        for size in LAB_SIZES:
            self.size_combo.addItem(size_text(size), size)
        self.size_combo.setAccessibleName("Training-set size of the lab's run")
        self.size_combo.setToolTip("How many training digits the lab's model trains on")
        self.run_button = QPushButton("Run the lab")
        self.run_button.setAccessibleName("Run the generalisation lab")
        self.run_button.setToolTip(LAB_TIP)
        train_on = QLabel("Train on")
        train_on.setBuddy(self.size_combo)
        controls = QHBoxLayout()
        controls.addWidget(train_on)
        controls.addWidget(self.size_combo, 1)
        controls.addWidget(self.run_button)
        self.status = QLabel()
        plain(self.status)
        self.status.setWordWrap(True)
        self.status.setProperty("role", "caption")
        self.f_mem_plot = _plot("copy fraction f_mem")
        self.f_mem_plot.setToolTip(F_MEM_TIP)
        self.accuracy_plot = _plot("classifier accuracy")
        self.accuracy_plot.setToolTip(ACCURACY_TIP)
        self.accuracy_plot.setXLink(self.f_mem_plot)
        plots = QHBoxLayout()
        plots.setSpacing(4)
        plots.addWidget(self.f_mem_plot)
        plots.addWidget(self.accuracy_plot)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)  # the app's own words and colours
        self.legend.setWordWrap(True)
        self.legend.setToolTip("One curve per training-set size; dashed: the run made here")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addLayout(plots, 1)
        layout.addWidget(self.legend)
        self._styled = False
        self.size_combo.currentIndexChanged.connect(
            lambda _i: self.size_chosen.emit(int(self.size_combo.currentData())))
        self.run_button.clicked.connect(self._on_run_clicked)
        state.changed.connect(self._on_state_changed)
        self._on_state_changed()

    def _apply_colors(self) -> None:
        """The curves in the theme's colours (theme.restyle calls it after a switch)."""
        self._draw()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange and self._styled:
            self._apply_colors()
        super().changeEvent(event)

    @Slot()
    def _on_run_clicked(self) -> None:
        (self.stop_requested if self.state.running else self.run_requested).emit()

    def _color(self, size: int, colors) -> str:
        palette = theme.class_colors(colors)
        index = LAB_SIZES.index(size) if size in LAB_SIZES else len(LAB_SIZES)
        return palette[index % len(palette)]

    @Slot()
    def _on_state_changed(self) -> None:
        st = self.state
        with QSignalBlocker(self.size_combo):
            self.size_combo.setCurrentIndex(max(0, self.size_combo.findData(st.size)))
        self.size_combo.setEnabled(not st.running)
        self.run_button.setText("Stop the lab" if st.running else "Run the lab")
        self.status.setText(st.message or st.shipped_note or
                            "Measured curves: the copy fraction rises early and high with few "
                            "digits; with 1,024 or 4,500 none copy while accuracy climbs.")
        self._draw()

    def _draw(self) -> None:
        colors = theme.plot_colors(self.palette())
        self._styled = True
        self.curves = {}  # (size, live) -> (f_mem item, accuracy item)
        for plot in (self.f_mem_plot, self.accuracy_plot):
            plot.clear()
            theme.style_plot(plot, colors)
        st = self.state
        legend = []
        sizes = [c.size for c in st.shipped]
        for curve in [*st.shipped, *([st.live] if st.live is not None else [])]:
            color = self._color(curve.size, colors)
            style = Qt.PenStyle.DashLine if curve.live else Qt.PenStyle.SolidLine
            line = theme.pen(color, 2.5 if curve.live else 1.8, style=style)
            name = size_text(curve.size) + (
                " (this run)" if curve.live
                else f" ({curve.name})" if sizes.count(curve.size) > 1 and curve.name else "")
            legend.append(f'<span style="color:{color}">■</span> {name}')
            if not curve.steps:  # a run before its first point
                continue
            lo = pg.PlotCurveItem(curve.steps, curve.lo, pen=theme.pen(color, 0.5))
            hi = pg.PlotCurveItem(curve.steps, curve.hi, pen=theme.pen(color, 0.5))
            self.f_mem_plot.addItem(pg.FillBetweenItem(lo, hi, brush=theme.qcolor(color, 50)))
            f = self.f_mem_plot.plot(curve.steps, curve.f_mem, pen=line, symbol="o",
                                     symbolSize=4, symbolBrush=color, symbolPen=None)
            a = self.accuracy_plot.plot(curve.steps, curve.accuracy, pen=line, symbol="o",
                                        symbolSize=4, symbolBrush=color, symbolPen=None)
            self.curves.setdefault((curve.size, curve.live), (f, a))
        self.legend.setText("  ".join(legend) or "No curves yet")
