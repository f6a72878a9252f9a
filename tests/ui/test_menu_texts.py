"""Texts the app shows: no menu entry loses a literal '&' to a mnemonic underscore, the window
title names the app once, an opened photo is captioned by its file name, and the live readout
says "not a digit" when the classifier says so."""
from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QAction

from ddpm_desktop.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot):
    w = MainWindow(load_model=False, load_dataset=False)
    qtbot.addWidget(w)
    yield w
    w.close()


def _shown(text: str) -> str:
    """What Qt paints for a menu text: '&&' is a literal '&', '&x' underlines x (drops the '&')."""
    return re.sub(r"&(.)", lambda m: m.group(1), text)


def _menu_actions(window):
    seen, todo = [], [a for a in window.menuBar().actions()]
    while todo:
        action = todo.pop()
        seen.append(action)
        if action.menu() is not None:
            todo += action.menu().actions()
    return seen + window.findChildren(QAction)


def test_no_menu_text_loses_an_ampersand_to_a_mnemonic(window):
    texts = [a.text() for a in _menu_actions(window) if a.text()]
    assert any("Nichol" in t for t in texts)
    for text in texts:
        # a mnemonic is '&' before a letter or digit; '& ' (as in "Nichol & Dhariwal") would
        # underline the space: Qt shows "Nichol _Dhariwal"
        for m in re.finditer(r"&(.)", text):
            assert m.group(1) == "&" or m.group(1).isalnum(), f"stray mnemonic in {text!r}"
    assert any("Nichol & Dhariwal" in _shown(t) for t in texts)


def test_window_title_names_the_app_once(window):
    name = "DDPM Desktop"  # ui/app.py's applicationDisplayName (the tests' app has its own)
    # the platform appends the display name to a title that does not end with it
    shown = window.windowTitle() if window.windowTitle().endswith(name) else f"{window.windowTitle()} — {name}"
    assert shown.count("DDPM Desktop") == 1


def test_an_opened_photo_is_captioned_by_its_file_name(window, tmp_path):
    path = tmp_path / "photo.png"
    arr = np.zeros((64, 64), np.uint8)
    arr[10:54, 28:36] = 255
    Image.fromarray(arr).save(path)
    panel = window.input_panel
    assert panel.canvas_panel.open_image(str(path))
    assert panel.state.digit_source == "photo.png"


def test_live_readout_says_not_a_digit(qtbot):
    from ddpm_desktop.core.live import LiveResult
    from ddpm_desktop.ui.live_state import LiveState
    from ddpm_desktop.ui.widgets.live_view import LiveView

    state = LiveState()
    state.set_T(200)
    view = LiveView(state)
    qtbot.addWidget(view)
    state.set_enabled(True)
    blank = np.zeros((28, 28), np.float32)
    state.set_result(LiveResult(blank, blank, blank, 8, 1.0, 2, 5.0, 1, digit=False))
    assert view.info_label.text().startswith("not a digit") and "reads 8" not in view.info_label.text()
    state.set_result(LiveResult(blank, blank, blank, 3, 0.97, 2, 5.0, 2, digit=True))
    assert view.info_label.text().startswith("reads 3 (p = 0.97)")
