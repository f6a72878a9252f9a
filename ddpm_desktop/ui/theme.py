"""Look and feel: Fusion with a dark or light palette, plot colours that follow it.

One place decides colours so every plot reads the same way: the forward chain is blue, the
reverse chain orange, the N(0, 1) reference green, exact/analytic quantities vermillion
(Okabe-Ito colours, distinguishable with the common colour-vision deficiencies).

Every colour the ui draws is a named role of `PlotColors` (`plot_colors(palette)` gives the
dark or the light set; `rgb` / `qcolor` turn a role into numbers or a QColor with alpha);
tests/ui/test_theme.py fails on a colour literal anywhere else in ui/.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QGraphicsItem

THEMES = ("system", "dark", "light")


@dataclass(frozen=True)
class PlotColors:
    """The named colour roles of one theme, each "#rrggbb" (grid_alpha: 0..1).

    Plots
        background, foreground  plot (and exported frame) background; axes, titles, text
        muted                   secondary text: exported axis notes, tick labels
        grid_alpha              opacity of the plot grid
        inset                   the small plots inside an exported frame
        forward, reverse        the forward chain; the reverse chain (reverse_b: its 2nd lane)
        gaussian                the N(0, 1) reference
        exact                   exact / analytic quantities
        floor                   reference lines (the histogram-KL bias floor, log-SNR 0)
        cursor                  the current frame, the selected item
        bar, bar_clipped        histogram bars; bars taller than their axis
        loss, loss_smooth       the training loss per step (drawn translucent) and its EMA
    Status text
        warn, bad, good
    Over images (a digit is white ink on black in every theme, so these read on black)
        image_bg                what an empty image shows (the -1 level: black)
        image_gap               the gap between tiled digits (the dataset browser page)
        outline                 thin frames around images (the canvas, its preview)
        brush, eraser           the canvas brush outline while drawing; while erasing
    """

    background: str
    foreground: str
    muted: str
    grid_alpha: float
    inset: str
    forward: str
    reverse: str
    reverse_b: str
    gaussian: str
    exact: str
    floor: str
    cursor: str
    bar: str
    bar_clipped: str
    loss: str
    loss_smooth: str
    warn: str
    bad: str
    good: str
    image_bg: str
    image_gap: str
    outline: str
    brush: str
    eraser: str


_DARK = PlotColors(
    background="#1e2127", foreground="#c8ccd4", muted="#959aa3", grid_alpha=0.18,
    inset="#282c34",
    forward="#56B4E9", reverse="#E69F00", reverse_b="#CC79A7", gaussian="#3fbf8f",
    exact="#ff7f50", floor="#8a8f98", cursor="#f0e442",
    bar="#5a8cdc", bar_clipped="#96beff", loss="#7896c8", loss_smooth="#E69F00",
    warn="#e0a030", bad="#ff6b5b", good="#3fbf8f",
    image_bg="#000000", image_gap="#2c313a", outline="#5c6370", brush="#78aaff",
    eraser="#ff5050",
)
_LIGHT = PlotColors(
    background="#ffffff", foreground="#30343b", muted="#5f6670", grid_alpha=0.25,
    inset="#f0f1f4",
    forward="#0072B2", reverse="#D55E00", reverse_b="#CC79A7", gaussian="#009E73",
    exact="#D55E00", floor="#7a7f88", cursor="#a87a00",
    bar="#4a7fc8", bar_clipped="#1f4e8c", loss="#4a6fa5", loss_smooth="#D55E00",
    warn="#b86e00", bad="#c0392b", good="#007a55",
    image_bg="#000000", image_gap="#c9ccd1", outline="#8c939d", brush="#78aaff",
    eraser="#ff5050",
)


def rgb(color: str) -> tuple[int, int, int]:
    """"#rrggbb" -> (r, g, b) in 0..255, for numpy fills (no Qt needed)."""
    if not (isinstance(color, str) and len(color) == 7 and color[0] == "#"):
        raise ValueError(f"expected a colour as '#rrggbb', got {color!r}")
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def qcolor(color: str, alpha: int = 255) -> QColor:
    """A role's "#rrggbb" as a QColor with `alpha` (0..255), e.g. a translucent fill."""
    c = QColor(*rgb(color))
    c.setAlpha(int(alpha))
    return c


def _is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def plot_colors(palette: QPalette | None = None) -> PlotColors:
    """The plot colours matching `palette` (default: the application's)."""
    if palette is None:
        app = QGuiApplication.instance()
        palette = app.palette() if app is not None else QPalette()
    return _DARK if _is_dark(palette) else _LIGHT


def dark_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor("#282c34"), QColor("#1e2127"), QColor("#dcdfe4")
    highlight = QColor("#3d7bd9")
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        p.setColor(group, QPalette.ColorRole.Window, window)
        p.setColor(group, QPalette.ColorRole.WindowText, text)
        p.setColor(group, QPalette.ColorRole.Base, base)
        p.setColor(group, QPalette.ColorRole.AlternateBase, QColor("#2c313a"))
        p.setColor(group, QPalette.ColorRole.ToolTipBase, QColor("#3a3f4b"))
        p.setColor(group, QPalette.ColorRole.ToolTipText, text)
        p.setColor(group, QPalette.ColorRole.PlaceholderText, QColor("#7f848e"))
        p.setColor(group, QPalette.ColorRole.Text, text)
        p.setColor(group, QPalette.ColorRole.Button, QColor("#323741"))
        p.setColor(group, QPalette.ColorRole.ButtonText, text)
        p.setColor(group, QPalette.ColorRole.BrightText, QColor("#ff6b5b"))
        p.setColor(group, QPalette.ColorRole.Highlight, highlight)
        p.setColor(group, QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
        p.setColor(group, QPalette.ColorRole.Link, QColor("#61afef"))
        p.setColor(group, QPalette.ColorRole.Light, QColor("#3e4451"))
        p.setColor(group, QPalette.ColorRole.Midlight, QColor("#353b45"))
        p.setColor(group, QPalette.ColorRole.Mid, QColor("#2c313a"))
        p.setColor(group, QPalette.ColorRole.Dark, QColor("#181a1f"))
        p.setColor(group, QPalette.ColorRole.Shadow, QColor("#0e0f12"))
    disabled = QColor("#6b717d")
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Button, QColor("#2c313a"))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Highlight, QColor("#3e4451"))
    return p


def light_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor("#f3f4f6"), QColor("#ffffff"), QColor("#1f2328")
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        p.setColor(group, QPalette.ColorRole.Window, window)
        p.setColor(group, QPalette.ColorRole.WindowText, text)
        p.setColor(group, QPalette.ColorRole.Base, base)
        p.setColor(group, QPalette.ColorRole.AlternateBase, QColor("#f6f8fa"))
        p.setColor(group, QPalette.ColorRole.Text, text)
        p.setColor(group, QPalette.ColorRole.Button, QColor("#e9ebef"))
        p.setColor(group, QPalette.ColorRole.ButtonText, text)
        p.setColor(group, QPalette.ColorRole.Highlight, QColor("#2f6fd6"))
        p.setColor(group, QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
        p.setColor(group, QPalette.ColorRole.ToolTipBase, QColor("#ffffe8"))
        p.setColor(group, QPalette.ColorRole.ToolTipText, text)
        p.setColor(group, QPalette.ColorRole.PlaceholderText, QColor("#8c959f"))
        p.setColor(group, QPalette.ColorRole.Light, QColor("#ffffff"))
        p.setColor(group, QPalette.ColorRole.Midlight, QColor("#e4e6ea"))
        p.setColor(group, QPalette.ColorRole.Mid, QColor("#c9ccd1"))
        p.setColor(group, QPalette.ColorRole.Dark, QColor("#9aa0a6"))
    disabled = QColor("#9aa0a6")
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


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
    change): each view's `_apply_colors`."""
    from PySide6.QtWidgets import QWidget

    for widget in [root] + root.findChildren(QWidget):
        apply = getattr(type(widget), "_apply_colors", None)
        if apply is not None:
            apply(widget)


def apply_theme(app: QApplication, theme: str = "dark") -> str:
    """Fusion style with the palette for `theme` ("system", "dark" or "light").

    "system" keeps the platform palette (Qt 6.5+ follows the OS colour scheme). Returns the
    theme actually applied. pyqtgraph's global defaults follow, so plots made later match;
    plots already on screen restyle through `style_plot` on their palette-change events.
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


# ---- class colours (the decision plot, issue 16; the digits' latent map, issue 14): one line
# colour per digit class 0-9, each at least 3:1 against its theme's plot background (WCAG 1.4.11;
# tests/ui/test_decision_ui.py)
CLASS_COLORS_DARK = ("#5fa8e8", "#ff9f43", "#4cd97b", "#ff6b6b", "#b48cf2",
                     "#d6a37c", "#ff8fd0", "#b0b4ba", "#e0d84a", "#3fd6e0")
CLASS_COLORS_LIGHT = ("#1f67b4", "#d6600a", "#1e8a3a", "#c62828", "#7b4fc0",
                      "#8c564b", "#c2338f", "#666a70", "#8a7d00", "#00838f")


def class_colors(source: "QPalette | PlotColors | None" = None) -> tuple[str, ...]:
    """Ten "#rrggbb" line colours, class k = entry k, for the theme of `source` (a palette, a
    theme's PlotColors, or None for the application's)."""
    colors = source if isinstance(source, PlotColors) else plot_colors(source)
    return CLASS_COLORS_DARK if colors.background == _DARK.background else CLASS_COLORS_LIGHT
