"""DrawCanvas / CanvasPanel: strokes -> a centred MNIST-style digit; undo, clear, eraser."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from ddpm_desktop.ui.widgets import canvas as canvas_mod
from ddpm_desktop.ui.widgets.canvas import CanvasPanel, DrawCanvas, stamp_segment


@pytest.fixture
def canvas(qtbot):
    w = DrawCanvas(size=280)
    qtbot.addWidget(w)
    w.resize(280, 280)
    w.show()
    qtbot.waitExposed(w)
    return w


def draw(qtbot, widget, points, button=Qt.MouseButton.LeftButton):
    pts = [QPoint(*p) for p in points]
    qtbot.mousePress(widget, button, pos=pts[0])
    for p in pts[1:]:
        qtbot.mouseMove(widget, pos=p)
    qtbot.mouseRelease(widget, button, pos=pts[-1])


def centre_of_mass(x28):
    ink = (np.asarray(x28) + 1.0) / 2.0
    yy, xx = np.indices(ink.shape)
    m = ink.sum()
    return (ink * yy).sum() / m, (ink * xx).sum() / m


def test_stamp_segment_is_soft_and_round():
    buf = np.zeros((50, 50), np.float32)
    stamp_segment(buf, (25.0, 25.0), (25.0, 25.0), radius=10)
    assert buf[25, 25] == pytest.approx(1.0)
    assert buf[25, 40] == 0.0 and buf[40, 25] == 0.0
    edge = buf[25, 25 + 8]  # between the hard core and the rim
    assert 0.0 < edge < 1.0
    np.testing.assert_allclose(buf, buf.T, atol=1e-6)  # round
    # a wider soft eraser takes the soft rim too
    stamp_segment(buf, (25.0, 25.0), (25.0, 25.0), radius=24, erase=True)
    assert buf.max() == 0.0


def test_stroke_emits_centred_digit(qtbot, canvas):
    # a stroke in the top-left corner: the digit still comes out fitted and centred
    with qtbot.waitSignal(canvas.digit_changed, timeout=2000) as blocker:
        draw(qtbot, canvas, [(40, 30), (45, 60), (50, 90), (55, 120)])
    x = blocker.args[0]
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.shape == (28, 28)
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert (x > 0).sum() > 10  # real ink
    cy, cx = centre_of_mass(x)
    assert abs(cy - 14.0) < 1.0 and abs(cx - 14.0) < 1.0
    rows = np.flatnonzero((x > -1).any(axis=1))
    assert rows[-1] - rows[0] + 1 <= 21  # fitted into 20x20 like MNIST
    assert not canvas.is_empty() and canvas.can_undo()


def test_throttled_emits_during_a_long_stroke(qtbot, canvas):
    """The touch emits at once; then the repeating throttle timer emits what changed once a
    tick, however many moves came between; a tick with nothing new stops it; the release
    emits. The test drives the ticks (the timer's timeout), so no count hangs on the clock."""
    from PySide6.QtCore import QTimer

    from ddpm_desktop.ui.widgets.canvas import THROTTLE_MS

    throttle = canvas.findChild(QTimer)
    assert throttle.interval() == THROTTLE_MS and not throttle.isSingleShot()
    throttle.setInterval(3_600_000)  # never fires by itself during the test
    emits = []
    canvas.digit_changed.connect(emits.append)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(100, 50))
    assert len(emits) == 1 and throttle.isActive()  # the touch, at once
    for tick in range(1, 7):
        for k in range(4):  # several moves within one tick
            qtbot.mouseMove(canvas, pos=QPoint(100 + 12 * tick + 3 * k, 60 + 20 * tick + 5 * k))
        assert len(emits) == tick  # not one per move
        throttle.timeout.emit()
        assert len(emits) == tick + 1  # one a tick, with the newest ink
        np.testing.assert_array_equal(emits[-1], canvas.digit())
    throttle.timeout.emit()  # a tick with nothing new: no emit, and the timer stops
    assert len(emits) == 7 and not throttle.isActive()
    qtbot.mouseMove(canvas, pos=QPoint(150, 200))  # the pen moves on: that edit emits at once
    assert len(emits) == 8 and throttle.isActive()
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(160, 210))
    assert len(emits) == 9 and not throttle.isActive()  # and one on stroke end


def test_undo_restores_and_clear_blanks(qtbot, canvas):
    draw(qtbot, canvas, [(100, 60), (100, 200)])
    one = canvas.ink()
    draw(qtbot, canvas, [(60, 130), (200, 130)])
    assert not np.array_equal(canvas.ink(), one)
    with qtbot.waitSignal(canvas.digit_changed):
        canvas.undo()
    np.testing.assert_array_equal(canvas.ink(), one)

    with qtbot.waitSignal(canvas.digit_changed) as blocker:
        canvas.clear()
    assert canvas.is_empty()
    assert np.all(blocker.args[0] == -1.0)  # blank canvas -> all background
    assert canvas.digit() is None
    canvas.undo()  # clear is undoable too
    np.testing.assert_array_equal(canvas.ink(), one)
    canvas.undo()
    assert canvas.is_empty() and not canvas.can_undo()
    canvas.undo()  # nothing left: no error


def test_ctrl_z_undoes_when_focused(qtbot, canvas):
    draw(qtbot, canvas, [(100, 60), (100, 200)])
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert canvas.is_empty()


def test_eraser_and_right_button_erase(qtbot, canvas):
    draw(qtbot, canvas, [(60, 140), (220, 140)])
    before = canvas.ink().sum()
    draw(qtbot, canvas, [(140, 100), (140, 180)], button=Qt.MouseButton.RightButton)
    after_right = canvas.ink().sum()
    assert after_right < before
    canvas.set_eraser(True)
    draw(qtbot, canvas, [(80, 100), (80, 180)])
    assert canvas.ink().sum() < after_right


def test_brush_radius_scales_the_stroke(qtbot, canvas):
    canvas.set_brush_radius(4)
    draw(qtbot, canvas, [(140, 60), (140, 200)])
    thin = canvas.ink().sum()
    canvas.clear()
    canvas.set_brush_radius(20)
    draw(qtbot, canvas, [(140, 60), (140, 200)])
    assert canvas.ink().sum() > 3 * thin


def test_set_digit_shows_an_existing_digit(qtbot, canvas):
    from ddpm_desktop.core import data

    ds = data.load_bundled_mnist("test")
    x = data.to_model_range(ds.images[0])
    canvas.set_digit(x)  # no emit by default
    assert not canvas.is_empty()
    with qtbot.waitSignal(canvas.digit_changed) as blocker:
        canvas.set_digit(x, emit=True)
    y = blocker.args[0]
    # already MNIST-shaped, so preprocessing it again changes little
    assert np.abs(y - x).mean() < 0.15
    with pytest.raises(ValueError):
        canvas.set_digit(np.zeros((10, 10), np.float32))


def test_panel_tools_and_preview(qtbot):
    panel = CanvasPanel()
    qtbot.addWidget(panel)
    panel.resize(360, 420)
    panel.show()
    qtbot.waitExposed(panel)
    assert not panel.undo_action.isEnabled()
    c = panel.canvas
    with qtbot.waitSignal(panel.digit_changed):
        draw(qtbot, c, [(c.width() // 2, 40), (c.width() // 2, c.height() - 40)])
    assert panel.undo_action.isEnabled()
    assert panel.preview.pixmap() is not None and not panel.preview.pixmap().isNull()
    panel.size_slider.setValue(30)
    assert c.brush_radius == 30
    qtbot.mouseClick(panel.eraser_button, Qt.MouseButton.LeftButton)
    assert c.eraser
    qtbot.mouseClick(panel.pen_button, Qt.MouseButton.LeftButton)
    assert not c.eraser
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert c.is_empty()
    panel.undo_action.trigger()
    assert not c.is_empty()


def test_panel_open_image_errors_go_to_a_message_box(qtbot, tmp_path, monkeypatch):
    panel = CanvasPanel()
    qtbot.addWidget(panel)
    shown = []
    monkeypatch.setattr(canvas_mod, "warn", lambda parent, title, text: shown.append(text))
    bad = tmp_path / "not_an_image.png"
    bad.write_bytes(b"hello")
    assert panel.open_image(str(bad)) is False
    assert shown and "not_an_image.png" in shown[0]
    assert panel.canvas.is_empty()

    from PIL import Image

    img = np.zeros((64, 64), np.uint8)
    img[10:54, 28:36] = 255  # a "1"
    good = tmp_path / "one.png"
    Image.fromarray(img).save(good)
    with qtbot.waitSignal(panel.digit_changed):
        assert panel.open_image(str(good)) is True
    assert not panel.canvas.is_empty()


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_canvas_colours_come_from_the_theme(qtbot, qapp, theme):
    from ddpm_desktop.ui.theme import dark_palette, light_palette, plot_colors, rgb

    palette = dark_palette() if theme == "dark" else light_palette()
    colors = plot_colors(palette)
    before = qapp.palette()
    qapp.setPalette(palette)
    try:
        panel = CanvasPanel()
        qtbot.addWidget(panel)
        panel.resize(360, 420)
        panel.show()
        qtbot.waitExposed(panel)
        c = panel.canvas
        for dx in (5, 0):  # two moves: the same position twice is no event
            qtbot.mouseMove(c, pos=QPoint(c.width() // 2 + dx, c.height() // 2))
        img = c.grab().toImage()
        side = min(c.width(), c.height())
        x0, y0 = (c.width() - side) // 2, (c.height() - side) // 2
        edge = img.pixelColor(x0, y0 + side // 3)
        assert (edge.red(), edge.green(), edge.blue()) == rgb(colors.outline)
        # the brush ring, antialiased over the black ink buffer: its brightest pixel is the role
        r = c.brush_radius * side / c.buffer_size
        cx, cy = c.width() // 2, c.height() // 2
        ring = [img.pixelColor(int(cx + r * np.cos(a)), int(cy + r * np.sin(a)))
                for a in np.linspace(0, 2 * np.pi, 24, endpoint=False)]
        want = np.array(rgb(colors.brush))
        assert min(np.abs(np.array([q.red(), q.green(), q.blue()]) - want).sum()
                   for q in ring) < 60
        assert colors.outline in panel.preview.styleSheet()
    finally:
        qapp.setPalette(before)


def test_the_displayed_pixels_follow_the_ink(qtbot, canvas):
    # the canvas converts only the box a stroke touched: it must equal a whole conversion
    draw(qtbot, canvas, [(40, 40), (200, 90), (120, 240)])
    np.testing.assert_array_equal(canvas._u8, canvas_mod.ink_u8(canvas.ink()))
    draw(qtbot, canvas, [(60, 60), (190, 100)], button=Qt.MouseButton.RightButton)  # erase
    np.testing.assert_array_equal(canvas._u8, canvas_mod.ink_u8(canvas.ink()))
    canvas.undo()
    np.testing.assert_array_equal(canvas._u8, canvas_mod.ink_u8(canvas.ink()))


def test_a_partial_repaint_paints_what_a_full_one_does_there(qtbot, canvas):
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QImage, QRegion

    draw(qtbot, canvas, [(60, 60), (200, 120), (90, 230)])
    size = canvas.size()
    full = QImage(size, QImage.Format.Format_RGB32)
    full.fill(0)
    canvas.render(full)
    part = QImage(size, QImage.Format.Format_RGB32)
    part.fill(0xFF00FF)
    box = QRect(70, 50, 90, 60)
    canvas.render(part, box.topLeft(), QRegion(box))  # painted where it is on the canvas

    def rgb(img):
        a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
        return a[:, :4 * img.width()].reshape(img.height(), img.width(), 4)[..., :3].astype(int)

    f, p = rgb(full), rgb(part)
    inside = (slice(box.top(), box.bottom() + 1), slice(box.left(), box.right() + 1))
    assert f[inside].std() > 10                           # the box shows ink and background
    assert np.abs(f[inside] - p[inside]).max() <= 2       # the same pixels (filter rounding)
    outside = np.ones(f.shape[:2], bool)
    outside[inside] = False
    assert (p[outside] == [255, 0, 255]).all()            # and nothing outside the region


def test_emits_at_once_then_at_most_once_a_tick_while_the_ink_changes(qtbot, canvas):
    got = []
    canvas.digit_changed.connect(got.append)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(100, 60))
    assert len(got) == 1                                  # the first touch goes out at once
    for k in range(5):
        qtbot.mouseMove(canvas, pos=QPoint(100 + 5 * k, 80 + 20 * k))
    assert len(got) == 1                                  # moves within a tick wait for it
    canvas._on_throttle_timeout()
    assert len(got) == 2 and canvas._throttle.isActive()  # the tick sends the newest ink
    canvas._on_throttle_timeout()
    assert len(got) == 2 and not canvas._throttle.isActive()  # nothing new: the timer rests
    qtbot.mouseMove(canvas, pos=QPoint(180, 200))
    assert len(got) == 3                                  # a move after a rest: at once again
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(180, 200))
    assert len(got) == 4 and not canvas._throttle.isActive()
