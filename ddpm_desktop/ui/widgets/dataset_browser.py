"""Browse a dataset of 28x28 digits page by page and pick one.

Public API (for the main window)
--------------------------------
``DatasetBrowser(parent=None, dataset=None, load_default=True, columns=10, rows=10)``
    With no ``dataset`` and ``load_default`` it loads the bundled MNIST
    (``core.data.load_dataset("mnist")``). Each page is rendered into ONE image (no widget
    per digit), so a 60,000-image dataset costs the same as a 100-image one.
    signals
        ``digit_selected(object, int)``  float32 ``[28, 28]`` in ``[-1, 1]`` and its label
            (-1 = unknown), on a click, Enter, arrow keys, or the Random button.
        ``dataset_changed(object)``  the new ``core.data.Dataset`` (after a source switch).
    methods
        ``set_dataset(ds)``, ``dataset() -> Dataset | None``, ``set_label_filter(label|None)``,
        ``label_filter()``, ``set_page(i)`` (0-based), ``page()``, ``page_count()``,
        ``select(position, emit=True)`` (position within the filtered list),
        ``select_index(dataset_index, emit=True)``, ``select_random(emit=True)``,
        ``selected_index() -> int | None`` (index into the dataset),
        ``page_indices()`` (the dataset indices on the page, cell by cell),
        ``load_source(spec) -> bool`` ("mnist" | "fashion" | a folder path, read here; errors
        go to a message box and the current dataset stays). In the window a source picked in
        the combo goes out as ``source_requested(str)`` and the session's dataset area reads
        it off the GUI thread, answering ``show_reading(text)``, ``show_source(spec, ds)`` or
        ``show_load_failed()``. The info line says how many files were skipped and why.
    Sources: bundled MNIST train/test, "Fashion-MNIST" (when installed; otherwise choosing
    it explains how to install it) and
    "Open folder..." (a folder of IDX files or of images, through a file dialog).
    Keys on the grid: arrows move the selection, PageUp/PageDown turn pages, Home/End.
    The grid shows the dataset in a fixed seeded shuffle (``view_order``), not in file order:
    datasets stored sorted by label would otherwise show only zeros on page 1. Indices shown
    (tooltips, ``selected_index``, the input panel's "MNIST #i") are dataset indices.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QCursor, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ddpm_desktop.core import data
from ddpm_desktop.core.imaging import IMAGE_SIDE
from ddpm_desktop.ui.theme import plot_colors, rgb
from ddpm_desktop.ui.widgets.digit_grid import PageView, render_page, view_order
from ddpm_desktop.ui.widgets.plain_text import plain, warn

SOURCES = (("MNIST train (bundled)", "mnist"), ("MNIST test (bundled)", "mnist-test"),
           ("Fashion-MNIST", "fashion"))
OPEN_FOLDER = "Open folder…"



class DatasetBrowser(QWidget):
    """A paged grid of dataset digits with a source picker, label filter and Random."""

    digit_selected = Signal(object, int)
    dataset_changed = Signal(object)
    source_requested = Signal(str)  # a source picked in the combo: the session reads it
    _dataset: data.Dataset | None = None  # (a palette change can arrive before __init__ ends)

    def __init__(self, parent: QWidget | None = None, dataset: data.Dataset | None = None,
                 load_default: bool = True, columns: int = 10, rows: int = 10) -> None:
        super().__init__(parent)
        self.columns = int(columns)
        self.rows = int(rows)
        self._order = np.zeros(0, np.int64)  # view_order of the dataset
        self._positions = np.zeros(0, np.int64)  # dataset indices passing the filter, in order
        self._label: int | None = None
        self._page = 0
        self._selected_pos: int | None = None  # index into _positions
        self._rng = np.random.default_rng()
        self._source_row = 0  # the combo row of the dataset on show
        self._reading = False  # a source is being read elsewhere: the info line says how far

        self.source_combo = QComboBox()
        for title, spec in SOURCES:
            self.source_combo.addItem(title, spec)
        self.source_combo.addItem(OPEN_FOLDER, None)
        self.source_combo.activated.connect(self._on_source_activated)
        self.label_combo = QComboBox()
        self.label_combo.currentIndexChanged.connect(self._on_label_combo_changed)
        self.random_button = QPushButton("Random")
        self.random_button.clicked.connect(self._on_random_clicked)

        self.view = PageView(self)
        self.view.setAccessibleName("Digits of this page")
        self.view.setAccessibleDescription("Arrow keys move between digits; Enter uses the "
                                           "selected one as x₀")
        self.view.cell_clicked.connect(self._on_view_cell_clicked)
        self.view.cell_activated.connect(self._on_view_cell_clicked)
        self.view.key_moved.connect(self._on_view_key_moved)

        self.prev_button = QPushButton("◀")
        self.prev_button.setToolTip("Previous page")
        self.prev_button.clicked.connect(lambda: self.set_page(self._page - 1))
        self.next_button = QPushButton("▶")
        self.next_button.setToolTip("Next page")
        self.next_button.clicked.connect(lambda: self.set_page(self._page + 1))
        for b in (self.prev_button, self.next_button):
            b.setFixedWidth(36)
        self.page_spin = QSpinBox()
        self.page_spin.setKeyboardTracking(False)
        self.page_spin.valueChanged.connect(lambda v: self.set_page(v - 1))
        self.page_label = QLabel()
        self.info_label = QLabel()
        plain(self.info_label)
        self.info_label.setWordWrap(True)  # two lines rather than a wider Input dock

        top = QHBoxLayout()
        top.addWidget(self.source_combo, 1)
        top.addWidget(self.label_combo)
        top.addWidget(self.random_button)
        nav = QHBoxLayout()
        nav.addWidget(self.prev_button)
        nav.addWidget(QLabel("Page"))
        nav.addWidget(self.page_spin)
        nav.addWidget(self.page_label)
        nav.addWidget(self.next_button)
        nav.addStretch(1)
        nav.addWidget(self.info_label)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view)
        layout.addLayout(nav)
        layout.addStretch(1)  # a taller tab leaves its free space below the page controls

        if dataset is not None:
            self.set_dataset(dataset)
        elif load_default:
            try:
                self.set_dataset(data.load_dataset("mnist"))
            except (ValueError, OSError) as exc:  # a broken install: say so in the panel
                self.info_label.setText(f"No dataset: {exc}")
        self._refresh()

    # ---- dataset and filter ----------------------------------------------------------------
    def dataset(self) -> data.Dataset | None:
        return self._dataset

    def set_dataset(self, ds: data.Dataset) -> None:
        self._dataset = ds
        labels = np.asarray(ds.labels)
        self._order = view_order(labels)
        self.label_combo.blockSignals(True)
        self.label_combo.clear()
        self.label_combo.addItem("All labels", None)
        names = list(ds.class_names)
        for k in np.unique(labels[labels >= 0]).tolist():
            name = names[k] if k < len(names) and str(names[k]) != str(k) else ""
            self.label_combo.addItem(f"{k} {name}".strip(), int(k))
        if (labels < 0).any():
            self.label_combo.addItem("Unlabelled", -1)
        self.label_combo.blockSignals(False)
        self._label = None
        self._apply_filter()
        self.dataset_changed.emit(ds)

    def label_filter(self) -> int | None:
        return self._label

    def set_label_filter(self, label: int | None) -> None:
        i = self.label_combo.findData(label) if label is not None else 0
        if i < 0:
            raise ValueError(f"no digits with label {label} in this dataset")
        if i == self.label_combo.currentIndex():
            self._label = label
            self._apply_filter()
        else:
            self.label_combo.setCurrentIndex(i)  # -> _on_label_combo_changed

    @Slot(int)
    def _on_label_combo_changed(self, i: int) -> None:
        self._label = self.label_combo.itemData(i) if i >= 0 else None
        self._apply_filter()

    def _apply_filter(self) -> None:
        if self._dataset is None:
            self._positions = np.zeros(0, np.int64)
        else:
            labels = np.asarray(self._dataset.labels)
            if self._label is None:
                self._positions = self._order
            else:  # the same shuffle, so a digit keeps its relative place under a filter
                self._positions = self._order[labels[self._order] == self._label]
        self._selected_pos = None
        self._page = 0
        self._refresh()

    # ---- pages ----------------------------------------------------------------------------
    @property
    def page_size(self) -> int:
        return self.columns * self.rows

    def page_count(self) -> int:
        return max(1, -(-len(self._positions) // self.page_size))

    def page(self) -> int:
        return self._page

    def set_page(self, page: int) -> None:
        page = int(np.clip(page, 0, self.page_count() - 1))
        if page != self._page:
            self._page = page
            self._refresh()

    def page_indices(self) -> np.ndarray:
        """The dataset indices shown on the current page, cell by cell: int64 [<= page_size]."""
        start = self._page * self.page_size
        return self._positions[start:start + self.page_size].copy()

    def _refresh(self) -> None:
        start = self._page * self.page_size
        idx = self._positions[start:start + self.page_size]
        images = (np.asarray(self._dataset.images)[idx] if self._dataset is not None
                  else np.zeros((0, IMAGE_SIDE, IMAGE_SIDE), np.uint8))
        page = render_page(images, self.columns, self.rows,
                           fill=rgb(plot_colors(self.palette()).image_gap))
        sel = None
        if self._selected_pos is not None and start <= self._selected_pos < start + len(idx):
            sel = self._selected_pos - start
        self.view.set_page(page, len(idx), sel)
        n_pages = self.page_count()
        self.page_spin.blockSignals(True)
        self.page_spin.setRange(1, n_pages)
        self.page_spin.setValue(self._page + 1)
        self.page_spin.blockSignals(False)
        self.page_label.setText(f"/ {n_pages}")
        self.prev_button.setEnabled(self._page > 0)
        self.next_button.setEnabled(self._page < n_pages - 1)
        self.random_button.setEnabled(len(self._positions) > 0)
        if self._dataset is not None and not self._reading:
            skipped = data.skipped_summary(self._dataset)
            self.info_label.setText(f"{self._dataset.name}: {len(self._positions)} digits"
                                    + (f"; {skipped}" if skipped else ""))

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.PaletteChange and self._dataset is not None:
            self._refresh()  # the page's gaps are painted in the theme's colour
        super().changeEvent(event)

    # ---- selection ------------------------------------------------------------------------
    def selected_index(self) -> int | None:
        if self._selected_pos is None:
            return None
        return int(self._positions[self._selected_pos])

    def select(self, position: int, emit: bool = True) -> None:
        """Select the digit at ``position`` in the filtered list; turn to its page."""
        if not len(self._positions):
            return
        position = int(np.clip(position, 0, len(self._positions) - 1))
        self._selected_pos = position
        self._page = position // self.page_size
        self._refresh()
        if emit:
            i = int(self._positions[position])
            x = data.to_model_range(np.asarray(self._dataset.images[i]))
            label = int(np.asarray(self._dataset.labels)[i])
            self.digit_selected.emit(np.asarray(x, dtype=np.float32).copy(), label)

    def clear_selection(self) -> None:
        """Highlight no digit (x_0 came from elsewhere)."""
        if self._selected_pos is not None:
            self._selected_pos = None
            self._refresh()

    def select_index(self, dataset_index: int, emit: bool = True) -> None:
        hits = np.flatnonzero(self._positions == int(dataset_index))
        if not len(hits):
            raise ValueError(f"digit {dataset_index} is not in the current view")
        self.select(int(hits[0]), emit)

    def select_random(self, emit: bool = True) -> None:
        if len(self._positions):
            self.select(int(self._rng.integers(len(self._positions))), emit)

    def _tooltip_for_cell(self, cell: int) -> str:
        pos = self._page * self.page_size + cell
        if self._dataset is None or pos >= len(self._positions):
            return ""
        i = int(self._positions[pos])
        label = int(np.asarray(self._dataset.labels)[i])
        names = self._dataset.class_names
        text = "unlabelled" if label < 0 else (
            names[label] if label < len(names) else str(label))
        return f"#{i}: {text}"

    @Slot(int)
    def _on_view_cell_clicked(self, cell: int) -> None:
        self.select(self._page * self.page_size + cell)

    @Slot(int)
    def _on_view_key_moved(self, delta: int) -> None:
        if not len(self._positions):
            return
        if abs(delta) >= (1 << 30):
            self.select(0 if delta < 0 else len(self._positions) - 1)
        elif self._selected_pos is None:
            self.select(self._page * self.page_size)
        else:
            self.select(self._selected_pos + delta)

    @Slot()
    def _on_random_clicked(self) -> None:
        self.select_random()

    # ---- sources --------------------------------------------------------------------------
    @Slot(int)
    def _on_source_activated(self, i: int) -> None:
        spec = self.source_combo.itemData(i)
        if spec is None:  # "Open folder..."
            folder = QFileDialog.getExistingDirectory(
                self, "Open a folder of IDX files or images")
            if not folder:
                self._restore_source_combo()
                return
            spec = folder
        self.source_requested.emit(spec)

    def _restore_source_combo(self) -> None:
        self.source_combo.blockSignals(True)
        self.source_combo.setCurrentIndex(self._source_row)
        self.source_combo.blockSignals(False)

    def load_source(self, spec: str) -> bool:
        """Load ``spec`` here through ``core.data.iter_load_dataset``; False (+ message box)
        on error, the data set on show staying."""
        QGuiApplication.setOverrideCursor(QCursor(Qt.CursorShape.WaitCursor))
        try:
            last = None
            for last in data.iter_load_dataset(spec):
                pass
            ds = last.dataset
        except (ValueError, OSError) as exc:
            QGuiApplication.restoreOverrideCursor()
            warn(self, "Could not load dataset", str(exc))
            return False
        QGuiApplication.restoreOverrideCursor()
        self.show_source(spec, ds)
        return True

    @Slot(str)
    def show_reading(self, text: str) -> None:
        """A source is being read elsewhere: `text` says how far."""
        self._reading = True
        self.info_label.setText(text)

    @Slot()
    def show_load_failed(self) -> None:
        """A source read elsewhere failed (the message went out there): the data set on show
        stays, and so does the combo's row."""
        self._reading = False
        self._restore_source_combo()
        self._refresh()

    @Slot(str, object)
    def show_source(self, spec: str, ds: data.Dataset) -> None:
        """Show the data set `ds` read from `spec`, its source chosen in the combo."""
        self._reading = False
        row = self.source_combo.findData(spec)
        if row < 0:  # a folder: remember it as a source above "Open folder..."
            row = self.source_combo.count() - 1
            self.source_combo.insertItem(row, str(spec), spec)
        self.source_combo.blockSignals(True)
        self.source_combo.setCurrentIndex(row)
        self.source_combo.blockSignals(False)
        self._source_row = row
        self.set_dataset(ds)


def connect_dataset_browser(browser: DatasetBrowser, datasets) -> None:
    """A source picked in `browser` is read by `datasets` (the session's DatasetSources area,
    off the GUI thread), which answers with the reading line, the data set or a failure."""
    browser.source_requested.connect(datasets.load)
    datasets.reading.connect(browser.show_reading)
    datasets.loaded.connect(browser.show_source)
    datasets.failed.connect(browser.show_load_failed)
