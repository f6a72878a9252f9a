"""DatasetBrowser: one image per page, click/keys/Random select, filter, pages, sources."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from ddpm_desktop.core import data
from ddpm_desktop.ui.widgets import dataset_browser as browser_mod
from ddpm_desktop.ui.widgets.dataset_browser import DatasetBrowser, render_page


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


def test_render_page_layout():
    imgs = np.stack([np.full((28, 28), 10 * (k + 1), np.uint8) for k in range(5)])
    page = render_page(imgs, columns=3, rows=2, pad=2)
    assert page.shape == (2 * 30 + 2, 3 * 30 + 2)
    assert page[2, 2] == 10 and page[2 + 30, 2 + 30] == 50  # cell 4 = row 1, col 1
    assert page[2 + 30, 2 + 60] == 40  # empty cell keeps the background


def test_click_selects_and_emits_digit_and_label(qtbot, browser):
    ds = browser.dataset()
    cell = 13
    rect = browser.view.cell_rect(cell)
    with qtbot.waitSignal(browser.digit_selected) as blocker:
        qtbot.mouseClick(browser.view, Qt.MouseButton.LeftButton, pos=rect.center())
    x, label = blocker.args
    assert x.dtype == np.float32 and x.shape == (28, 28)
    assert label == int(ds.labels[cell]) == 3
    np.testing.assert_allclose(x, data.to_model_range(ds.images[cell]))
    assert browser.selected_index() == cell


def test_page_navigation(qtbot, browser):
    assert browser.page_count() == 3 and browser.page() == 0
    assert not browser.prev_button.isEnabled()
    qtbot.mouseClick(browser.next_button, Qt.MouseButton.LeftButton)
    assert browser.page() == 1
    with qtbot.waitSignal(browser.digit_selected) as blocker:
        qtbot.mouseClick(browser.view, Qt.MouseButton.LeftButton,
                         pos=browser.view.cell_rect(0).center())
    assert browser.selected_index() == 100 and blocker.args[1] == 0
    browser.page_spin.setValue(3)
    assert browser.page() == 2 and not browser.next_button.isEnabled()
    browser.set_page(99)  # clamped
    assert browser.page() == 2
    # keys: PageUp back one page, arrows move the selection
    browser.select(5, emit=False)
    browser.view.setFocus()
    qtbot.keyClick(browser.view, Qt.Key.Key_Right)
    assert browser.selected_index() == 6
    qtbot.keyClick(browser.view, Qt.Key.Key_PageDown)
    assert browser.selected_index() == 106 and browser.page() == 1
    qtbot.keyClick(browser.view, Qt.Key.Key_End)
    assert browser.selected_index() == 249 and browser.page() == 2


def test_label_filter(qtbot, browser):
    browser.set_label_filter(7)
    assert browser.label_filter() == 7
    assert browser.page_count() == 1  # 25 sevens
    with qtbot.waitSignal(browser.digit_selected) as blocker:
        qtbot.mouseClick(browser.view, Qt.MouseButton.LeftButton,
                         pos=browser.view.cell_rect(2).center())
    assert blocker.args[1] == 7 and browser.selected_index() == 27
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
    monkeypatch.setattr(browser_mod.QMessageBox, "warning",
                        lambda parent, title, text: shown.append(text))
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
    with qtbot.waitSignal(browser.dataset_changed) as blocker:
        browser.source_combo.setCurrentIndex(browser.source_combo.count() - 1)
        browser.source_combo.activated.emit(browser.source_combo.count() - 1)
    assert len(blocker.args[0]) == 2
    assert browser.source_combo.currentData() == str(tmp_path)
    with qtbot.waitSignal(browser.digit_selected) as sel:
        browser.select(1)
    assert sel.args[1] == 7
