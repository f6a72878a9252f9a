"""The window fits small screens: lecture fonts scale to the screen, the docks share what the
chains leave, the minimum size of the whole window fits 1280×720 in lecture mode, and so does
the reverse step readout."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QSize, Qt
from PySide6.QtWidgets import QApplication

from ddpm_desktop.ui import screen_fit, theme
from settle import settle


def test_lecture_font_scales_with_the_screen():
    assert theme.lecture_point_size((1920, 1080)) == theme.LECTURE_FONT_PT
    assert theme.lecture_point_size((3840, 2160)) == theme.LECTURE_FONT_PT
    small = theme.lecture_point_size((1280, 720))
    assert theme.LECTURE_MIN_PT <= small < theme.lecture_point_size((1600, 900)) \
        < theme.LECTURE_FONT_PT
    assert theme.lecture_point_size(QSize(1366, 768)) == pytest.approx(
        max(theme.LECTURE_MIN_PT, round(2 * 15 * 768 / 1080) / 2))


def test_dock_caps_keep_the_window_inside():
    assert screen_fit.dock_caps(1920, 560, 420, 360) == (420, 360)  # room for both
    left, right = screen_fit.dock_caps(1280, 560, 440, 360)
    assert left + right + 560 + screen_fit.CHROME <= 1280
    assert left / right == pytest.approx(440 / 360, rel=0.02)


def shows_in_full(label) -> bool:
    """The label's whole text fits its contents rect, laid out as the label lays it out
    (word-wrapped or on one line)."""
    from PySide6.QtCore import Qt

    flags = int(label.alignment().value)
    if label.wordWrap():
        flags |= Qt.TextFlag.TextWordWrap.value
    rect = label.contentsRect()
    need = label.fontMetrics().boundingRect(rect, flags, label.text())
    return need.width() <= rect.width() and need.height() <= rect.height()


# The longest readouts a run shows: compared lanes at T = 1000, an inpainting lane.
RUNS = [[("dpmpp", 999), ("ddpm", 999)], [("inpaint: repaint", 999)], [("ddpm", 1000)]]


def show_runs(w, qtbot):
    """Fill the reverse view with each run of RUNS in turn; yield its visible readouts."""
    from ddpm_desktop.ui.state import Lane

    z = np.zeros((28, 28), np.float32)
    for run in RUNS:
        rs = w.session.reverse
        rs.start([Lane(name, 1000) for name, _ in run])
        for k, (_name, t) in enumerate(run):
            for step in range(3):
                rs.add(k, z, z, t - step, 1000 * step, 1000)
        rs.commit()
        settle()  # the readouts' new text laid out
        rv = w.reverse_view
        yield [rv.nfe_label] + [p.caption for p in rv.lane_panels if p.isVisible()]


@pytest.mark.slow
@pytest.mark.parametrize("theme_name", ["dark", "light"])
@pytest.mark.parametrize("size", [(1280, 720), (1366, 768)])
def test_the_lecture_window_fits_small_screens(qtbot, monkeypatch, theme_name, size):
    from ddpm_desktop.ui.main_window import MainWindow

    app = QApplication.instance()
    theme.apply_theme(app, theme_name)
    theme.set_lecture(app, True, QSize(*size))
    # the window's screen is this size (offscreen's own is 800×800: screen_fit re-fits to it)
    monkeypatch.setattr(screen_fit, "available_size", lambda _window: QSize(*size))
    # tests/ui/conftest.py sets the theme and lecture mode back once the window is gone
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    screen_fit.fit_docks(w, QSize(*size))
    hint = w.minimumSizeHint()
    assert hint.width() <= size[0] and hint.height() <= size[1], (hint, size)
    w._show_training()
    assert w.minimumSizeHint().width() <= size[0]
    # the reverse step readout ("DPM-Solver++(2M)   t = 999   step 2/1000") shows in
    # full on the window at that size: wrapped between fields, never cut
    w.show()
    w.resize(*size)
    qtbot.waitExposed(w)
    for labels in show_runs(w, qtbot):
        assert labels[-1].text().startswith(("DPM", "inpaint", "DDPM"))
        for label in labels:
            assert shows_in_full(label), (label.text(), label.contentsRect(), size)
    w.close()


@pytest.mark.slow
def test_view_lecture_mode_enlarges_a_window_already_shown(qtbot):
    # app.setFont alone left the widgets of a shown window (polished under the application
    # style sheet) at the normal size: only the views that restyle themselves grew
    from ddpm_desktop.ui.main_window import MainWindow

    app = QApplication.instance()
    theme.apply_theme(app, "dark")
    w = MainWindow(load_model=False, load_dataset=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    normal = w.sampler_panel.font().pointSizeF()
    w.menus.lecture_action.trigger()
    big = app.font().pointSizeF()
    assert big >= 1.2 * normal
    for widget in (w.sampler_panel, w.reverse_view.nfe_label, w.input_panel):
        assert widget.font().pointSizeF() == big, widget
    w.menus.lecture_action.trigger()
    assert w.sampler_panel.font().pointSizeF() == normal


def test_a_refit_asked_for_by_a_deleted_window_is_dropped(qtbot):
    """Docks are hidden while a closing window is torn down; the re-fit they ask for must not
    touch the deleted window ("Internal C++ object already deleted" at exit)."""
    from PySide6.QtWidgets import QDockWidget, QMainWindow
    from shiboken6 import delete, isValid

    w = QMainWindow()
    w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, QDockWidget("A"))
    screen_fit._refit_later(w)          # pending on a live window
    qtbot.waitUntil(lambda: w._fit_pending is False, timeout=1000)  # ran: nothing pending
    delete(w)
    assert not isValid(w)
    screen_fit._refit_later(w)          # raised RuntimeError (the timer's deleted context) before
    QCoreApplication.processEvents()    # and nothing was queued that touches it
