"""Workspaces: each shows exactly its docks, the choice is remembered in QSettings and read
back by a new window, Reset layout restores the current one, and a first start offers the
"start here" page once."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDockWidget

from ddpm_desktop.ui.main_window import DOCKS, MainWindow
from ddpm_desktop.ui.workspaces import WORKSPACES
from settle import settle


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def make_window(qtbot, settings):
    w = MainWindow(settings=settings, load_model=False, load_dataset=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def shown_docks(w) -> set[str]:
    """The DockSpec keys of the docks shown (visible, in front of their tab group or not)."""
    by_name = {spec.object_name: spec.key for spec in DOCKS}
    return {by_name[d.objectName()] for d in w.findChildren(QDockWidget) if not d.isHidden()}


def test_switching_shows_exactly_the_workspace_docks(qtbot, settings):
    w = make_window(qtbot, settings)
    for number, ws in enumerate(WORKSPACES):
        w.menus.workspace_actions[ws.name].trigger()
        settle()  # the docks shown and hidden laid out, the front one raised
        assert shown_docks(w) == set(ws.docks), ws.name
        assert w.histogram_view.isVisible() == ("histogram" in ws.plots)
        assert w.decision_view.isVisible() == ("decision" in ws.plots)
        front = w.docks[ws.front]
        assert front.isVisible() and not front.visibleRegion().isEmpty(), ws.name
        assert w.workspace_bar.currentIndex() == number
        assert w.menus.workspace_actions[ws.name].shortcut().toString() == f"Ctrl+{number}"
    # the tab bar switches too
    w.workspace_bar.setCurrentIndex(1)
    assert w.workspace == WORKSPACES[1].name and shown_docks(w) == set(WORKSPACES[1].docks)
    w.close()


def test_the_workspace_survives_a_new_window(qtbot, settings):
    w = make_window(qtbot, settings)
    w.set_workspace("inpaint")
    w.close()
    again = make_window(qtbot, settings)
    assert again.workspace == "inpaint" and shown_docks(again) == {"inpaint"}
    assert again.menus.workspace_actions["inpaint"].isChecked()
    assert again.workspace_bar.tabText(again.workspace_bar.currentIndex()) == "Inpaint"
    again.close()


def test_an_unknown_saved_workspace_is_ignored(qtbot, settings):
    settings.setValue("window/workspace", "nonsense")
    w = make_window(qtbot, settings)
    assert w.workspace == "all"
    assert shown_docks(w) == {spec.key for spec in DOCKS if not spec.hidden}
    w.close()


def test_reset_layout_restores_the_current_workspace(qtbot, settings):
    w = make_window(qtbot, settings)
    w.set_workspace("train")
    w.sampler_dock.show()
    w.training_dock.setFloating(True)
    w.maths_dock.show()
    settle()
    w.reset_layout()
    settle()
    assert shown_docks(w) == {"training"} and not w.training_dock.isFloating()
    assert w.workspace == "train"
    w.close()


def test_a_first_start_offers_the_start_page_once(qtbot, settings):
    w = make_window(qtbot, settings)
    w.offer_start_page()
    page = w.start_page
    assert page is not None and page.isVisible()
    page.workspace_buttons["reverse"].click()
    assert not page.isVisible() and w.workspace == "reverse"
    assert shown_docks(w) == {"sampler"}
    w.start_page = None
    w.offer_start_page()  # dismissed once: not again
    assert w.start_page is None
    w.close()
    fresh = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    assert fresh.value("window/start_seen", False, type=bool)


def test_the_start_page_leads_to_the_first_lesson(qtbot, settings):
    w = make_window(qtbot, settings)
    w.offer_start_page()
    w.start_page.lesson_button.click()
    assert w.workspace == "teach" and w.lesson_dock.isVisible()
    assert w.session.lesson.lesson is not None
    w.close()


def test_a_window_with_a_saved_workspace_skips_the_start_page(qtbot, settings):
    settings.setValue("window/workspace", "train")
    w = make_window(qtbot, settings)
    w.offer_start_page()
    assert w.start_page is None and w.workspace == "train"
    w.close()
