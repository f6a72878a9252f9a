"""The colours of the app and of its exported frames: the theme's named roles and palettes.

Every colour the app or an exported frame draws is a named role of `PlotColors`
(`plot_colors(palette)` gives the dark or the light set; `rgb` / `qcolor` turn a role into
numbers or a QColor with alpha); `dark_palette` / `light_palette` are the two Qt palettes,
`class_colors` one line colour per digit class. QtGui only (no widgets), so the renderer and
the CLI's export share it with the app (ui/theme.py applies it to the application).
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QGuiApplication, QPalette


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


DARK_COLORS = PlotColors(
    background="#1e2127", foreground="#c8ccd4", muted="#959aa3", grid_alpha=0.18,
    inset="#282c34",
    forward="#56B4E9", reverse="#E69F00", reverse_b="#CC79A7", gaussian="#3fbf8f",
    exact="#ff7f50", floor="#8a8f98", cursor="#f0e442",
    bar="#5a8cdc", bar_clipped="#96beff", loss="#7896c8", loss_smooth="#E69F00",
    warn="#e0a030", bad="#ff6b5b", good="#3fbf8f",
    image_bg="#000000", image_gap="#2c313a", outline="#5c6370", brush="#78aaff",
    eraser="#ff5050",
)
LIGHT_COLORS = PlotColors(
    background="#ffffff", foreground="#30343b", muted="#5f6670", grid_alpha=0.25,
    inset="#f0f1f4",
    forward="#0072B2", reverse="#D55E00", reverse_b="#CC79A7", gaussian="#009E73",
    exact="#882255", floor="#7a7f88", cursor="#a87a00",
    bar="#4a7fc8", bar_clipped="#1f4e8c", loss="#4a6fa5", loss_smooth="#D55E00",
    warn="#9a5c00", bad="#c0392b", good="#006b4a",
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


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def plot_colors(palette: QPalette | None = None) -> PlotColors:
    """The plot colours matching `palette` (default: the application's)."""
    if palette is None:
        app = QGuiApplication.instance()
        palette = app.palette() if app is not None else QPalette()
    return DARK_COLORS if is_dark(palette) else LIGHT_COLORS


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
        p.setColor(group, QPalette.ColorRole.PlaceholderText, QColor("#9da3ad"))
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
        p.setColor(group, QPalette.ColorRole.PlaceholderText, QColor("#5f6670"))
        p.setColor(group, QPalette.ColorRole.Light, QColor("#ffffff"))
        p.setColor(group, QPalette.ColorRole.Midlight, QColor("#e4e6ea"))
        p.setColor(group, QPalette.ColorRole.Mid, QColor("#c9ccd1"))
        p.setColor(group, QPalette.ColorRole.Dark, QColor("#9aa0a6"))
    disabled = QColor("#9aa0a6")
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


# Class colours (the decision plot; the digits' latent map): one line colour per digit class
# 0-9, each at least 4.5:1 against its theme's window and plot background (they colour the
# class digits of the decision readout's text; WCAG 1.4.3), and every pair at least ΔE 6 apart
# under simulated protanopia, deuteranopia and tritanopia (tests/ui/test_theme_switch.py)
CLASS_COLORS_DARK = ("#1fb0db", "#ff9f43", "#24a880", "#ff6838", "#cda3f5",
                     "#d6a37c", "#f442ff", "#b0b4ba", "#e0d84a", "#3fd6e0")
CLASS_COLORS_LIGHT = ("#1f67b4", "#695304", "#15601f", "#c62828", "#693799",
                      "#8c564b", "#902683", "#666a70", "#976400", "#006069")


def class_colors(source: "QPalette | PlotColors | None" = None) -> tuple[str, ...]:
    """Ten "#rrggbb" line colours, class k = entry k, for the theme of `source` (a palette, a
    theme's PlotColors, or None for the application's)."""
    colors = source if isinstance(source, PlotColors) else plot_colors(source)
    return CLASS_COLORS_DARK if colors.background == DARK_COLORS.background else CLASS_COLORS_LIGHT
