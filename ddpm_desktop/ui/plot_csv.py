"""Right-click any plot of the window: "Save data as CSV…".

`plot_columns(plot)` reads the curves a pyqtgraph plot shows (every PlotDataItem with data,
as it was given: a log axis's values, not their logarithms) into (header, array) columns
named "<curve>: <axis quantity>" from the curve's legend name, the plot's title and its axis
labels (a histogram drawn with stepMode="center" gets "(bin edges)"). `save_plot_csv(plot,
path)` writes them with core.table (atomically, core.files). `install_csv_export(root)` gives
every PlotWidget under `root` the context-menu action; the plots keep pyqtgraph's own menu
off, so the action is the widget's custom context menu.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from ddpm_desktop.core.table import write_csv

CSV_FILTER = "CSV (*.csv);;All files (*)"
ACTION_TEXT = "Save data as CSV…"


def _plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html or "").replace("&nbsp;", " ").strip()


def _axis_label(item: pg.PlotItem, name: str) -> str:
    axis = item.getAxis(name)
    text = _plain(getattr(axis, "labelText", "") or "")
    units = getattr(axis, "labelUnits", "") or ""
    return f"{text} ({units})" if units else text


def plot_item_of(plot) -> pg.PlotItem:
    return plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot


def plot_columns(plot) -> list[tuple[str, np.ndarray]]:
    """(header, values) for the x and y of every non-empty curve of `plot`."""
    item = plot_item_of(plot)
    title = _plain(item.titleLabel.text) if item.titleLabel is not None else ""
    x_label = _axis_label(item, "bottom") or "x"
    y_label = _axis_label(item, "left") or title or "y"
    columns, seen = [], set()
    for k, curve in enumerate(item.listDataItems()):
        if not isinstance(curve, pg.PlotDataItem):
            continue
        x, y = curve.xData, curve.yData
        if x is None or y is None or len(y) == 0:
            continue
        name = _plain(curve.name() or "") or (title or f"curve {k + 1}")
        base, n = name, 2
        while name in seen:
            name, n = f"{base} ({n})", n + 1
        seen.add(name)
        edges = len(x) == len(y) + 1
        columns.append((f"{name}: {x_label}" + (" (bin edges)" if edges else ""),
                        np.asarray(x, dtype=np.float64)))
        columns.append((f"{name}: {y_label}", np.asarray(y, dtype=np.float64)))
    return columns


def save_plot_csv(plot, path) -> Path:
    """Write `plot`'s curves to `path` (ValueError when it shows none; OSError one line)."""
    columns = plot_columns(plot)
    if not columns:
        raise ValueError("this plot shows no data yet")
    return write_csv(path, columns)


def _default_name(plot) -> str:
    item = plot_item_of(plot)
    title = _plain(item.titleLabel.text) if item.titleLabel is not None else ""
    title = title or _axis_label(item, "left") or "plot"
    slug = re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_").lower() or "plot"
    return f"{slug[:40]}.csv"


def _choose_and_save(plot: pg.PlotWidget, window) -> None:
    settings = getattr(window, "settings", None) or QSettings()
    folder = settings.value("paths/csv_dir", str(Path.home()), type=str)
    path, _ = QFileDialog.getSaveFileName(plot, "Save the plot's data", str(Path(folder)
                                          / _default_name(plot)), CSV_FILTER)
    if not path:
        return
    path = path if Path(path).suffix else path + ".csv"
    try:
        written = save_plot_csv(plot, path)
    except (OSError, ValueError) as exc:
        if hasattr(window, "show_error"):
            window.show_error(f"Could not save the data: {' '.join(str(exc).split())}")
        return
    settings.setValue("paths/csv_dir", str(Path(path).parent))
    if hasattr(window, "statusBar"):
        window.statusBar().showMessage(f"Saved {written}", 8000)


def exec_menu(menu: QMenu, global_pos) -> None:
    """Show `menu` modally (a function of its own, so a test can stand in for it)."""
    menu.exec(global_pos)


def install_csv_export(root: QWidget) -> int:
    """Give every PlotWidget under `root` a right-click "Save data as CSV…"; returns how
    many got it (a plot that has it already is left alone)."""
    count = 0
    for plot in root.findChildren(pg.PlotWidget):
        if getattr(plot, "csv_action", None) is not None:
            continue
        action = QAction(ACTION_TEXT, plot)
        action.setStatusTip("Write the curves of this plot to a CSV file, one column per "
                            "quantity")
        action.triggered.connect(lambda _=False, p=plot: _choose_and_save(p, root))
        plot.csv_action = action
        plot.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

        def show_menu(pos, p=plot) -> None:
            menu = QMenu(p)
            menu.addAction(p.csv_action)
            exec_menu(menu, p.mapToGlobal(pos))

        plot.customContextMenuRequested.connect(show_menu)
        count += 1
    return count
