"""TrainingPanel: a tiny model trains on the worker thread; curves, samples, pause/resume/stop,
checkpoints, shutdown. Every test ends with the thread joined (the conftest fixture checks)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings

training = pytest.importorskip("ddpm_desktop.core.training")

from ddpm_desktop.core import data  # noqa: E402
from ddpm_desktop.core.model import ModelConfig, UNet  # noqa: E402
from ddpm_desktop.ui.widgets import training_panel as panel_mod  # noqa: E402
from ddpm_desktop.ui.widgets.training_panel import TrainingPanel, draw_samples  # noqa: E402

TINY = ModelConfig(base_channels=8, channel_mults=(1, 2), attention=False, emb_dim=16, groups=4)


@pytest.fixture(scope="module")
def tiny_dataset():
    ds = data.load_bundled_mnist("test")
    return ds.subset(np.arange(0, len(ds), 16), name="tiny MNIST")  # 63 digits, all classes


@pytest.fixture
def panel(qtbot, tmp_path, tiny_dataset):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    p = TrainingPanel(settings=settings, dataset=tiny_dataset, model_config=TINY)
    p.num_threads = 1
    p.batch_spin.setValue(4)
    p.sample_spin.setValue(60)  # samples only at the end unless a test lowers it
    qtbot.addWidget(p)
    yield p
    p.shutdown()


def run_to_end(qtbot, panel, steps, timeout=20_000):
    panel.steps_spin.setValue(steps)
    with qtbot.waitSignal(panel.running_changed, timeout=timeout,
                          check_params_cb=lambda running: not running):
        assert panel.start()


def test_trains_a_few_steps_and_hands_over_the_model(qtbot, panel):
    models = []
    panel.model_changed.connect(models.append)
    run_to_end(qtbot, panel, 6)
    assert panel.steps_seen == [1, 2, 3, 4, 5, 6]
    x, y = panel.raw_curve.getData()
    assert len(x) == 6 and np.all(np.isfinite(y))
    assert panel.progress_bar.value() == 6 and panel.progress_bar.maximum() == 6
    assert "img/s" in panel.speed_label.text() and "–" not in panel.speed_label.text()
    assert np.isfinite(panel.last_progress.loss_by_level).any()
    # the final snapshot: samples drawn in the worker, the EMA model handed over
    assert len(models) == 1 and isinstance(models[0], UNet)
    assert not any(p.requires_grad for p in models[0].parameters())
    snap = panel.last_snapshot
    assert snap.images.shape == (10, 28, 28) and snap.labels == tuple(range(10))
    assert not panel.samples_label.pixmap().isNull()
    assert "Finished at step 6" in panel.status_label.text()
    assert not panel.is_running() and not panel.controller.threads()
    assert panel.start_button.text() == "Start"  # the run is complete


def test_periodic_samples_during_training(qtbot, panel):
    panel.sample_spin.setValue(1)
    panel.steps_spin.setValue(100_000)
    got = []
    panel.model_changed.connect(got.append)
    assert panel.start()
    qtbot.waitUntil(lambda: len(got) >= 1, timeout=20_000)
    assert panel.is_running() and panel.last_snapshot.step < 100_000
    panel.stop()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=20_000)
    assert len(got) >= 2  # and the EMA once more after Stop


def test_pause_resume_stop_and_continue(qtbot, panel):
    panel.steps_spin.setValue(100_000)
    assert panel.start()
    assert not panel.start()  # one run at a time
    qtbot.waitUntil(lambda: len(panel.steps_seen) >= 2, timeout=20_000)
    panel.pause()
    assert panel.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: panel.status_label.text().startswith("Paused"), timeout=5000)
    n = len(panel.steps_seen)
    qtbot.wait(500)
    assert len(panel.steps_seen) == n  # no steps while paused
    panel.resume()
    qtbot.waitUntil(lambda: len(panel.steps_seen) > n + 1, timeout=20_000)
    with qtbot.waitSignal(panel.running_changed, timeout=20_000):
        panel.stop()
    assert not panel.is_running()
    assert all(not t.isRunning() for t in panel.controller.threads())
    last = panel.steps_seen[-1]
    assert "Stopped" in panel.status_label.text()
    assert panel.start_button.text() == f"Continue from step {last}"
    # Start continues the same run: steps carry on where they stopped
    panel.steps_spin.setValue(last + 3)
    with qtbot.waitSignal(panel.running_changed, timeout=20_000,
                          check_params_cb=lambda running: not running):
        panel.start()
    assert panel.steps_seen[-4:] == [last, last + 1, last + 2, last + 3]


def test_checkpoint_save_load_and_resume(qtbot, panel, tmp_path, tiny_dataset, monkeypatch):
    run_to_end(qtbot, panel, 3)
    path = tmp_path / "tiny.safetensors"
    with qtbot.waitSignal(panel.checkpoint_saved) as blocker:
        assert panel.save_checkpoint(str(path))
    assert blocker.args == [str(path)]
    assert path.is_file() and (tmp_path / "tiny.state.pt").is_file()

    other = TrainingPanel(settings=panel._settings, dataset=tiny_dataset, model_config=TINY)
    qtbot.addWidget(other)
    other.num_threads = 1
    with qtbot.waitSignal(other.model_changed) as loaded:
        assert other.load_checkpoint(str(path))
    assert isinstance(loaded.args[0], UNet)
    assert other.start_button.text() == "Continue from step 3"
    other.steps_spin.setValue(5)
    with qtbot.waitSignal(other.running_changed, timeout=20_000,
                          check_params_cb=lambda running: not running):
        other.start()
    # the curve shows the checkpoint's history (steps 1-3), then the new steps 4 and 5
    assert other.steps_seen == [1, 2, 3, 4, 5]
    assert other.last_progress.step == 5 and other.progress_bar.value() == 5
    other.shutdown()

    shown = []
    monkeypatch.setattr(panel_mod.QMessageBox, "warning",
                        lambda parent, title, text: shown.append(text))
    bad = tmp_path / "garbage.safetensors"
    bad.write_bytes(b"not a checkpoint")
    assert panel.load_checkpoint(str(bad)) is False
    assert shown and "garbage.safetensors" in shown[-1]
    assert panel.save_checkpoint(str(tmp_path / "nope" / "x.safetensors")) is False
    assert "does not exist" in shown[-1]


def test_save_while_training_happens_between_steps(qtbot, panel, tmp_path):
    panel.steps_spin.setValue(100_000)
    assert panel.start()
    qtbot.waitUntil(lambda: len(panel.steps_seen) >= 1, timeout=20_000)
    path = tmp_path / "live.safetensors"
    with qtbot.waitSignal(panel.checkpoint_saved, timeout=20_000):
        assert panel.save_checkpoint(str(path))
    assert path.is_file()
    assert panel.is_running()  # training goes on
    panel.shutdown()
    assert not panel.is_running()


def test_shutdown_joins_a_paused_run(qtbot, panel):
    panel.steps_spin.setValue(100_000)
    assert panel.start()
    qtbot.waitUntil(lambda: len(panel.steps_seen) >= 1, timeout=20_000)
    panel.pause()
    panel.shutdown()
    assert not panel.is_running()
    assert all(not t.isRunning() for t in panel.controller.threads())


def test_bad_settings_are_reported(qtbot, panel, monkeypatch):
    shown = []
    monkeypatch.setattr(panel_mod.QMessageBox, "warning",
                        lambda parent, title, text: shown.append(text))
    panel.num_threads = 1

    def broken():
        raise ValueError("the dataset is empty")

    monkeypatch.setattr(panel, "_dataset_source", lambda: (broken, "broken"))
    with qtbot.waitSignal(panel.running_changed, timeout=20_000,
                          check_params_cb=lambda running: not running):
        panel.start()
    assert shown == ["the dataset is empty"]
    assert not panel.is_running()


def test_draw_samples_is_deterministic():
    model = UNet(TINY).eval()
    from ddpm_desktop.core.schedule import NoiseSchedule

    sched = NoiseSchedule.named("linear", 100)
    a = draw_samples(model, sched, conditional=True, steps=4)
    b = draw_samples(model, sched, conditional=True, steps=4)
    assert a.shape == (10, 28, 28) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
