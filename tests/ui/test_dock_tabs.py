"""The default dock layout on the screens a lecture hall has: every tab's title shows in full
(no "Samp… Traini…") at 1400×900 and 1280×720, with and without lecture fonts, and Reset
layout gives back exactly the layout a fresh window starts with."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication, QDockWidget, QStyle, QStyleOptionTab, QTabBar, QWidget

from ddpm_desktop.ui import screen_fit, theme
from settle import settle

SIZES = [(1400, 900), (1280, 720)]


def elided_tabs(bar: QTabBar) -> list[tuple[str, int, int]]:
    """(title, width of its text rect, width the title needs) of each tab whose title does not
    fit: the style's text rect of the tab (SE_TabBarTabText) is narrower than the title in the
    bar's font, or the bar itself elided the text it would paint."""
    out = []
    for i in range(bar.count()):
        title = bar.tabText(i)
        opt = QStyleOptionTab()
        bar.initStyleOption(opt, i)
        rect = bar.style().subElementRect(QStyle.SubElement.SE_TabBarTabText, opt, bar)
        need = bar.fontMetrics().horizontalAdvance(title)
        if opt.text != title or rect.width() < need:
            out.append((title, rect.width(), need))
    return out


@pytest.fixture
def screen_of(monkeypatch):
    """A window on a screen of the given size (the offscreen platform's own is 800×800, and
    screen_fit re-fits to the window's screen whenever a dock is shown or raised)."""
    def make(qtbot, size, lecture=False):
        from ddpm_desktop.ui.main_window import MainWindow

        avail = QSize(*size)
        monkeypatch.setattr(screen_fit, "available_size", lambda _window: avail)
        app = QApplication.instance()
        if lecture:
            theme.set_lecture(app, True, avail)
        w = MainWindow(load_model=False, load_dataset=False)
        qtbot.addWidget(w)
        w.show()
        w.resize(avail)
        screen_fit.fit_docks(w, avail)
        qtbot.waitExposed(w)
        settle()  # the deferred re-fit after the docks were shown, and its layout
        assert (w.width(), w.height()) == size
        return w

    yield make  # tests/ui/conftest.py deletes the windows, then sets lecture mode back


def dock_tab_bars(w) -> list[QTabBar]:
    """The window's own tab bars (tabbed docks), the visible ones."""
    return [bar for bar in w.findChildren(QTabBar) if bar.parent() is w and bar.isVisible()]


@pytest.mark.slow
@pytest.mark.parametrize("lecture", [False, True], ids=["normal", "lecture"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_no_tab_title_is_elided(qtbot, screen_of, size, lecture):
    w = screen_of(qtbot, size, lecture)
    w.show_lessons()  # the Lessons dock adds a tab to the Input's group: the widest case
    settle()
    bars = dock_tab_bars(w)
    titles = sorted(bar.tabText(i) for bar in bars for i in range(bar.count()))
    assert {"Sampler", "Training", "Inpaint", "Completions", "Maths", "Lessons", "Input"} \
        <= set(titles)
    # the tab widgets inside the docks (Dataset | Draw, the loss plots) too
    for bar in w.findChildren(QTabBar):
        if bar.isVisible():
            assert elided_tabs(bar) == [], (size, lecture, bar.parent().objectName())


def test_the_check_sees_an_elided_title(qtbot):
    from PySide6.QtCore import Qt

    bar = QTabBar()
    qtbot.addWidget(bar)
    bar.setElideMode(Qt.TextElideMode.ElideRight)  # as the window's dock tab bars elide
    for title in ("Sampler", "Training", "Completions"):
        bar.addTab(title)
    bar.setUsesScrollButtons(False)
    bar.show()
    bar.resize(bar.sizeHint().width() // 2, bar.sizeHint().height())
    settle()
    assert [t for t, _, _ in elided_tabs(bar)]


def layout_of(w) -> dict:
    """Each dock: (its area, whether it floats or is hidden, the docks tabbed with it)."""
    docks = w.findChildren(QDockWidget)
    return {d.objectName(): (w.dockWidgetArea(d), d.isFloating(), d.isHidden(),
                             sorted(o.objectName() for o in w.tabifiedDockWidgets(d)))
            for d in docks}


def front_docks(w) -> set[str]:
    """The dock in front of each tab group: the one of the group whose region shows (the
    window's tab bars are no oracle: QMainWindow hides the ones a relayout retired later)."""
    return {d.objectName() for d in w.findChildren(QDockWidget)
            if w.tabifiedDockWidgets(d) and not d.visibleRegion().isEmpty()}


def test_reset_layout_gives_the_default_layout(qtbot, screen_of):
    from PySide6.QtCore import Qt

    w = screen_of(qtbot, (1400, 900))
    fresh = layout_of(w)
    shown = front_docks(w)
    assert shown == {"InputDock", "SamplerDock"}
    # rearrange: float one, move one to the other side, close one, open the lessons
    w.maths_dock.setFloating(True)
    w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, w.training_dock)
    w.completions_dock.hide()
    w.show_lessons()
    w.inpaint_dock.raise_()
    settle()
    assert layout_of(w) != fresh and front_docks(w) != shown
    w.reset_layout()
    settle()
    assert layout_of(w) == fresh
    assert front_docks(w) == shown


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
def test_the_draw_canvas_takes_the_input_docks_free_height(qtbot, screen_of, size):
    """The Draw tab's canvas grows into the Input dock's free height (it stayed at its 140 px
    minimum at 1400×900, with the free space empty below the noise box)."""
    w = screen_of(qtbot, size)
    panel = w.input_panel
    panel.tabs.setCurrentWidget(panel.canvas_panel)
    settle()
    canvas = panel.canvas_panel.canvas
    assert canvas.height() >= 200 if size == (1400, 900) else canvas.height() >= 140, canvas.height()
    # nothing of the dock is left as a gap under its last group: the tabs hold the slack
    last_bottom = max(c.geometry().bottom() for c in panel.findChildren(QWidget) if c.parent() is panel)
    assert panel.height() - last_bottom < 40, (panel.height(), last_bottom)
