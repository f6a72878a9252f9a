"""Texts the app shows: no menu entry loses a literal '&' to a mnemonic underscore, the window
title names the app once, and an opened photo is captioned by its file name."""
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
