"""Fit the main window to the screen it is on: `fit_docks(window, available=None)`.

The window's minimum width is the left dock's + the centre's + the right dock's. Each dock is a
scroll area as wide as its panel needs, up to the width main_window gives it (DOCK_WIDTHS);
on a small screen (1366×768, 1280×720) and in lecture mode those together overflow. Here the
docks share what the centre (the two chains, which never scroll) leaves of the available
width: the left dock LEFT_SHARE of it, the right ones the rest, each at most its own width
(or WIDE_DOCK_SHARE of a wide screen) and at least MIN_DOCK_WIDTH; a panel wider than its dock
scrolls sideways inside it instead of pushing the window off the screen. Called when the window
is built and after every font change (lecture mode, theme). Plots with axes keep at least
MIN_PLOT_HEIGHT (`floor_plot_heights`); a first window takes the screen's room and every
dialog fits it (`fit_window`).
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QDockWidget, QFormLayout, QScrollArea, QWidget

# The widest each dock gets (what window_layout.add_dock was given), by object name.
DOCK_WIDTHS = {"InputDock": 440, "LessonDock": 440}
DEFAULT_DOCK_WIDTH = 360
MIN_DOCK_WIDTH = 240
# On a wide screen a dock may take up to this share of it (lecture fonts widen the panels
# past DOCK_WIDTHS, which were set for normal fonts on a 1400-wide window).
WIDE_DOCK_SHARE = 0.34
LEFT_SHARE = 0.54
# Dock separators, the docks' own frames and the window's margins, in pixels.
CHROME = 28
# A first window takes this share of a screen larger than the size it asks for, a dialog
# DIALOG_SHARE (a guide made for 1366×768 is a stamp on a 1920×1080 projector).
LARGE_SHARE = 0.9
DIALOG_SHARE = 0.5
# The least height of a plot with axes (its tick labels, its title and a readable curve).
MIN_PLOT_HEIGHT = 90


def axis_plots(root: QWidget) -> list[QWidget]:
    """The plots with axes under `root`: every pyqtgraph view whose scene shows an axis (the
    image panes and filmstrips have none)."""
    import pyqtgraph as pg

    return [view for view in root.findChildren(pg.GraphicsView)
            if any(isinstance(item, pg.AxisItem) and item.isVisible()
                   for item in view.scene().items())]


def floor_plot_heights(root: QWidget) -> None:
    """Every plot with axes under `root` at least MIN_PLOT_HEIGHT tall: a squeezed plot shows
    its axes and no curve. In a dock the panel scrolls instead; in the centre the rows keep it."""
    for plot in axis_plots(root):
        plot.setMinimumHeight(max(plot.minimumHeight(), MIN_PLOT_HEIGHT))


def available_size(window) -> QSize | None:
    screen = window.screen()
    return None if screen is None else screen.availableGeometry().size()


def first_size(window, width: int = 1400, height: int = 900,
               share: float = LARGE_SHARE) -> tuple[int, int]:
    """A window's size when no geometry was saved: width × height, grown to `share` of a
    larger screen's available area (a 1920×1080 screen gets more than a window in a corner)
    and never more than that area."""
    size = available_size(window)
    if size is None or size.width() <= 0:
        return width, height
    return (min(size.width(), max(width, int(share * size.width()))),
            min(size.height(), max(height, int(share * size.height()))))


def fit_window(window, width: int | None = None, height: int | None = None,
               share: float = LARGE_SHARE) -> None:
    """Size a window or dialog for the screen it opens on (`first_size`): width × height
    (None: the size it was given with resize, or else the size its layout asks for), grown
    to `share` of a larger screen, never more than the screen's available area."""
    if width is None or height is None:
        given = window.testAttribute(Qt.WidgetAttribute.WA_Resized)
        own = window.size() if given else window.sizeHint()
        width = own.width() if width is None else width
        height = own.height() if height is None else height
    window.resize(*first_size(window, width, height, share))


def centre(window) -> None:
    """Move `window` to the middle of its screen's available area."""
    screen = window.screen()
    if screen is not None:
        frame = window.frameGeometry()
        frame.moveCenter(screen.availableGeometry().center())
        window.move(frame.topLeft())


def dock_caps(available_width: int, central_width: int, left_need: int = 1 << 20,
              right_need: int = 1 << 20) -> tuple[int, int]:
    """(left, right) widest dock widths that keep the window within `available_width`: each
    side gets what it needs when both fit, else the budget is split in proportion to the
    needs (LEFT_SHARE when they are not known), never under MIN_DOCK_WIDTH."""
    budget = max(available_width - central_width - CHROME, 2 * MIN_DOCK_WIDTH)
    if left_need + right_need <= budget:
        return left_need, right_need
    share = LEFT_SHARE if max(left_need, right_need) >= 1 << 20 else \
        left_need / (left_need + right_need)
    left = max(MIN_DOCK_WIDTH, int(budget * share))
    return left, max(MIN_DOCK_WIDTH, budget - left)


def _need(scroll: QScrollArea) -> int:
    return scroll.widget().minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()


def _compact_forms(panel: QWidget) -> None:
    """Forms put a field under its label when the row is too narrow for both side by side
    (so a narrow dock wraps rows instead of scrolling sideways)."""
    for form in panel.findChildren(QFormLayout):
        if form.rowWrapPolicy() == QFormLayout.RowWrapPolicy.DontWrapRows:
            form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)


def follow_docks(window) -> None:
    """Re-fit whenever a dock is shown, hidden or raised from behind a tab."""
    for dock in window.findChildren(QDockWidget):
        dock.visibilityChanged.connect(lambda _visible: _refit_later(window))


def _refit_later(window) -> None:
    from PySide6.QtCore import QTimer
    from shiboken6 import isValid

    # Docks are hidden while a closing window is torn down: its C++ side may be gone by then.
    if not isValid(window) or getattr(window, "_fit_pending", False):
        return
    window._fit_pending = True

    def run() -> None:
        if not isValid(window):
            return
        window._fit_pending = False
        fit_docks(window)

    QTimer.singleShot(0, window, run)


def fit_docks(window, available: QSize | None = None) -> None:
    """Set every dock's scroll area's minimum width for the screen (`available`: its free
    area; None: the window's screen's)."""
    available = available or available_size(window)
    central = window.centralWidget()
    width = available.width() if available is not None and available.width() > 0 else 1 << 20
    docks = []
    needs = {True: 0, False: 0}  # left side, right side: the widest dock each needs
    for dock in window.findChildren(QDockWidget):
        scroll = dock.widget()
        if not isinstance(scroll, QScrollArea) or scroll.widget() is None:
            continue
        _compact_forms(scroll.widget())
        left = window.dockWidgetArea(dock) == Qt.DockWidgetArea.LeftDockWidgetArea
        widest = DOCK_WIDTHS.get(dock.objectName(), DEFAULT_DOCK_WIDTH)
        if width < 1 << 20:
            widest = max(widest, int(WIDE_DOCK_SHARE * width))
        if not window.isVisible() or (dock.isVisible() and not dock.visibleRegion().isEmpty()):
            # a dock behind another's tab does not claim width (it is re-fitted when raised)
            needs[left] = max(needs[left], min(_need(scroll), widest))
        docks.append((dock, scroll, left, widest))
    left_cap, right_cap = dock_caps(width, central.minimumSizeHint().width() if central else 0,
                                    needs[True], needs[False])
    for dock, scroll, left, widest in docks:
        cap = min(left_cap if left else right_cap, widest)
        need = _need(scroll)
        scroll.setHorizontalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAsNeeded if need > cap
            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(min(need, cap))
    # The window's minimum comes from its layout, which only sees the new widths once it is
    # activated again; then a window wider or taller than the screen is brought back onto it.
    layout = window.layout()
    if layout is not None:
        layout.invalidate()
        layout.activate()
    if available is not None and available.width() > 0 and window.isVisible():
        w = min(window.width(), available.width())
        h = min(window.height(), available.height())
        if (w, h) != (window.width(), window.height()):
            window.resize(w, h)
