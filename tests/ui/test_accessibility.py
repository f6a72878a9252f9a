"""Screen reader and keyboard: every enabled control has an accessible name (and its tooltip as
the description), and one accessible line describes the current frame."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from ddpm_desktop.ui.accessibility import first_sentence, plain
from ddpm_desktop.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot):
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


@pytest.mark.parametrize("tip, sentence", [
    ("Start training, or continue the run", "Start training, or continue the run"),
    ("Load a checkpoint: use its weights, continue its run", "Load a checkpoint"),
    ("β_1, the first step's noise variance (e.g. 1e-4)", "β_1, the first step's noise variance "
                                                          "(e.g. 1e-4)"),
    ("Shape of β_t. Cosine ignores β_1", "Shape of β_t"),
    ("<b>Bold</b> first line<br>second", "Bold first line"),
    ("paste; repaint before every step", "paste"),
])
def test_first_sentence_of_a_tooltip(tip, sentence):
    assert first_sentence(tip) == sentence


def test_plain_drops_tags_and_entities():
    assert plain("<b>a</b> &amp; <span style='color:#fff'>b</span>") == "a & b"


def test_every_enabled_focusable_widget_has_an_accessible_name(window):
    focusable = [w for w in window.findChildren(QWidget)
                 if w.isEnabled() and w.focusPolicy() != Qt.FocusPolicy.NoFocus]
    assert len(focusable) > 40  # the walk sees the window's controls
    unnamed = [f"{type(w).__name__} in {type(w.parentWidget()).__name__} "
               f"(tooltip {w.toolTip()[:40]!r})"
               for w in focusable if not w.accessibleName().strip()]
    assert unnamed == []


def test_names_come_from_labels_texts_and_tooltips(window):
    v = window.forward_view
    assert v.slider.accessibleName() == "Scrub through t"  # its tooltip
    assert v.play_button.accessibleName() == "Play / pause (Space)"  # an icon-only button
    hist = window.histogram_view.hist_plot
    assert hist.accessibleName() == hist.getPlotItem().titleLabel.text  # a plot: its title
    assert hist.accessibleDescription() == plain(hist.toolTip())  # ... its tooltip describes it
    for w in window.findChildren(QWidget):
        if w.isEnabled() and w.toolTip() and w.focusPolicy() != Qt.FocusPolicy.NoFocus:
            assert w.accessibleDescription(), type(w).__name__  # the tooltip, as plain text
            assert "<" not in w.accessibleDescription() or "<" in plain(w.toolTip())


@pytest.mark.slow
def test_one_accessible_line_describes_the_current_frame(window, qtbot):
    s = window.session
    f = s.forward
    qtbot.waitUntil(lambda: f.frames is not None)
    line = window.frame_description
    seen = []
    line.changed.connect(seen.append)
    t = max(1, f.T // 4)
    f.set_frame(t)
    text = window.forward_view.slider.accessibleDescription()
    assert seen and seen[-1] == text == window.forward_view.pane.accessibleDescription()
    alpha_bar = float(np.prod(1.0 - np.asarray(f.schedule.betas, dtype=np.float64)[:t]))
    assert f"Frame t = {t} of {f.T}" in text
    assert f"alpha-bar t = {alpha_bar:.3g}" in text
    assert f"histogram {float(f.kl_hist[t]):.3g}" in text
    assert "No classifier reading yet." in text

    # the classifier's reading of the reverse chain at its current frame
    probs = np.full((2, 10), 0.01)
    probs[0, 3], probs[1, 7] = 0.91, 0.91
    s.decision.clear("DDPM")
    s.decision.append([900, 400], [0, 5], probs)
    text = window.forward_view.slider.accessibleDescription()
    assert "Classifier reads 3 with p = 0.91 at reverse step t = 900." in text
    # a reading the reader flags says so, as every other view of it does
    s.decision.clear("DDPM")
    s.decision.append([900, 400], [0, 5], probs, digits=[False, True])
    text = window.forward_view.slider.accessibleDescription()
    assert "not a digit at reverse step t = 900" in text and "reads 3" not in text
    f.set_frame(0)
    assert window.forward_view.slider.accessibleDescription().startswith(
        f"Frame t = 0 of {f.T}, alpha-bar t = 1.")


def _tab_to(qtbot, window, target, limit=3):
    """Press Tab until `target` has the keyboard focus, as a keyboard user would; a sensible
    tab order gets there within `limit` presses."""
    for _ in range(limit):
        if QApplication.focusWidget() is target:
            return
        qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_Tab)
    raise AssertionError(f"Tab never reached {target.text()!r}")


@pytest.mark.slow
def test_a_lesson_can_be_done_with_the_keyboard_alone(window, qtbot):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    panel, state = window.lesson_panel, window.session.lesson
    qtbot.keyClick(window, Qt.Key.Key_F2)  # Help > Lessons
    qtbot.waitUntil(lambda: panel.isVisible() and QApplication.focusWidget() is panel.lesson_combo)
    qtbot.keyClick(panel.lesson_combo, Qt.Key.Key_Down)  # the first lesson
    assert state.step is not None and state.index == 0
    steps = state.count
    for k in range(steps):
        _tab_to(qtbot, window, panel.reveal_button)
        qtbot.keyClick(panel.reveal_button, Qt.Key.Key_Return)
        assert state.revealed and panel.answer_label.isVisible()
        if k + 1 < steps:
            _tab_to(qtbot, window, panel.next_button)
            qtbot.keyClick(panel.next_button, Qt.Key.Key_Return)
            assert state.index == k + 1 and not state.revealed
    assert state.index == steps - 1 and state.revealed  # the lesson's last answer is shown
