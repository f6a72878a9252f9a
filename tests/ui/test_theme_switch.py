"""View → Theme at run time restyles every view, and every colour reads for everyone.

Switching dark → light and light → dark in a built window leaves no plot text (axis ticks and
labels, titles, legend entries, text items) and no label below WCAG AA's 4.5:1 against what
it is drawn on (tests/ui/plot_texts.py walks the window), and no image pane keeps the old
window colour around its image. The class and curve colours stay apart under simulated
colour-vision deficiencies: Machado, Oliveira & Fernandes (2009), "A physiologically-based
model for simulation of color vision deficiency", severity 1.0 matrices on linear sRGB, then
CIE76 ΔE in CIE L*a*b* (D65).
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from ddpm_desktop.render.palette import (CLASS_COLORS_DARK, CLASS_COLORS_LIGHT, DARK_COLORS,
                                         LIGHT_COLORS, dark_palette, light_palette, rgb)
from ddpm_desktop.ui import theme
from ddpm_desktop.ui.main_window import MainWindow
from ddpm_desktop.ui.widgets.chain_view import ImagePane
from plot_texts import contrast, failures, texts

# ----------------------------------------------------------------- colour-vision deficiency

MACHADO = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
_SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805],
                         [0.2126, 0.7152, 0.0722],
                         [0.0193, 0.1192, 0.9505]])
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])

# ΔE (CIE76) every pair of class colours keeps under each simulation; ~2.3 is a just
# noticeable difference. Ten hues cannot stay far apart for a dichromat, so the classes get
# a looser bound than the four curves a plot shows together.
CLASS_MIN_DELTA_E = 6.0
CURVE_MIN_DELTA_E = 10.0


def linear_rgb(color: str) -> np.ndarray:
    v = np.array(rgb(color), dtype=float) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def lab(linear: np.ndarray) -> np.ndarray:
    xyz = _SRGB_TO_XYZ @ np.clip(linear, 0.0, 1.0) / _WHITE_D65
    d = 6 / 29
    f = np.where(xyz > d ** 3, np.cbrt(xyz), xyz / (3 * d * d) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def closest_pair(colors, deficiency: str | None) -> float:
    """The smallest CIE76 ΔE between two of `colors` as seen with `deficiency` (None: normal)."""
    m = np.eye(3) if deficiency is None else MACHADO[deficiency]
    labs = [lab(m @ linear_rgb(c)) for c in colors]
    return min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(labs, 2))


def test_simulation_matches_known_confusions():
    # each matrix keeps greys grey (rows sum to 1)
    for m in MACHADO.values():
        assert m.sum(axis=1) == pytest.approx(np.ones(3), abs=1e-5)
    # red/green collapse for a deuteranope (and less so a protanope) but not a tritanope;
    # blue/green (near the tritan confusion line) the other way round
    red_green, blue_green = ["#d62728", "#2ca02c"], ["#3366ff", "#00cc99"]
    normal = closest_pair(red_green, None)
    assert closest_pair(red_green, "deuteranopia") < 0.1 * normal
    assert closest_pair(red_green, "protanopia") < 0.4 * normal
    assert closest_pair(red_green, "tritanopia") > 0.9 * normal
    assert closest_pair(blue_green, "tritanopia") < 0.4 * closest_pair(blue_green, "deuteranopia")
    assert closest_pair(["#000000", "#ffffff"], None) == pytest.approx(100, abs=0.1)


@pytest.mark.parametrize("deficiency", [None, *MACHADO])
@pytest.mark.parametrize("classes", [CLASS_COLORS_DARK, CLASS_COLORS_LIGHT], ids=["dark", "light"])
def test_class_colours_stay_apart_with_colour_vision_deficiencies(classes, deficiency):
    assert closest_pair(classes, deficiency) >= CLASS_MIN_DELTA_E


@pytest.mark.parametrize("deficiency", [None, *MACHADO])
@pytest.mark.parametrize("colors", [DARK_COLORS, LIGHT_COLORS], ids=["dark", "light"])
def test_curve_colours_stay_apart_with_colour_vision_deficiencies(colors, deficiency):
    # the curves one plot shows together: the KL plot (forward, reverse, N(0, 1), exact) and
    # the histogram with two reverse lanes
    for curves in ((colors.forward, colors.reverse, colors.gaussian, colors.exact),
                   (colors.forward, colors.reverse, colors.reverse_b, colors.gaussian)):
        assert closest_pair(curves, deficiency) >= CURVE_MIN_DELTA_E


@pytest.mark.parametrize("palette", [dark_palette(), light_palette()], ids=["dark", "light"])
def test_palette_text_roles_meet_aa(palette):
    """Captions use the placeholder-text role; the decision readout writes class digits in
    the class colours on the window."""
    window, base = (palette.color(QPalette.ColorRole.Window),
                    palette.color(QPalette.ColorRole.Base))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.PlaceholderText):
        for surface in (window, base):
            assert contrast(palette.color(role), surface) >= 4.5, role
    classes = CLASS_COLORS_DARK if theme.is_dark(palette) else CLASS_COLORS_LIGHT
    colors = DARK_COLORS if theme.is_dark(palette) else LIGHT_COLORS
    for c in classes:
        assert contrast(QColor(c), window) >= 4.5, c
    for role in ("warn", "bad", "good", "muted"):
        assert contrast(QColor(getattr(colors, role)), window) >= 4.5, role


# ----------------------------------------------------------------- the run-time switch


@pytest.fixture
def app_theme():
    """The application, whose look tests/ui/conftest.py restores once the test's windows
    are gone."""
    return QApplication.instance()


def _pane_corners_follow_the_window(window) -> list[str]:
    """An image pane is transparent around its square image: the window shows there."""
    wrong = []
    for pane in window.findChildren(ImagePane):
        if not pane.isVisible() or pane.width() < 8 or pane.height() < 8:
            continue
        expected = pane.palette().color(QPalette.ColorRole.Window).name()
        got = pane.grab().toImage().pixelColor(1, 1).name()
        if got != expected and got != QColor(theme.plot_colors().image_bg).name():
            wrong.append(f"{pane.parentWidget().__class__.__name__}: {got} not {expected}")
    return wrong


@pytest.mark.slow
@pytest.mark.parametrize("start, other, lecture", [("dark", "light", False),
                                                   ("light", "dark", False),
                                                   ("light", "dark", True)])
def test_switching_theme_restyles_every_text_and_border(qtbot, app_theme, start, other,
                                                        lecture):
    theme.apply_theme(app_theme, start)
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    w.resize(1600, 1000)
    w.show()
    qtbot.waitExposed(w)
    if lecture:
        w.set_lecture(True)
    assert len(texts(w)) > 50  # the walk sees the plots' texts
    assert failures(w) == []
    for name in (other, start):
        w.set_theme(name)
        QApplication.processEvents()
        assert failures(w) == [], f"after switching to {name}"
        assert _pane_corners_follow_the_window(w) == [], f"after switching to {name}"
    w.close()


@pytest.mark.slow
def test_the_2d_window_follows_a_theme_switch_and_names_its_controls(qtbot, app_theme):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QWidget

    theme.apply_theme(app_theme, "dark")
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    w.show()
    w.show_toy2d()
    toy = w.toy2d_window
    qtbot.waitExposed(toy)
    assert len(texts(toy)) > 10
    w.set_theme("light")  # from the main window's menu: every open window restyles
    QApplication.processEvents()
    assert failures(toy) == []
    unnamed = [type(c).__name__ for c in toy.findChildren(QWidget)
               if c.isEnabled() and c.focusPolicy() != Qt.FocusPolicy.NoFocus
               and not c.accessibleName().strip()]
    assert unnamed == []
    toy.close()
    w.close()
