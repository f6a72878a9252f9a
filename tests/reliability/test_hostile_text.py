"""Text from files, sessions and paths is shown literally: markup in a name is never rendered."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel, QMessageBox

from ddpm_desktop.core.data import Dataset

from reliability_helpers import tiny_model

HOSTILE = '<img src="/dev/zero"><a href="https://example.invalid">click</a>'


@pytest.fixture
def window(qtbot, tmp_path):
    from ddpm_desktop.ui.main_window import MainWindow

    win = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                     load_model=False, load_dataset=False)
    qtbot.addWidget(win)
    yield win
    win.close()


def _labels_showing(win, text: str) -> list[QLabel]:
    return [lab for lab in win.findChildren(QLabel) if text in lab.text()]


def test_hostile_digit_source_model_and_dataset_names_show_as_literal_text(window):
    s = window.session
    # What a session file's "digit_source", a model file's name and an image folder's name set.
    s.input_state.set_digit(np.zeros((28, 28), np.float32), HOSTILE, -1)
    s.set_model(tiny_model(), HOSTILE)
    browser = window.input_panel.browser
    browser.set_dataset(Dataset(np.zeros((3, 28, 28), np.uint8), np.zeros(3, np.int64), HOSTILE))
    shown = _labels_showing(window, HOSTILE)
    assert {window.input_panel.source_label, window.model_label, window.sampler_panel.model_label,
            browser.info_label} <= set(shown)
    for lab in shown:
        assert lab.textFormat() == Qt.TextFormat.PlainText, lab.objectName() or lab.text()


def test_every_label_that_can_show_outside_text_is_plain(window):
    """A message naming a file (an error, a status) goes to these labels; none may guess rich text."""
    w = window
    labels = [w.input_panel.source_label, w.model_label, w.sampler_panel.model_label,
              w.reverse_view.ready_label, w.input_panel.browser.info_label]
    for lab in labels:
        assert lab.textFormat() == Qt.TextFormat.PlainText


def test_error_boxes_show_file_names_literally(window, qtbot):
    window.show_error(f"cannot read '{HOSTILE}.png': not an image file")
    box = window._error_box
    assert isinstance(box, QMessageBox)
    assert box.textFormat() == Qt.TextFormat.PlainText and HOSTILE in box.text()
    box.close()


def test_plain_warning_helper_is_plain(qtbot):
    from ddpm_desktop.ui.widgets.plain_text import message_box

    box = message_box(QMessageBox.Icon.Warning, "t", HOSTILE)
    assert box.textFormat() == Qt.TextFormat.PlainText and box.text() == HOSTILE
