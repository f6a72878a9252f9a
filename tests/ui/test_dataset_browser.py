"""DatasetBrowser: one image per page, click/keys/Random select, filter, pages, sources."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from ddpm_desktop.core import data
from ddpm_desktop.ui.widgets import dataset_browser as browser_mod
from ddpm_desktop.ui.theme import dark_palette, light_palette, plot_colors, rgb
from ddpm_desktop.ui.widgets.dataset_browser import DatasetBrowser, render_page, view_order


def small_dataset(n=250):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = np.arange(n) % 256  # a fingerprint per image
    labels = np.arange(n, dtype=np.int64) % 10
    return data.Dataset(images, labels, "tiny")


@pytest.fixture
def browser(qtbot):
    b = DatasetBrowser(dataset=small_dataset())
    qtbot.addWidget(b)
    b.resize(420, 460)
    b.show()
    qtbot.waitExposed(b)
    return b


def sorted_dataset(n_per_label=30):
    """Like the bundled MNIST: stored sorted by label."""
    labels = np.repeat(np.arange(10, dtype=np.int64), n_per_label)
    images = np.zeros((len(labels), 28, 28), np.uint8)
    images[:, 0, 0] = labels * 20  # a fingerprint of the label
    return data.Dataset(images, labels, "sorted")


def test_render_page_layout():
    imgs = np.stack([np.full((28, 28), 10 * (k + 1), np.uint8) for k in range(5)])
    page = render_page(imgs, columns=3, rows=2, pad=2, fill=(1, 2, 3))
    assert page.shape == (2 * 30 + 2, 3 * 30 + 2, 3)
    assert (page[2, 2] == 10).all() and (page[2 + 30, 2 + 30] == 50).all()  # cell 4: row 1, col 1
    assert tuple(page[2 + 30, 2 + 60]) == (1, 2, 3)  # an empty cell keeps the fill
    assert tuple(page[0, 0]) == (1, 2, 3)  # and so does the gap


def test_first_page_of_a_label_sorted_dataset_mixes_labels(qtbot):
    """Regression: page 1 of the bundled MNIST showed only zeros (it is sorted by label)."""
    ds = sorted_dataset()
    b = DatasetBrowser(dataset=ds, columns=10, rows=6)
    qtbot.addWidget(b)
    shown = b.page_indices()
    assert len(shown) == 60 and len(set(shown.tolist())) == 60
    assert len(np.unique(ds.labels[shown])) >= 8  # ~all ten labels, not sixty zeros
    # every digit appears exactly once over all pages
    seen = []
    for page in range(b.page_count()):
        b.set_page(page)
        seen.extend(b.page_indices().tolist())
    assert sorted(seen) == list(range(len(ds)))
    # the order is fixed: a new browser (a relaunch) shows the same page 1
    again = DatasetBrowser(dataset=ds, columns=10, rows=6)
    qtbot.addWidget(again)
    np.testing.assert_array_equal(again.page_indices(), shown)
    # a filter keeps the dataset's labels; the index picked is the dataset index
    b.set_label_filter(3)
    assert set(ds.labels[b.page_indices()].tolist()) == {3} and b.page_count() == 1
    with qtbot.waitSignal(b.digit_selected) as blocker:
        b.select(4)
    i = b.selected_index()
    assert i == b.page_indices()[4] and ds.labels[i] == 3 and blocker.args[1] == 3
    np.testing.assert_allclose(blocker.args[0], data.to_model_range(ds.images[i]))
    assert b._tooltip_for_cell(4) == f"#{i}: 3"
    b.set_label_filter(None)
    b.select_index(i, emit=False)
    assert b.selected_index() == i and i in b.page_indices()


def test_bundled_mnist_page_one_is_mixed(qtbot):
    b = DatasetBrowser(columns=10, rows=6)
    qtbot.addWidget(b)
    labels = np.asarray(b.dataset().labels)
    assert len(np.unique(labels[:60])) == 1  # the data really is stored sorted
    assert len(np.unique(labels[b.page_indices()])) >= 8


def test_page_gaps_follow_the_theme(qtbot, qapp, browser):
    before = qapp.palette()
    try:
        for palette in (light_palette(), dark_palette()):
            qapp.setPalette(palette)
            qapp.sendPostedEvents()  # the palette change is posted to the widgets
            gap = browser.view._image.pixelColor(0, 0)
            assert (gap.red(), gap.green(), gap.blue()) == rgb(plot_colors(palette).image_gap)
    finally:
        qapp.setPalette(before)


def test_click_selects_and_emits_digit_and_label(qtbot, browser):
    ds = browser.dataset()
    cell = 13
    index = int(view_order(ds.labels)[cell])  # the dataset index shown in that cell
    rect = browser.view.cell_rect(cell)
    with qtbot.waitSignal(browser.digit_selected) as blocker:
        qtbot.mouseClick(browser.view, Qt.MouseButton.LeftButton, pos=rect.center())
    x, label = blocker.args
    assert x.dtype == np.float32 and x.shape == (28, 28)
    assert label == int(ds.labels[index]) == index % 10
    np.testing.assert_allclose(x, data.to_model_range(ds.images[index]))
    assert browser.selected_index() == index


def test_page_navigation(qtbot, browser):
    order = view_order(browser.dataset().labels)
    assert browser.page_count() == 3 and browser.page() == 0
    assert not browser.prev_button.isEnabled()
    qtbot.mouseClick(browser.next_button, Qt.MouseButton.LeftButton)
    assert browser.page() == 1
    with qtbot.waitSignal(browser.digit_selected) as blocker:
        qtbot.mouseClick(browser.view, Qt.MouseButton.LeftButton,
                         pos=browser.view.cell_rect(0).center())
    assert browser.selected_index() == order[100] and blocker.args[1] == order[100] % 10
    browser.page_spin.setValue(3)
    assert browser.page() == 2 and not browser.next_button.isEnabled()
    browser.set_page(99)  # clamped
    assert browser.page() == 2
    # keys: PageUp back one page, arrows move the selection
    browser.select(5, emit=False)
    browser.view.setFocus()
    qtbot.keyClick(browser.view, Qt.Key.Key_Right)
    assert browser.selected_index() == order[6]
    qtbot.keyClick(browser.view, Qt.Key.Key_PageDown)
    assert browser.selected_index() == order[106] and browser.page() == 1
    qtbot.keyClick(browser.view, Qt.Key.Key_End)
    assert browser.selected_index() == order[249] and browser.page() == 2


def test_label_filter(qtbot, browser):
    browser.set_label_filter(7)
    assert browser.label_filter() == 7
    assert browser.page_count() == 1  # 25 sevens
    with qtbot.waitSignal(browser.digit_selected) as blocker:
        qtbot.mouseClick(browser.view, Qt.MouseButton.LeftButton,
                         pos=browser.view.cell_rect(2).center())
    sevens = view_order(browser.dataset().labels)
    sevens = sevens[sevens % 10 == 7]  # the sevens in the order the grid shows them
    assert blocker.args[1] == 7 and browser.selected_index() == sevens[2]
    # the filter combo drives the same thing
    browser.label_combo.setCurrentIndex(browser.label_combo.findData(2))
    assert browser.label_filter() == 2 and browser.selected_index() is None
    browser.set_label_filter(None)
    assert browser.page_count() == 3
    with pytest.raises(ValueError):
        browser.set_label_filter(11)


def test_random_respects_the_filter(qtbot, browser):
    browser.set_label_filter(4)
    for _ in range(5):
        with qtbot.waitSignal(browser.digit_selected) as blocker:
            qtbot.mouseClick(browser.random_button, Qt.MouseButton.LeftButton)
        assert blocker.args[1] == 4
        assert browser.selected_index() % 10 == 4


def test_default_is_bundled_mnist_and_no_widget_per_digit(qtbot):
    b = DatasetBrowser()
    qtbot.addWidget(b)
    assert len(b.dataset()) >= 1000
    assert b.page_count() == -(-len(b.dataset()) // 100)
    assert len(b.findChildren(browser_mod.QLabel)) < 10  # one page image, not 100 labels
    b.set_page(b.page_count() - 1)
    b.select_random(emit=False)


def test_source_errors_go_to_a_message_box(qtbot, browser, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(browser_mod, "warn", lambda parent, title, text: shown.append(text))
    before = browser.dataset()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert browser.load_source(str(empty)) is False
    assert shown and "empty" in shown[0]
    assert browser.dataset() is before


def test_open_image_folder(qtbot, browser, tmp_path, monkeypatch):
    from PIL import Image

    for d in (1, 7):
        (tmp_path / str(d)).mkdir()
        img = np.zeros((40, 40), np.uint8)
        img[5:35, 18:22] = 255
        Image.fromarray(img).save(tmp_path / str(d) / "a.png")
    monkeypatch.setattr(browser_mod.QFileDialog, "getExistingDirectory",
                        lambda *a, **k: str(tmp_path))
    browser.source_requested.connect(browser.load_source)  # no session: read it here
    with qtbot.waitSignal(browser.dataset_changed) as blocker:
        browser.source_combo.setCurrentIndex(browser.source_combo.count() - 1)
        browser.source_combo.activated.emit(browser.source_combo.count() - 1)
    assert len(blocker.args[0]) == 2
    assert browser.source_combo.currentData() == str(tmp_path)
    with qtbot.waitSignal(browser.digit_selected) as sel:
        browser.select(1)
    assert sel.args[1] == 7


# ----------------------------------------------------------------------------- in the input panel


def test_input_panel_names_the_dataset_index_and_hides_no_failure(qtbot, monkeypatch):
    from ddpm_desktop.ui.state import InputState
    from ddpm_desktop.ui.widgets import input_panel as panel_mod

    state = InputState()
    panel = panel_mod.InputPanel(state, load_dataset=False)
    qtbot.addWidget(panel)
    ds = sorted_dataset()
    panel.browser.set_dataset(ds)
    panel.pick_initial_digit()  # the first cell of the grid, named by its dataset index
    i = int(panel.browser.page_indices()[0])
    assert state.digit_source == f"sorted #{i}" and state.digit_label == ds.labels[i]
    np.testing.assert_allclose(state.digit, data.to_model_range(ds.images[i]))

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the browser")

    # a bug while building a digit source reaches the caller instead of becoming a tab note
    monkeypatch.setattr(panel_mod, "DatasetBrowser", broken)
    with pytest.raises(RuntimeError, match="a bug in the browser"):
        panel_mod.InputPanel(InputState(), load_dataset=False)


def test_page_controls_sit_under_the_grid_in_a_tall_browser(qtbot):
    """A browser taller than its grid keeps the page controls right under the grid (the free
    height goes below them), and a wider one zooms the grid by whole pixels with its height."""
    b = DatasetBrowser(dataset=small_dataset(), columns=10, rows=6)
    qtbot.addWidget(b)
    b.resize(360, 700)
    b.show()
    qtbot.waitExposed(b)
    def gap_under_grid():  # from the last cell's bottom edge to the page controls, in px
        last = b.view.cell_rect(59)
        assert last.isValid()
        return b.prev_button.geometry().top() - b.view.mapTo(b, last.bottomLeft()).y()

    assert 0 <= gap_under_grid() < 20, gap_under_grid()
    hint = b.view.minimumSizeHint()
    assert b.view.heightForWidth(2 * hint.width() + 5) == 2 * hint.height()
    b.resize(2 * hint.width() + 40, 900)
    qtbot.waitUntil(lambda: b.view.cell_rect(0).width() == 2 * 28, timeout=2000)
    assert 0 <= gap_under_grid() < 20, gap_under_grid()
