"""Look and feel: Fusion with a dark or light palette, plot colours that follow it.

One place decides colours so every plot reads the same way: the forward chain is blue, the
reverse chain orange, the N(0, 1) reference green, exact/analytic quantities vermillion
(Okabe-Ito colours, distinguishable with the common colour-vision deficiencies).

Every colour the ui draws is a named role of `PlotColors` (render/palette.py, shared with the
exported frames: `plot_colors(palette)` gives the dark or the light set; `rgb` / `qcolor` turn
a role into numbers or a QColor with alpha); tests/ui/test_theme.py fails on a colour literal
anywhere else in ui/.
"""
from __future__ import annotations

import dataclasses
import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QApplication, QGraphicsItem

from ddpm_desktop.render.palette import (  # noqa: F401  (the theme's colours, re-exported)
    CLASS_COLORS_DARK, CLASS_COLORS_LIGHT, DARK_COLORS, LIGHT_COLORS, PlotColors, class_colors,
    dark_palette, is_dark, light_palette, plot_colors, qcolor, rgb,
)

THEMES = ("system", "dark", "light")


_STYLESHEET = """
QDockWidget::title { padding: 4px 6px; font-weight: 600; }
QGroupBox { font-weight: 600; margin-top: 1.1em; padding-top: 0.3em; }
QGroupBox::title { subcontrol-origin: margin; left: 6px; padding: 0 3px; }
QLabel[role="value"] { font-family: monospace; }
QLabel[role="caption"] { color: palette(placeholder-text); }
QLabel[role="title"] { font-weight: 600; font-size: 11pt; }
QLabel[role="banner"] { padding: 6px 8px; border-radius: 4px; }
QToolButton { padding: 3px; }
"""


# Lecture mode (`set_lecture`): large fonts and thick lines for a projector. The font is
# LECTURE_FONT_PT on a screen of LECTURE_SCREEN or more and shrinks with a smaller one (never
# under LECTURE_MIN_PT), so the window still fits a 1366×768 or 1280×720 projector.
LECTURE_FONT_PT = 15
LECTURE_MIN_PT = 11
LECTURE_SCREEN = (1920, 1080)
LECTURE_LINE_SCALE = 2.0
_lecture = {"on": False, "base_pt": None, "pt": LECTURE_FONT_PT}


def lecture_point_size(screen_size=None) -> float:
    """The lecture font size for a screen of `screen_size` (a QSize or (w, h) of the available
    area; None: the primary screen's): LECTURE_FONT_PT × min(w/1920, h/1080, 1), rounded to
    half points, at least LECTURE_MIN_PT."""
    if screen_size is None:
        screen = QApplication.primaryScreen() if QApplication.instance() is not None else None
        screen_size = screen.availableGeometry().size() if screen is not None else None
    if screen_size is None:
        return float(LECTURE_FONT_PT)
    w, h = (screen_size.width(), screen_size.height()) if hasattr(screen_size, "width") \
        else screen_size
    if w <= 0 or h <= 0:
        return float(LECTURE_FONT_PT)
    scale = min(w / LECTURE_SCREEN[0], h / LECTURE_SCREEN[1], 1.0)
    return max(float(LECTURE_MIN_PT), round(2 * LECTURE_FONT_PT * scale) / 2)


def lecture_mode() -> bool:
    return _lecture["on"]


def set_lecture(app: QApplication, on: bool, screen_size=None) -> bool:
    """Large fonts (`lecture_point_size(screen_size)`: LECTURE_FONT_PT on a large screen, less
    on a small one) and lines LECTURE_LINE_SCALE times thicker, or back to normal. Views pick
    the pens up when they restyle (`restyle`)."""
    font = app.font()
    if _lecture["base_pt"] is None:
        _lecture["base_pt"] = font.pointSizeF() if font.pointSizeF() > 0 else 9.0
    _lecture["on"] = bool(on)
    # at least 1.2x the normal font, whatever the screen
    _lecture["pt"] = max(lecture_point_size(screen_size), 1.2 * _lecture["base_pt"])
    font.setPointSizeF(_lecture["pt"] if on else _lecture["base_pt"])
    app.setFont(font)
    # With an application style sheet set, widgets already shown keep the font they were
    # polished with (View > Lecture mode changed only the few views that restyle themselves):
    # setting the sheet again re-polishes every widget with the new font.
    if app.styleSheet():
        app.setStyleSheet(app.styleSheet())
    return _lecture["on"]


def pen(color, width: float = 1.0, **kwargs):
    """pg.mkPen with the line width scaled up in lecture mode."""
    scale = LECTURE_LINE_SCALE if _lecture["on"] else 1.0
    return pg.mkPen(color, width=width * scale, **kwargs)


def restyle(root) -> None:
    """Re-apply colours, pens and fonts to every view under `root` (after a theme or lecture
    change): each view's `_apply_colors` (its curves, marks and images), then `restyle_graphics`
    on every plot canvas for what no view owns (pyqtgraph's legends, titles, axes, text items
    and backgrounds, which keep the colours they were made with)."""
    from PySide6.QtWidgets import QWidget

    widgets = [root] + root.findChildren(QWidget)
    for widget in widgets:
        apply = getattr(type(widget), "_apply_colors", None)
        if apply is not None:
            apply(widget)
    colors = plot_colors(root.palette())
    for widget in widgets:
        if isinstance(widget, pg.GraphicsView):
            restyle_graphics(widget, colors)


def _role_map(colors: PlotColors) -> dict[str, str]:
    """"#rrggbb" of a role (or class colour) in the other theme -> the same role in `colors`.
    The text roles come first, so a value two roles share maps as text."""
    other = LIGHT_COLORS if colors is DARK_COLORS else DARK_COLORS
    mapping = {}
    for a, b in zip(class_colors(other), class_colors(colors)):
        mapping[a.lower()] = b
    for field in reversed(dataclasses.fields(PlotColors)):
        value = getattr(other, field.name)
        if isinstance(value, str):
            mapping[value.lower()] = getattr(colors, field.name)
    return mapping


def restyle_graphics(view: pg.GraphicsView, colors: PlotColors | None = None) -> None:
    """Bring one pyqtgraph canvas to `colors`: the background (when it is the theme's), every
    PlotItem (`style_plot`), and every legend entry, title and text item whose colour is the
    pyqtgraph default or a role of the other theme."""
    colors = colors or plot_colors()
    mapping = _role_map(colors)

    def mapped(color: QColor) -> str | None:
        return mapping.get(color.name().lower())

    # the view caches its background (CacheBackground): a transparent one keeps showing the
    # old window colour around the images until the cache is dropped
    view.resetCachedContent()
    if getattr(view, "_background", None) == "default":  # pyqtgraph's configured background
        view.setBackground(colors.background)
    elif view.backgroundBrush().style() != Qt.BrushStyle.NoBrush:
        new = mapped(view.backgroundBrush().color())
        if new is not None:
            view.setBackground(new)
    for item in view.scene().items():
        if isinstance(item, pg.PlotItem):
            style_plot(item, colors)
        elif isinstance(item, pg.LegendItem):
            if item.opts["labelTextColor"] is not None:
                new = mapped(pg.mkColor(item.opts["labelTextColor"]))
                item.setLabelTextColor(new or colors.foreground)
            for _sample, label in item.items:  # setLabelTextColor keeps the old rendering
                label.setText(label.text)
        elif isinstance(item, pg.LabelItem) and item.text:
            color = item.opts.get("color")
            if color is None:  # drawn in pyqtgraph's foreground of the day it was set
                item.setText(item.text)
            else:
                new = mapped(pg.mkColor(color))
                if new is not None:
                    item.setText(item.text, color=new)
        elif isinstance(item, pg.TextItem):
            new = mapped(item.color)
            if new is not None:
                item.setColor(new)
        elif isinstance(item, pg.AxisItem):
            new = mapped(item.textPen().color())
            if new is not None:
                item.setTextPen(pg.mkPen(new))
                item.setPen(pen(new))


def apply_theme(app: QApplication, theme: str = "dark") -> str:
    """Fusion style with the palette for `theme` ("system", "dark" or "light").

    "system" keeps the platform palette (Qt 6.5+ follows the OS colour scheme). Returns the
    theme actually applied. pyqtgraph's global defaults follow, so plots made later match;
    every window already open restyles (`restyle`).
    """
    if theme not in THEMES:
        theme = "dark"
    app.setStyle("Fusion")
    if theme == "dark":
        app.setPalette(dark_palette())
    elif theme == "light":
        app.setPalette(light_palette())
    else:
        scheme = app.styleHints().colorScheme()  # Qt >= 6.5; the project needs 6.8
        if scheme == Qt.ColorScheme.Dark:
            app.setPalette(dark_palette())
        elif scheme == Qt.ColorScheme.Light:
            app.setPalette(light_palette())
        else:
            app.setPalette(app.style().standardPalette())
    app.setStyleSheet(_STYLESHEET)
    colors = plot_colors(app.palette())
    pg.setConfigOptions(background=colors.background, foreground=colors.foreground)
    # every window open now (the main one, the 2-D one, dialogs) takes the new colours
    for window in app.topLevelWidgets():
        restyle(window)
    return theme


_NICE = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k that is >= value (> 0).

    For plot ranges that follow data being dragged: the range, and with it the axis (whose
    redraw costs as much as the rest of a plot), changes only every ~20% instead of every tick.
    """
    if not (value > 0 and math.isfinite(value)):
        return 1.0
    k = math.floor(math.log10(value))
    for m in _NICE:
        top = m * 10.0 ** k
        if top >= value * (1 - 1e-12):
            return top
    return 10.0 ** (k + 1)


def held_range(current: tuple[float, float] | None, lo: float, hi: float,
               fresh: tuple[float, float], fill: float = 0.6) -> tuple[float, float]:
    """A plot range with hysteresis: `current` while it still holds the data [lo, hi] and the
    data spans at least `fill` of it, else `fresh` (the coarse-stepped range for the data now).
    Without it, data moving back and forth across a step boundary (a slider wiggled by one
    tick) re-ranges, and redraws the axis, on every move."""
    if current is not None:
        c_lo, c_hi = current
        if c_lo <= lo and hi <= c_hi and (hi - lo) >= fill * (c_hi - c_lo):
            return current
    return fresh


def cache_rendering(*items) -> None:
    """Keep each item's rendering in a pixmap (QGraphicsItem.DeviceCoordinateCache) so that
    repainting a region it overlaps - a moving cursor, a histogram redrawn over the grid - blits
    the pixmap instead of replaying its drawing. Only for items that change rarely: any update
    of the item itself re-renders its cache. For a PlotDataItem, its curve and symbols."""
    mode = QGraphicsItem.CacheMode.DeviceCoordinateCache
    for item in items:
        if isinstance(item, pg.PlotDataItem):
            item.curve.setCacheMode(mode)
            item.scatter.setCacheMode(mode)
        else:
            item.setCacheMode(mode)


def style_plot(plot: pg.PlotWidget | pg.PlotItem, colors: PlotColors | None = None) -> None:
    """Background, axis and grid colours of one plot from the current palette."""
    colors = colors or plot_colors()
    item = plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot
    if isinstance(plot, pg.PlotWidget):
        plot.setBackground(colors.background)
    tick_font = QFont()
    if _lecture["on"]:
        tick_font.setPointSizeF(_lecture["pt"] - 2)
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(pen(colors.foreground))
        axis.setTextPen(pg.mkPen(colors.foreground))
        axis.setStyle(tickFont=tick_font)
        cache_rendering(axis)
    item.showGrid(x=True, y=True, alpha=colors.grid_alpha)
    title = item.titleLabel
    if title is not None and title.text:
        title.setText(title.text, color=colors.foreground)


def banner_style(level: str, colors: PlotColors | None = None) -> str:
    """Stylesheet for a warning/ok banner label: level is "ok", "warn" or "bad"."""
    colors = colors or plot_colors()
    fg = {"ok": colors.good, "warn": colors.warn, "bad": colors.bad}.get(level, colors.foreground)
    bg = QColor(fg)
    bg.setAlpha(40)
    return (f"color: {fg}; background-color: rgba({bg.red()},{bg.green()},{bg.blue()},{bg.alpha()});"
            f" border: 1px solid {fg}; border-radius: 4px; padding: 4px 6px;")
