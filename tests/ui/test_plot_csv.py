"""Right-click > Save data as CSV… on every plot of the window: the file read back holds the
arrays the plot shows, under headers naming the quantities."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication

from ddpm_desktop.core.table import csv_text, read_csv
from ddpm_desktop.ui.plot_csv import ACTION_TEXT, plot_columns, save_plot_csv


@pytest.fixture
def window(qtbot):
    from ddpm_desktop.ui.main_window import MainWindow

    w = MainWindow(load_model=False, load_dataset=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def test_every_plot_of_the_window_offers_csv(window, qtbot, monkeypatch):
    plots = window.findChildren(pg.PlotWidget)
    assert len(plots) >= 6  # histogram, KL, β, ᾱ, log-SNR, loss, ...
    for plot in plots:
        assert plot.csv_action.text() == ACTION_TEXT
    # a right-click on the histogram's viewport opens the menu with the action
    shown = []
    monkeypatch.setattr("ddpm_desktop.ui.plot_csv.exec_menu",
                        lambda menu, pos: shown.append([x.text() for x in menu.actions()]))
    view = window.histogram_view.hist_plot
    QApplication.sendEvent(view.viewport(), QContextMenuEvent(
        QContextMenuEvent.Reason.Mouse, QPoint(20, 20), view.viewport().mapToGlobal(QPoint(20, 20))))
    assert shown == [[ACTION_TEXT]]


@pytest.mark.slow
def test_the_kl_plot_reads_back_as_plotted(window, tmp_path):
    window.session.forward.set_frame(123)
    h = window.histogram_view
    path = save_plot_csv(h.kl_plot, tmp_path / "kl.csv")
    data = read_csv(path)
    x_hist, y_hist = h.kl_hist_curve.xData, h.kl_hist_curve.yData
    np.testing.assert_array_equal(data["histogram (poster's): t"], x_hist)
    np.testing.assert_array_equal(data["histogram (poster's): nats"], y_hist)
    bound = data["bound: mean KL q(x_t|x₀): nats"]
    np.testing.assert_array_equal(bound, h.kl_bound_curve.yData)
    # the values, not their log10 (the axis is logarithmic)
    assert bound.max() > 1.0


@pytest.mark.slow
def test_the_histogram_keeps_its_bin_edges_and_the_schedule_its_values(window, tmp_path):
    h = window.histogram_view
    data = read_csv(save_plot_csv(h.hist_plot, tmp_path / "h.csv"))
    edges = data["forward x_t: pixel value (bin edges)"]
    density = data["forward x_t: density"]
    assert len(edges) == len(density) + 1
    np.testing.assert_array_equal(density, h.forward_hist.yData)
    beta = window.schedule_panel.beta_plot
    cols = dict(plot_columns(beta))
    ys = [v for k, v in cols.items() if k.endswith("β_t")]
    np.testing.assert_allclose(ys[0], window.session.schedule.betas, rtol=0, atol=0)


def test_a_plot_without_data_says_so(qtbot, tmp_path):
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    with pytest.raises(ValueError, match="no data"):
        save_plot_csv(plot, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_csv_text_pads_short_columns_and_round_trips_floats(tmp_path):
    a, b = np.array([0.1, 1 / 3, np.inf]), np.array([np.nan, 2.0])
    text = csv_text([("a (x)", a), ("b, with comma", b)])
    assert text.splitlines()[0] == 'a (x),"b, with comma"'
    (tmp_path / "t.csv").write_text(text, encoding="utf-8")
    back = read_csv(tmp_path / "t.csv")
    np.testing.assert_array_equal(back["a (x)"], a)
    np.testing.assert_array_equal(back["b, with comma"], b)
