"""Readable at every size: on 1280×720, 1366×768 and 1920×1080 screens, with lecture fonts
and without, dark, after View > Theme switches dark -> light and after light -> dark, in
every workspace every plot with axes is at least 90 px tall, every text drawn in a plot meets
WCAG AA (4.5:1) against its background, the workspace's primary action shows inside its dock's
viewport without scrolling, and no dock on screen scrolls sideways. A first window and the 2-D
window fit the screen, and a large screen gets a large window."""
from __future__ import annotations

import pyqtgraph as pg
import torch
import pytest
from PySide6.QtCore import QPoint, QSize
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication, QDockWidget, QScrollArea

from ddpm_desktop.ui import screen_fit, theme
from plot_texts import failures
from settle import settle

SIZES = [(1280, 720), (1366, 768), (1920, 1080)]
LEAST_PLOT_HEIGHT = 90


def plots_with_axes(root):
    """Shown pyqtgraph views holding a PlotItem whose left or bottom axis shows."""
    out = []
    for view in root.findChildren(pg.GraphicsView):
        if not view.isVisible():
            continue
        items = [i for i in view.scene().items() if isinstance(i, pg.PlotItem)]
        if any(i.getAxis(side).isVisible() for i in items for side in ("left", "bottom")):
            out.append(view)
    return out


# A legend may cover at most this share of its plot's view box (a larger one hides the curves).
MOST_LEGEND_SHARE = 0.4


def crowded_plots(root) -> list[str]:
    """Shown plots whose title is wider than the plot, whose t (bottom) axis's tick labels run
    into each other, or whose legend covers more than MOST_LEGEND_SHARE of the view box or
    more than 3/4 of its width or height."""
    out = []
    for view in plots_with_axes(root):
        name = type(view.parent()).__name__
        for item in view.scene().items():
            if isinstance(item, pg.PlotItem):
                title = item.titleLabel
                if title.isVisible() and title.text:
                    wide = title.item.boundingRect().width()
                    if wide > view.width():
                        out.append(f"{name}: title {title.text!r} {wide:.0f} px on a plot "
                                   f"{view.width()} px wide")
            elif (isinstance(item, pg.AxisItem) and item.orientation == "bottom"
                  and item.isVisible() and item.style.get("showValues", True)):
                image = QImage(8, 8, QImage.Format.Format_RGB32)  # (outlives the painter)
                painter = QPainter(image)
                specs = item.generateDrawSpecs(painter)
                painter.end()
                texts = [] if specs is None else specs[2]
                out += [f"{name}: tick labels {a!r} and {b!r} run into each other"
                        for (ra, _fa, a), (rb, _fb, b) in zip(texts, texts[1:])
                        if ra.intersects(rb)]
            elif isinstance(item, pg.LegendItem) and item.isVisible():
                box = item.parentItem().boundingRect() if item.parentItem() else None
                leg = item.boundingRect()
                if box is None or box.width() <= 0 or box.height() <= 0:
                    continue
                if (leg.width() * leg.height() > MOST_LEGEND_SHARE * box.width() * box.height()
                        or leg.width() > 0.75 * box.width() or leg.height() > 0.75 * box.height()):
                    out.append(f"{name}: legend {leg.width():.0f}x{leg.height():.0f} over "
                               f"{box.width():.0f}x{box.height():.0f}")
    return out


def on_screen_docks(w):
    return [d for d in w.findChildren(QDockWidget)
            if d.isVisible() and not d.visibleRegion().isEmpty()]


def in_viewport(widget, dock) -> bool:
    """`widget` lies wholly inside the visible part (viewport) of `dock`'s scroll area."""
    viewport = dock.widget().viewport()
    top_left = widget.mapTo(viewport, QPoint(0, 0))
    return (widget.isVisible() and top_left.y() >= 0 and top_left.x() >= 0
            and top_left.y() + widget.height() <= viewport.height()
            and top_left.x() + widget.width() <= viewport.width())


@pytest.fixture
def on_screen(monkeypatch):
    """Fix the window's screen at a size (the offscreen platform's own is 800×800)."""
    def set_size(size):
        avail = QSize(*size)
        monkeypatch.setattr(screen_fit, "available_size", lambda _window: avail)
        return avail

    return set_size  # tests/ui/conftest.py sets the look back once the windows are gone


# (size, lecture) cases, all with the slow tests: each builds a whole window and checks every
# workspace three times (3-4 s of CPU a case, the quick tier's costliest test); the quick tier
# keeps the dialogs and the 2-D window at 1280x720 and the workspace and theme-switch tests
CASES = [pytest.param(size, lecture, id=f"{size[0]}x{size[1]}-{'lecture' if lecture else 'normal'}",
                      marks=pytest.mark.slow)
         for size in SIZES for lecture in (False, True)]


@pytest.mark.parametrize("size, lecture", CASES)
def test_every_workspace_is_readable_before_and_after_theme_switches(qtbot, on_screen, size,
                                                                     lecture):
    """One window a case, started dark, then switched at run time to light and back."""
    from ddpm_desktop.ui.main_window import MainWindow

    avail = on_screen(size)
    app = QApplication.instance()
    theme.apply_theme(app, "dark")
    theme.set_lecture(app, lecture, avail)
    w = MainWindow(load_model=False, load_dataset=False)
    qtbot.addWidget(w)
    w.show()
    w.resize(avail)
    qtbot.waitExposed(w)
    assert (w.width(), w.height()) == size
    check_workspaces(w, qtbot, (size, lecture, "dark"))
    for name in ("light", "dark"):  # dark -> light, then light -> dark
        w.set_theme(name)
        assert (w.width(), w.height()) == size
        check_workspaces(w, qtbot, (size, lecture, f"switched to {name}"))
    w.close()


def check_workspaces(w, qtbot, case) -> None:
    """Every workspace of window `w` in turn: plots tall enough, plot texts readable, the
    primary action on screen, no dock scrolling sideways."""
    from ddpm_desktop.ui.workspaces import WORKSPACES

    for ws in WORKSPACES:
        w.set_workspace(ws.name)
        settle()  # the deferred re-fit after docks were shown and hidden, and its layout
        where = (*case, ws.name)
        plots = plots_with_axes(w)
        assert plots, where
        short = [(type(p.parent()).__name__, p.height()) for p in plots
                 if p.height() < LEAST_PLOT_HEIGHT]
        assert short == [], where
        assert crowded_plots(w) == [], where
        docks = on_screen_docks(w)
        assert {d.objectName() for d in docks} >= {w.docks[ws.front].objectName()}, where
        sideways = [d.objectName() for d in docks if isinstance(d.widget(), QScrollArea)
                    and d.widget().horizontalScrollBar().isVisible()]
        assert sideways == [], where
        if ws.primary is not None:
            button = w.primary_action()
            holder = [d for d in docks if d.widget().isAncestorOf(button)]
            assert holder and in_viewport(button, holder[0]), (where, button.text())
        assert failures(w) == [], where


def test_the_check_sees_a_button_scrolled_away(qtbot):
    from PySide6.QtWidgets import QMainWindow, QPushButton, QVBoxLayout, QWidget

    w = QMainWindow()
    qtbot.addWidget(w)
    panel = QWidget()
    panel.setMinimumHeight(2000)
    button = QPushButton("Go", panel)
    QVBoxLayout(panel).addWidget(button)
    button.move(0, 1500)
    panel.layout().setContentsMargins(0, 1500, 0, 0)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(panel)
    dock = QDockWidget("D")
    dock.setWidget(scroll)
    w.addDockWidget(screen_fit.Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    w.resize(600, 400)
    w.show()
    qtbot.waitExposed(w)
    assert not in_viewport(button, dock)
    scroll.ensureWidgetVisible(button)
    assert in_viewport(button, dock)


def test_a_first_window_takes_a_large_screen(qtbot, on_screen):
    from ddpm_desktop.ui.main_window import MainWindow

    on_screen((1920, 1080))
    w = MainWindow(load_model=False, load_dataset=False)
    qtbot.addWidget(w)
    assert w.width() >= 0.85 * 1920 and w.height() >= 0.85 * 1080
    assert w.width() <= 1920 and w.height() <= 1080
    w.close()


# The quick tier keeps the smallest screen; the larger ones (and, below, compare mode at
# 1366x768 and the dialogs on a large screen) run with the slow tests: each builds and tears
# down whole windows, 4-10 s of the quick tier's CPU apiece.
@pytest.mark.parametrize("size", [(1280, 720),
                                  pytest.param((1366, 768), marks=pytest.mark.slow),
                                  pytest.param((1920, 1080), marks=pytest.mark.slow)],
                         ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_2d_window_fits_the_screen(qtbot, on_screen, size):
    from ddpm_desktop.ui.main_window import MainWindow
    from ddpm_desktop.ui.toy2d_window import build_toy2d_window

    on_screen(size)
    w = MainWindow(load_model=False, load_dataset=False)
    qtbot.addWidget(w)
    toy = build_toy2d_window(w.session, w)
    assert toy.width() <= size[0] and toy.height() <= size[1]
    hint = toy.minimumSizeHint()
    assert hint.width() <= size[0] and hint.height() <= size[1]
    if size == (1920, 1080):  # a large screen: a large window, not 1600×850 in a corner
        assert toy.width() >= 0.85 * size[0] and toy.height() >= 0.85 * size[1]
    toy.show()
    qtbot.waitExposed(toy)
    plots = plots_with_axes(toy)
    assert plots and min(p.height() for p in plots) >= LEAST_PLOT_HEIGHT
    toy.close()
    w.close()


class _HalfNoise(torch.nn.Module):
    """The U-Net's call signature; predicts half of x_t as the noise (a run in milliseconds)."""

    null_label = 10

    def forward(self, x, log_snr, labels=None):
        return 0.5 * x


@pytest.mark.parametrize("size, lecture", [
    pytest.param((1280, 720), True, id="1280x720-lecture", marks=pytest.mark.slow),
    pytest.param((1366, 768), False, id="1366x768-normal", marks=pytest.mark.slow),
    pytest.param((1280, 720), False, id="1280x720-normal", marks=pytest.mark.slow),
    pytest.param((1366, 768), True, id="1366x768-lecture", marks=pytest.mark.slow)])
def test_compare_mode_keeps_the_plots_and_the_kl_readout_whole(qtbot, on_screen, size, lecture):
    """Two compared samplers add a line each to the KL readout under the histogram; the plots
    keep their 90 px and the readout shows every line (it took the histogram's height, then,
    with the plots held at 90 px, was cut)."""
    from ddpm_desktop.ui.main_window import MainWindow
    from ddpm_desktop.ui.state import SamplerSettings
    from ddpm_desktop.ui.workspaces import WORKSPACES

    avail = on_screen(size)
    theme.set_lecture(QApplication.instance(), lecture, avail)
    w = MainWindow(load_model=False, load_dataset=False)
    qtbot.addWidget(w)
    w.show()
    w.resize(avail)
    qtbot.waitExposed(w)
    w.session.set_model(_HalfNoise(), "half noise")
    with qtbot.waitSignal(w.session.reverse.run_finished, timeout=10_000):
        w.session.request_sampling(SamplerSettings(sampler="ddim", steps=6, compare=True,
                                                   sampler_b="dpmpp"))
    readout = w.histogram_view.kl_label
    assert readout.text().count("<br>") == 2  # the forward line and one line a lane
    for ws in WORKSPACES:
        if "histogram" not in ws.plots:
            continue
        w.set_workspace(ws.name)
        settle()  # the deferred re-fit after docks were shown and hidden, and its layout
        # the readout's new minimum reaches the central splitter through a layout request
        qtbot.waitUntil(lambda: readout.height() >= readout.heightForWidth(readout.width()),
                        timeout=2000)
        short = [(type(p.parent()).__name__, p.height()) for p in plots_with_axes(w)
                 if p.height() < LEAST_PLOT_HEIGHT]
        assert short == [], (size, lecture, ws.name)
    w.close()


def open_every_dialog(w) -> dict:
    """Every dialog and window the main window `w` opens (message boxes and the platform's
    file and number pickers aside), opened as the app opens them: {name: top-level widget}."""
    from ddpm_desktop.ui.crash_dialog import show_crash
    from ddpm_desktop.ui.toy2d_window import build_toy2d_window
    from ddpm_desktop.ui.twins_window import build_twins_window

    w.open_export()
    w.show_guide()
    w.offer_start_page()
    w.results_card.show()
    crash = show_crash(w, "A made-up failure", "Traceback (most recent call last):\n  ...",
                       w.session)
    return {"export": w.export_dialog, "guide": w.guide_dialog, "start": w.start_page,
            "results": w.results_card, "crash": crash, "2-D": build_toy2d_window(w.session, w),
            "twins": build_twins_window(w.session, w)}


@pytest.mark.parametrize("size, lecture", [
    pytest.param((1280, 720), True, id="1280x720-lecture"),
    pytest.param((1920, 1080), False, id="1920x1080-normal", marks=pytest.mark.slow),
    pytest.param((1366, 768), False, id="1366x768-normal", marks=pytest.mark.slow)])
def test_every_dialog_fits_the_screen_and_grows_on_a_large_one(qtbot, on_screen, size,
                                                                 lecture):
    from ddpm_desktop.ui.main_window import MainWindow

    avail = on_screen(size)
    theme.set_lecture(QApplication.instance(), lecture, avail)
    w = MainWindow(load_model=False, load_dataset=False)
    qtbot.addWidget(w)
    w.show()
    dialogs = open_every_dialog(w)
    assert w.start_page is not None  # a fresh settings file: the first start's page
    for name, d in dialogs.items():
        hint = d.minimumSizeHint()
        assert d.width() <= size[0] and d.height() <= size[1], (name, d.size(), size)
        assert hint.width() <= size[0] and hint.height() <= size[1], (name, hint, size)
        if size == (1920, 1080):  # a large screen: a large window, not the 1400-wide design
            assert d.width() >= screen_fit.DIALOG_SHARE * size[0] * 0.99, (name, d.size())
            assert d.height() >= screen_fit.DIALOG_SHARE * size[1] * 0.99, (name, d.size())
    for d in dialogs.values():
        d.close()
    w.close()


@pytest.mark.parametrize("T, fits, step", [(1000, 6, 200), (1000, 3, 500), (1000, 2, 1000),
                                           (1000, 11, 100), (50, 6, 10), (200, 5, 50)])
def test_t_ticks_hold_as_many_labels_as_fit(T, fits, step):
    from ddpm_desktop.ui.widgets.histogram_view import t_tick_step

    assert t_tick_step(T, fits) == step
    assert T / step + 1 <= fits  # labels at 0, step, ..., T
