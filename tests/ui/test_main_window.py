"""The main window: composition, shortcuts, errors as messages, settings persistence, drag
and drop, clean shutdown mid-sampling, and a real window screenshot under Xvfb."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from ddpm_desktop.ui.controller import live_threads
from ddpm_desktop.ui.main_window import MainWindow
from ddpm_desktop.ui.state import SamplerSettings

ROOT = Path(__file__).resolve().parents[2]


class SlowFakeModel(torch.nn.Module):
    null_label = 10

    def forward(self, x, log_snr, labels=None):
        import time

        time.sleep(0.01)
        return 0.5 * x


@pytest.fixture
def window(qtbot):
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def test_window_shows_all_views_together(window):
    for widget in (window.forward_view, window.reverse_view, window.histogram_view,
                   window.schedule_panel, window.input_panel, window.sampler_panel):
        assert widget.isVisible()
    assert window.session.forward.frames is not None  # a digit is loaded at start
    assert "No model yet" in window.model_label.text()
    assert not window.sampler_panel.sample_button.isEnabled()


@pytest.mark.slow
def test_space_plays_and_arrows_step(window, qtbot):
    fv = window.forward_view
    window.activateWindow()
    window.setFocus()
    window.menus.play_action.trigger()
    assert fv.playing
    window.menus.play_action.trigger()
    assert not fv.playing
    fv.go_start()
    shortcuts = {a.shortcut().toString(): a for a in window.actions()}
    assert {"Space", "Left", "Right", "Home", "End"} <= set(shortcuts)
    shortcuts["Right"].trigger()
    shortcuts["Right"].trigger()
    assert window.session.forward.t == 2
    shortcuts["End"].trigger()
    assert window.session.forward.t == window.session.forward.T


def test_schedule_change_updates_every_view(window):
    window.schedule_panel.T_slider.setValue(300)
    assert window.session.forward.T == 300
    assert window.forward_view.slider.maximum() == 300
    assert window.sampler_panel.t_start_spin.maximum() == 300
    x, _ = window.histogram_view.kl_hist_curve.getData()
    assert len(x) == 301


@pytest.mark.slow
def test_bad_value_becomes_a_message_box_not_a_crash(window, qtbot):
    window.schedule_panel.beta_end_edit.setText("-3")
    window.schedule_panel.beta_end_edit.editingFinished.emit()
    assert "between 0 and 1" in window.last_error
    box = window._error_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    box.close()


def test_open_and_drop_image(window, qtbot, tmp_path):
    from PIL import Image

    img = np.zeros((64, 64), np.uint8)
    img[10:54, 28:36] = 255
    path = tmp_path / "one.png"
    Image.fromarray(img).save(path)
    assert window.input_panel.open_image(path)
    assert window.session.input_state.digit_source == "one.png"

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(bad))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.last_error  # the error is reported ...
    assert window.session.input_state.digit_source == "one.png"  # ... and x_0 is kept
    window._error_box.close()


@pytest.mark.slow
def test_settings_and_layout_persist(qtbot):
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    w.schedule_panel.kind_combo.setCurrentText("cosine")
    w.schedule_panel.T_spin.setValue(500)
    w.sampler_panel.set_settings(SamplerSettings(sampler="dpmpp", steps=17, label=4))
    w.forward_view.set_speed(300)
    w.close()
    settings = QSettings()
    assert settings.value("schedule/T", type=int) == 500
    assert not settings.value("window/state", type=bytes) is None

    w2 = MainWindow(load_model=False)
    qtbot.addWidget(w2)
    p = w2.session.schedule_state.params
    assert (p["kind"], p["T"]) == ("cosine", 500)
    s = w2.sampler_panel.settings()
    assert (s.sampler, s.steps, s.label) == ("dpmpp", 17, 4)
    assert w2.forward_view.speed == 300
    w2.close()


@pytest.mark.slow
def test_hand_edited_settings_never_stop_the_app_opening(qtbot, capfd):
    """seed=3000000000 or steps=99999999999 raised OverflowError while the window was built,
    and the app never opened again until the settings file was deleted."""
    s = QSettings()
    s.setValue("input/seed", 3000000000)
    s.setValue("sampler/steps", 99999999999)
    s.setValue("sampler/guidance", "nan")
    s.setValue("training/batch_size", "lots")
    s.setValue("schedule/T", -5)
    s.setValue("export/fps", 1e308)
    s.sync()
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    assert w.session.input_state.seed == 0
    assert w.session.sampler.settings == SamplerSettings()
    from ddpm_desktop.ui.training_state import TrainingSettings

    assert w.session.training.settings.batch_size == TrainingSettings().batch_size == 128
    assert w.session.schedule.T == 1000
    assert w.session.export.settings.fps == 20
    err = capfd.readouterr().err
    assert "input/seed" in err and "sampler/steps" in err and "training/batch_size" in err
    w.close()


@pytest.mark.slow
def test_relaunch_restores_settings_but_runs_only_what_is_cheap(qtbot):
    """A relaunch silently re-ran the last request (DDPM at 1,000 steps: 30 s of CPU)."""
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    w.sampler_panel.set_settings(SamplerSettings(sampler="ddpm", steps=None))
    w.close()
    w2 = MainWindow(load_model=False)
    qtbot.addWidget(w2)
    assert w2.session.sampler.settings.steps is None  # restored
    w2.session.set_model(SlowFakeModel(), "fake")
    assert not w2.session.is_sampling() and not w2.session.rerun_pending  # nor queued
    assert "Press Sample" in w2.statusBar().currentMessage()
    w2.close()


@pytest.mark.slow
def test_back_to_the_bundled_model_from_the_file_menu(qtbot):
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    w.session.set_model(SlowFakeModel(), "a loaded file")
    with qtbot.waitSignal(w.session.model_state.changed, timeout=20_000,
                          check_params_cb=lambda: w.session.model_state.source == "bundled model"):
        w.menus.bundled_model_action.trigger()
    assert w.model_label.text() == "Model: bundled model"
    w.close()


def test_device_is_shown_and_selectable(qtbot):
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    d = w.session.device_state
    assert w.device_combo.currentData() == d.device
    assert w.device_combo.count() == len(d.available)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert d.device == expected
    w.close()


@pytest.mark.slow
def test_a_failing_job_shows_its_traceback_in_the_details(qtbot, monkeypatch):
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)

    class Broken(torch.nn.Module):
        null_label = 10

        def forward(self, x, log_snr, labels=None):
            raise RuntimeError("a bug in the network")

    w.session.set_model(Broken(), "broken")
    qtbot.waitUntil(lambda: "Sampling failed" in w.last_error, timeout=10_000)
    assert "RuntimeError: a bug in the network" in w.last_error
    assert "Traceback" in w.last_error_details
    assert w._error_box.report_text.count(w.last_error_details.strip()) == 1  # the crash dialog
    w._error_box.close()
    w.close()


def test_close_while_sampling_joins_every_thread(qtbot):
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    w.show()
    w.session.set_model(SlowFakeModel(), "slow fake")  # auto-samples once
    w.sampler_panel.set_settings(SamplerSettings(sampler="ddpm", steps=None))
    w.sample()
    qtbot.waitUntil(lambda: w.session.reverse.length() > 1, timeout=5000)
    assert w.session.is_sampling()
    w.close()
    assert live_threads() == []
    assert w.workers.shutdown()  # idempotent


def _xvfb_child(out: Path) -> str:
    return textwrap.dedent(f"""
        import sys, tempfile
        sys.path.insert(0, {str(ROOT)!r})
        from PySide6.QtCore import QSettings, QTimer
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                          tempfile.mkdtemp())
        from ddpm_desktop.ui.app import create_app
        app = create_app(["ddpm-desktop"])
        from ddpm_desktop.ui.main_window import MainWindow
        w = MainWindow()
        w.resize(1400, 900)
        w.show()
        def shoot():  # once the X server has mapped and exposed the window
            if not (w.windowHandle() and w.windowHandle().isExposed()):
                QTimer.singleShot(20, shoot)
                return
            ok = w.grab().save({str(out)!r})
            w.close()
            app.exit(0 if ok else 3)
        QTimer.singleShot(0, shoot)
        sys.exit(app.exec())
    """)


@pytest.mark.slow
def test_real_window_under_xvfb_is_not_blank(tmp_path):
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb): no real-window test")
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from screenshot import free_display
    finally:
        sys.path.pop(0)
    import os
    import time

    display = free_display(150)
    server = subprocess.Popen([xvfb, f":{display}", "-screen", "0", "1400x900x24",
                               "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    out = tmp_path / "window.png"
    try:
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{display}").exists():
                break
            time.sleep(0.05)
        env = dict(os.environ, DISPLAY=f":{display}", QT_QPA_PLATFORM="xcb",
                   OMP_NUM_THREADS="1")
        result = subprocess.run([sys.executable, "-c", _xvfb_child(out)], env=env,
                                capture_output=True, text=True, timeout=90)
    finally:
        server.terminate()
        server.wait(10)
    if result.returncode != 0 and "could not connect to display" in result.stderr.lower():
        pytest.skip(f"Xvfb did not accept connections: {result.stderr[-300:]}")
    assert result.returncode == 0, result.stderr[-3000:]
    from PIL import Image

    pixels = np.asarray(Image.open(out).convert("RGB"), dtype=np.float64)
    assert pixels.shape[0] >= 600 and pixels.shape[1] >= 1000
    assert pixels.std() > 15.0
    colours = np.unique(pixels.reshape(-1, 3).astype(np.uint8), axis=0)
    assert len(colours) > 50


@pytest.mark.slow
@pytest.mark.parametrize("fields", [{"emb_dim": 9}, {"dropout": "x"}, {"in_channels": 3}])
def test_a_crafted_checkpoint_keeps_the_working_model(qtbot, tmp_path, monkeypatch, fields):
    """Three crafted checkpoints loaded silently, replaced the working model, and every
    sampling run then failed; now the app says why in one line and keeps its model."""
    sys.path.insert(0, str(ROOT / "tests" / "core"))
    try:
        from test_checkpoint import _crafted
    finally:
        sys.path.pop(0)
    path = _crafted(tmp_path, monkeypatch, **fields)
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    working = SlowFakeModel()
    w.session.set_model(working, "working")
    w.session.load_model_file(path)
    qtbot.waitUntil(lambda: "Could not load the model" in w.last_error, timeout=20_000)
    assert "\n" not in w.last_error and "crafted.safetensors" in w.last_error
    assert w.session.model_state.model is working and w.session.model_state.source == "working"
    w._error_box.close()
    w.close()


@pytest.mark.slow
def test_reset_layout_brings_back_every_dock_but_the_lessons(window):
    from PySide6.QtWidgets import QDockWidget

    docks = window.findChildren(QDockWidget)
    for dock in docks:
        dock.hide()
    window.reset_layout()
    hidden = sorted(d.objectName() for d in docks if d.isHidden())
    assert hidden == ["LessonDock"]
