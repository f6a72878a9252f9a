"""Training through the session: a tiny model trains on the worker thread; the panel is a view
of the training state (curves, samples, buttons); pause/resume are the generic worker's;
checkpoints go through the request channel. Every test ends with the thread joined (the
conftest fixture checks)."""
from __future__ import annotations

import numpy as np
import pytest

from ddpm_desktop.core import data
from ddpm_desktop.core.model import ModelConfig, UNet
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.core.training_run import draw_samples
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.widgets.training_panel import TrainingPanel

TINY = ModelConfig(base_channels=8, channel_mults=(1, 2), attention=False, emb_dim=16, groups=4)


@pytest.fixture(scope="module")
def tiny_dataset():
    ds = data.load_bundled_mnist("test")
    return ds.subset(np.arange(0, len(ds), 16), name="tiny MNIST")  # 63 digits, all classes


def make_session(tiny_dataset) -> Session:
    s = Session(WorkerController())
    s.schedule_state.set_params(T=100)
    s.trainer.model_config = TINY
    s.trainer.set_browser_dataset(tiny_dataset)
    s.training.update(batch_size=4, sample_every_s=60)  # samples only at the end
    return s


@pytest.fixture
def session(qtbot, tiny_dataset):
    s = make_session(tiny_dataset)
    yield s
    s.shutdown()


@pytest.fixture
def panel(qtbot, session):
    p = TrainingPanel(session.training)
    qtbot.addWidget(p)
    p.start_requested.connect(session.trainer.start)
    p.pause_requested.connect(session.trainer.pause)
    p.resume_requested.connect(session.trainer.resume)
    p.stop_requested.connect(session.trainer.stop)
    return p


def idle(session):
    return lambda: not session.trainer.is_running() and session.training.phase == "idle"


def run_to_end(qtbot, session, steps, timeout=30_000):
    session.training.update(steps=steps)
    assert session.trainer.start()
    qtbot.waitUntil(idle(session), timeout=timeout)


@pytest.mark.slow
def test_trains_a_few_steps_and_hands_over_the_model(qtbot, session, panel):
    run_to_end(qtbot, session, 6)
    st = session.training
    assert st.steps_seen.tolist() == [1, 2, 3, 4, 5, 6]
    x, y = panel.raw_curve.getData()
    assert len(x) == 6 and np.all(np.isfinite(y))
    assert panel.progress_bar.value() == 6 and panel.progress_bar.maximum() == 6
    assert "img/s" in panel.speed_label.text() and "–" not in panel.speed_label.text()
    assert np.isfinite(st.loss_by_level).any()
    # the final snapshot: samples drawn in the worker, the EMA model handed to the session
    m = session.model_state
    assert m.source == "trained here" and isinstance(m.model, UNet)
    assert not any(p.requires_grad for p in m.model.parameters())
    assert st.snapshot.images.shape == (10, 28, 28) and st.snapshot.labels == tuple(range(10))
    assert not panel.samples_label.pixmap().isNull()
    assert "Finished at step 6" in panel.status_label.text()
    assert panel.start_button.text() == "Start"  # the run is complete
    assert panel.reset_button.isEnabled() and panel.save_button.isEnabled()


def test_the_panel_writes_the_one_copy_of_the_settings(qtbot, session, panel):
    panel.steps_spin.setValue(1234)
    panel.batch_spin.setValue(7)
    assert session.training.settings.steps == 1234 and session.training.settings.batch_size == 7
    session.training.update(lr=0.01)
    assert panel.lr_spin.value() == pytest.approx(0.01)
    assert panel.dataset_combo.currentData() == "browser"
    assert "tiny MNIST" in panel.dataset_combo.currentText()


@pytest.mark.slow
def test_pause_resume_stop_and_continue(qtbot, session, panel, tmp_path):
    session.training.update(steps=100_000)
    assert session.trainer.start()
    assert not session.trainer.start()  # one run at a time
    st = session.training
    qtbot.waitUntil(lambda: len(st.steps_seen) >= 2, timeout=20_000)
    panel.pause_button.click()
    assert st.phase == "paused" and panel.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: panel.status_label.text().startswith("Paused"), timeout=5000)
    n, paused_at = len(st.steps_seen), int(st.steps_seen[-1])
    # a save served by the paused worker marks a span of the pause: the trainer saved at the
    # step it paused on, and no step came before the save's answer
    with qtbot.waitSignal(session.checkpoint_saved, timeout=20_000):
        assert session.trainer.save_checkpoint(str(tmp_path / "paused.safetensors"))
    assert st.message.endswith(f"(step {paused_at})"), st.message
    assert len(st.steps_seen) == n  # no steps while paused
    panel.pause_button.click()  # resume
    qtbot.waitUntil(lambda: len(st.steps_seen) > n + 1, timeout=20_000)
    panel.stop_button.click()
    qtbot.waitUntil(idle(session), timeout=20_000)
    last = int(st.steps_seen[-1])
    assert "Stopped" in panel.status_label.text()
    assert panel.start_button.text() == f"Continue from step {last}"
    # Start continues the same run: steps carry on where they stopped
    run_to_end(qtbot, session, last + 3)
    assert st.steps_seen[-4:].tolist() == [last, last + 1, last + 2, last + 3]


@pytest.mark.slow
def test_periodic_samples_while_training_and_schedule_reaches_the_run(qtbot, session):
    session.training.update(steps=100_000, sample_every_s=1)
    got = []
    session.training.snapshot_changed.connect(lambda: got.append(session.training.snapshot))
    assert session.trainer.start()
    qtbot.waitUntil(lambda: len(got) >= 1, timeout=30_000)
    session.schedule_state.set_params(T=50)
    assert session.trainer.is_running() and got[0].step < 100_000
    qtbot.waitUntil(lambda: session.trainer.run.schedule.T == 50, timeout=20_000)
    session.trainer.stop()
    qtbot.waitUntil(idle(session), timeout=20_000)


@pytest.mark.slow
def test_checkpoint_save_load_and_resume(qtbot, session, tmp_path, tiny_dataset):
    run_to_end(qtbot, session, 3)
    path = tmp_path / "tiny.safetensors"
    with qtbot.waitSignal(session.checkpoint_saved) as blocker:
        assert session.trainer.save_checkpoint(str(path))
    assert blocker.args == [str(path)]
    assert path.is_file() and (tmp_path / "tiny.state.pt").is_file()

    other = make_session(tiny_dataset)
    try:
        # the old run's numbers are replaced by the checkpoint's
        other.training.step, other.training.eta_s = 999, 123.0
        assert other.trainer.load_checkpoint(str(path))
        assert other.model_state.source == "tiny.safetensors"
        assert other.training.step == 3 and np.isnan(other.training.eta_s)
        assert other.trainer.default_checkpoint_name() == "ddpm_step3.safetensors"
        assert other.training.resumable_step == 3
        other.training.update(steps=5)
        assert other.trainer.start()
        qtbot.waitUntil(idle(other), timeout=30_000)
        # the curve shows the checkpoint's history (steps 1-3), then the new steps 4 and 5
        assert other.training.steps_seen.tolist() == [1, 2, 3, 4, 5]
    finally:
        other.shutdown()

    bad = tmp_path / "garbage.safetensors"
    bad.write_bytes(b"not a checkpoint")
    working = session.model_state.model
    with qtbot.waitSignal(session.error) as blocker:
        assert session.trainer.load_checkpoint(str(bad)) is False
    assert "garbage.safetensors" in blocker.args[0]
    assert session.model_state.model is working  # the working model is kept
    with qtbot.waitSignal(session.error) as blocker:
        assert session.trainer.save_checkpoint(str(tmp_path / "nope" / "x.safetensors")) is False
    assert "does not exist" in blocker.args[0]


def test_save_while_training_goes_through_the_request_channel(qtbot, session, tmp_path):
    session.training.update(steps=100_000)
    assert session.trainer.start()
    qtbot.waitUntil(lambda: len(session.training.steps_seen) >= 1, timeout=20_000)
    path = tmp_path / "live.safetensors"
    with qtbot.waitSignal(session.checkpoint_saved, timeout=20_000):
        assert session.trainer.save_checkpoint(str(path))
    assert path.is_file()
    assert session.trainer.is_running()  # training goes on


def test_save_while_paused_is_served(qtbot, session, tmp_path):
    session.training.update(steps=100_000)
    assert session.trainer.start()
    qtbot.waitUntil(lambda: len(session.training.steps_seen) >= 1, timeout=20_000)
    session.trainer.pause()
    qtbot.waitUntil(lambda: session.training.message.startswith("Paused"), timeout=5000)
    path = tmp_path / "paused.safetensors"
    with qtbot.waitSignal(session.checkpoint_saved, timeout=20_000):
        session.trainer.save_checkpoint(str(path))
    assert path.is_file() and session.training.phase == "paused"


def test_a_save_requested_just_before_close_is_written(qtbot, session, tmp_path):
    session.training.update(steps=100_000)
    assert session.trainer.start()
    qtbot.waitUntil(lambda: len(session.training.steps_seen) >= 1, timeout=20_000)
    path = tmp_path / "at_close.safetensors"
    session.trainer.save_checkpoint(str(path))
    assert session.shutdown()
    assert path.is_file()


def test_shutdown_joins_a_paused_run(qtbot, session):
    session.training.update(steps=100_000)
    assert session.trainer.start()
    qtbot.waitUntil(lambda: len(session.training.steps_seen) >= 1, timeout=20_000)
    session.trainer.pause()
    assert session.shutdown(timeout_ms=10_000)


def test_a_failing_run_is_reported_with_its_reason(qtbot, session, monkeypatch):
    def broken():
        raise ValueError("the dataset is empty")

    monkeypatch.setattr(session.trainer, "_dataset_loader", lambda: (broken, "broken"))
    with qtbot.waitSignal(session.error, timeout=20_000) as blocker:
        assert session.trainer.start()
    assert blocker.args == ["Training stopped: the dataset is empty", ""]
    qtbot.waitUntil(idle(session), timeout=20_000)


def test_loss_plot_ignores_the_mouse_wheel(qtbot, panel):
    view = panel.loss_plot.getViewBox()
    assert view.state["mouseEnabled"] == [False, False]
    assert not panel.loss_plot.getPlotItem().menuEnabled()


def test_draw_samples_is_deterministic():
    model = UNet(TINY).eval()
    sched = NoiseSchedule.named("linear", 100)
    a = draw_samples(model, sched, conditional=True, steps=4)
    b = draw_samples(model, sched, conditional=True, steps=4)
    assert a.shape == (10, 28, 28) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
