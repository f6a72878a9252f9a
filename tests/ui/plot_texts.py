"""Walk a window for every text it draws and the background it is drawn on (WCAG contrast).

`texts(root)` lists (where, text colour, background colour) for every visible pyqtgraph axis
(tick labels and axis label), title/LabelItem, legend entry and TextItem, and every visible
QLabel with text; `contrast(a, b)` is WCAG 2's ratio of two colours.
"""
from __future__ import annotations

import re

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QWidget

_CSS_COLOR = re.compile(r"(?<![-\w])color\s*:\s*(#[0-9a-fA-F]{6,8}|rgba?\([^)]*\)|[a-z]+)")


_CSS_BACKGROUND = re.compile(r"background(?:-color)?\s*:\s*(#[0-9a-fA-F]{6}|rgba?\([^)]*\))")


def _css_color(spec: str) -> QColor:
    """"#rrggbb", "rgb(r, g, b)" or "rgba(r, g, b, a)" (a in 0..255) as a QColor."""
    if spec.startswith("#"):
        return QColor(spec)
    parts = [float(v) for v in spec[spec.index("(") + 1:-1].split(",")]
    c = QColor(*(int(v) for v in parts[:3]))
    if len(parts) == 4:
        c.setAlpha(int(parts[3]))
    return c


def _luminance(c: QColor) -> float:
    def linear(v):
        v /= 255.0
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(c.red()) + 0.7152 * linear(c.green()) + 0.0722 * linear(c.blue())


def contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((_luminance(QColor(a)), _luminance(QColor(b))), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def over(top: QColor, bottom: QColor) -> QColor:
    """`top` (with its alpha) composited over opaque `bottom`."""
    a = top.alphaF()
    return QColor(round(top.red() * a + bottom.red() * (1 - a)),
                  round(top.green() * a + bottom.green() * (1 - a)),
                  round(top.blue() * a + bottom.blue() * (1 - a)))


def html_colors(html: str) -> list[QColor]:
    out = []
    for spec in _CSS_COLOR.findall(html):
        if spec.startswith("#") and len(spec) == 9:  # Qt's #AARRGGBB
            spec = "#" + spec[3:]
        c = QColor(spec)
        if c.isValid():
            out.append(c)
    return out


def _scene_background(item) -> QColor:
    scene = item.scene()
    views = scene.views() if scene is not None else []
    if not views:
        return QColor("black")
    view = views[0]
    brush = view.backgroundBrush()
    # a transparent view shows the widget behind it
    bg = brush.color() if brush.style() != Qt.BrushStyle.NoBrush \
        else view.palette().color(QPalette.ColorRole.Window)
    # the nearest ViewBox with a background of its own paints under the item
    parent = item.parentItem()
    while parent is not None:
        if isinstance(parent, pg.ViewBox):
            brush = parent.background.brush()
            if parent.background.isVisible() and brush.style() != Qt.BrushStyle.NoBrush and brush.color().alpha():
                bg = over(brush.color(), bg)
            break
        parent = parent.parentItem()
    return bg


def _visible(item) -> bool:
    return item.isVisible() and item.scene() is not None and bool(item.scene().views()) \
        and item.scene().views()[0].isVisible()


def texts(root: QWidget) -> list[tuple[str, QColor, QColor]]:
    """(where, text colour, background) for every visible text drawn under `root`."""
    found = []
    views = [root] + root.findChildren(QWidget)
    seen = set()
    for view in views:
        if not isinstance(view, pg.GraphicsView) or not view.isVisible():
            continue
        for item in view.scene().items():
            if id(item) in seen or not _visible(item):
                continue
            seen.add(id(item))
            where = f"{type(view).__name__}>{type(item).__name__}"
            bg = _scene_background(item)
            if isinstance(item, pg.AxisItem):
                if item.style.get("showValues", True):
                    found.append((where + " ticks", item.textPen().color(), bg))
                if item.label.isVisible() and item.labelText:
                    for c in html_colors(item.label.toHtml()):
                        found.append((f"{where} label {item.labelText!r}", c, bg))
            elif isinstance(item, pg.LabelItem):
                if not item.text:
                    continue
                legend = item.parentItem()
                while legend is not None and not isinstance(legend, pg.LegendItem):
                    legend = legend.parentItem()
                if legend is not None and legend.opts["brush"] is not None:
                    brush = pg.mkBrush(legend.opts["brush"])
                    if brush.style() != Qt.BrushStyle.NoBrush:
                        bg = over(brush.color(), bg)
                for c in html_colors(item.item.toHtml()):
                    found.append((f"{where} {item.text[:30]!r}", c, bg))
            elif isinstance(item, pg.TextItem):
                if item.fill.style() != Qt.BrushStyle.NoBrush:
                    bg = over(item.fill.color(), bg)
                colors = html_colors(item.textItem.toHtml()) or [item.textItem.defaultTextColor()]
                for c in colors:
                    found.append((f"{where} {item.textItem.toPlainText()[:30]!r}", c, bg))
    for label in root.findChildren(QLabel):
        if not label.isVisible() or not label.isEnabled() or not label.text() or label.pixmap() is not None \
                and not label.pixmap().isNull():
            continue
        pal = label.palette()
        behind = label.parentWidget() or label
        bg = behind.palette().color(QPalette.ColorRole.Window)
        sheet = _CSS_BACKGROUND.search(label.styleSheet())
        if sheet:  # a banner: a translucent fill over the window
            bg = over(_css_color(sheet.group(1)), bg)
        where = f"QLabel {label.objectName() or label.text()[:30]!r}"
        colors = [pal.color(label.foregroundRole())] + html_colors(label.text())
        for c in colors:
            found.append((where, c, bg))
    return found


def failures(root: QWidget, minimum: float = 4.5) -> list[str]:
    return [f"{where}: {fg.name()} on {bg.name()} = {contrast(fg, bg):.2f}"
            for where, fg, bg in texts(root) if contrast(fg, bg) < minimum]
