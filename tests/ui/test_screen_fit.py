"""The window fits small screens: lecture fonts scale to the screen, the docks share what the
chains leave, and the minimum size of the whole window fits 1280×720 in lecture mode."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication

from ddpm_desktop.ui import screen_fit, theme


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


@pytest.mark.parametrize("theme_name", ["dark", "light"])
@pytest.mark.parametrize("size", [(1280, 720), (1366, 768)])
def test_the_lecture_window_fits_small_screens(qtbot, theme_name, size):
    from ddpm_desktop.ui.main_window import MainWindow

    app = QApplication.instance()
    theme.apply_theme(app, theme_name)
    theme.set_lecture(app, True, QSize(*size))
    try:
        w = MainWindow(load_model=False)
        qtbot.addWidget(w)
        screen_fit.fit_docks(w, QSize(*size))
        hint = w.minimumSizeHint()
        assert hint.width() <= size[0] and hint.height() <= size[1], (hint, size)
        w._show_training()
        assert w.minimumSizeHint().width() <= size[0]
        w.close()
    finally:
        theme.set_lecture(app, False)
        theme.apply_theme(app, "dark")
