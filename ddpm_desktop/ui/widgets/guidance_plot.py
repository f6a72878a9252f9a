"""The guidance trade-off beside the guidance control: the bundled measurements of legibility
and Fréchet distance against w (core.evaluation.load_guidance_sweep), with the current w
marked. A view of SamplerState: it only moves its marker when the settings change.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ddpm_desktop.core.evaluation import GuidancePoint
from ddpm_desktop.ui import theme
from ddpm_desktop.ui.state import SamplerState

LEGIBLE_TARGET = 0.97
FD_RATIO_TARGET = 1.5


class GuidancePlot(QWidget):
    def __init__(self, state: SamplerState, points: list[GuidancePoint],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.points = state, points
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.plot = pg.GraphicsLayoutWidget()
        self.plot.setMinimumHeight(120)
        self.plot.setMaximumHeight(150)
        self.plot.setBackground(None)
        self.acc_plot = self.plot.addPlot(row=0, col=0)
        self.fd_plot = self.plot.addPlot(row=1, col=0)
        self.fd_plot.setXLink(self.acc_plot)
        for p in (self.acc_plot, self.fd_plot):
            p.setMenuEnabled(False)
            p.setMouseEnabled(False, False)
            p.hideButtons()
            p.showGrid(x=True, y=True, alpha=0.2)
        self.acc_plot.setLabel("left", "legible %")
        self.fd_plot.setLabel("left", "FD ÷ floor")
        self.fd_plot.setLabel("bottom", "guidance w")
        self.acc_plot.getAxis("bottom").setStyle(showValues=False)
        cond = [p for p in points if p.guidance > 0]   # w = 0 is unconditional: no label to read
        self.acc_curve = self.acc_plot.plot([p.guidance for p in cond], [100 * p.accuracy for p in cond],
                                            symbol="o", symbolSize=5)
        self.fd_curve = self.fd_plot.plot([p.guidance for p in points], [p.fd_ratio for p in points],
                                          symbol="o", symbolSize=5)
        self.acc_target = pg.InfiniteLine(100 * LEGIBLE_TARGET, angle=0)
        self.fd_target = pg.InfiniteLine(FD_RATIO_TARGET, angle=0)
        self.acc_marker = pg.InfiniteLine(0.0, angle=90)
        self.fd_marker = pg.InfiniteLine(0.0, angle=90)
        for item in (self.acc_target, self.acc_marker):
            self.acc_plot.addItem(item)
        for item in (self.fd_target, self.fd_marker):
            self.fd_plot.addItem(item)
        self._apply_colors()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.plot)
        self._has_points = bool(points)
        state.changed.connect(self._on_settings_changed)
        self._on_settings_changed()

    def _apply_colors(self) -> None:
        c = theme.plot_colors(self.palette())
        self.acc_curve.setPen(theme.pen(c.reverse, 2))
        self.acc_curve.setSymbolBrush(c.reverse)
        self.fd_curve.setPen(theme.pen(c.exact, 2))
        self.fd_curve.setSymbolBrush(c.exact)
        for line in (self.acc_target, self.fd_target):
            line.setPen(theme.pen(c.floor, 1, style=Qt.PenStyle.DashLine))
        for line in (self.acc_marker, self.fd_marker):
            line.setPen(theme.pen(c.cursor, 1.5))
        for p in (self.acc_plot, self.fd_plot):
            theme.style_plot(p, c)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "fd_marker"):
            self._apply_colors()
        super().changeEvent(event)

    @Slot(object)
    def _on_settings_changed(self, *_args) -> None:
        settings = self.state.settings
        # Guidance acts only on class-conditional runs: the plot shows while a class is picked.
        self.setVisible(self._has_points and settings.label is not None)
        w = float(settings.guidance)
        self.acc_marker.setValue(w)
        self.fd_marker.setValue(w)
        near = min(self.points, key=lambda p: abs(p.guidance - w), default=None)
        if near is None:
            return
        at = "" if abs(near.guidance - w) < 1e-9 else f" (nearest measured: w = {near.guidance:g})"
        legible = "" if near.guidance == 0 else f"legible {near.accuracy:.1%}, "
        self.caption.setText(f"w = {w:g}{at}: {legible}"
                             f"FD {near.fd:.2f} = {near.fd_ratio:.2f}× the data floor "
                             f"(n = {near.n}, DPM-Solver++ 20 NFE)")
