"""Open session restores exactly what Save wrote: the whole snapshot (the forward frame and the
model by path and content hash included) and, from it, the same pixels, in a fresh window."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from ddpm_desktop.core.checkpoint import save_weights
from ddpm_desktop.core.model import ModelConfig, UNet
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.state import SamplerSettings

TINY = ModelConfig(base_channels=8, channel_mults=(1,), attention=False, emb_dim=16, groups=4)


def _checkpoint(path, seed: int = 0):
    torch.manual_seed(seed)
    return save_weights(path, UNet(TINY))


@pytest.fixture
def sessions(qtbot):
    made = []

    def make() -> Session:
        s = Session(WorkerController())
        made.append(s)
        return s

    yield make
    for s in made:
        s.shutdown()


def _loaded(qtbot, session: Session, name: str) -> None:
    qtbot.waitUntil(lambda: session.model_state.source == name
                    and not session.model_state.loading, timeout=20_000)


def _customise(s: Session) -> None:
    s.schedule_state.set_params(kind="cosine", T=300)
    rng = np.random.default_rng(1)
    s.input_state.set_digit(rng.uniform(-1, 1, (28, 28)).astype(np.float32), "a test pattern", 4)
    s.input_state.set_start("laplace", scale=0.4)
    s.input_state.set_seed(77)
    s.sampler.set_settings(SamplerSettings(sampler="ddim", steps=9, seed=5, label=2,
                                           compare=True, eta=0.25))
    s.training.update(conditional=False, lr=0.002)
    s.export.update(scale=3, histogram=False)
    s.forward.set_frame(123)


def test_save_then_open_in_a_fresh_session_gives_the_same_snapshot_and_pixels(
        qtbot, sessions, tmp_path):

    model_file = _checkpoint(tmp_path / "tiny.safetensors")
    a = sessions()
    a.load_model_file(model_file)
    _loaded(qtbot, a, "tiny.safetensors")
    _customise(a)
    a.cancel_sampling()
    path = tmp_path / "s.json"
    assert a.files.save(path)

    b = sessions()
    assert b.files.open(path)
    _loaded(qtbot, b, "tiny.safetensors")
    assert b.files.take_snapshot() == a.files.take_snapshot()
    np.testing.assert_array_equal(b.input_state.digit, a.input_state.digit)
    assert b.forward.t == a.forward.t == 123
    np.testing.assert_array_equal(b.forward.frame(), a.forward.frame())
    np.testing.assert_array_equal(b.forward.frames, a.forward.frames)
    for p, q in zip(a.model_state.model.parameters(), b.model_state.model.parameters()):
        assert torch.equal(p.cpu(), q.cpu())


def test_open_session_restores_the_forward_frame(qtbot, sessions, tmp_path):
    a = sessions()
    a.schedule_state.set_params(T=400)
    a.forward.set_frame(250)
    path = tmp_path / "s.json"
    assert a.files.save(path)
    b = sessions()
    assert b.files.open(path)
    assert b.forward.t == 250
    np.testing.assert_array_equal(b.forward.frame(), a.forward.frame())


@pytest.mark.slow
def test_open_session_restores_the_model_it_was_saved_with(qtbot, sessions, tmp_path):
    model_file = _checkpoint(tmp_path / "tiny.safetensors")
    a = sessions()
    a.load_model_file(model_file)
    _loaded(qtbot, a, "tiny.safetensors")
    path = tmp_path / "s.json"
    assert a.files.save(path)
    b = sessions()
    b.set_model(UNet(TINY), "another model")
    b.cancel_sampling()
    assert b.files.open(path)
    _loaded(qtbot, b, "tiny.safetensors")
    assert b.model_state.path == str(model_file.resolve())


@pytest.mark.slow
def test_a_changed_model_file_keeps_the_current_model_and_says_so(qtbot, sessions, tmp_path):
    model_file = _checkpoint(tmp_path / "tiny.safetensors")
    a = sessions()
    a.load_model_file(model_file)
    _loaded(qtbot, a, "tiny.safetensors")
    path = tmp_path / "s.json"
    assert a.files.save(path)
    _checkpoint(model_file, seed=1)  # other weights under the same name

    b = sessions()
    current = UNet(TINY)
    b.set_model(current, "another model")
    b.cancel_sampling()
    with qtbot.waitSignal(b.error, timeout=20_000) as blocker:
        assert b.files.open(path)
    assert "changed since the session was saved" in blocker.args[0]
    assert "\n" not in blocker.args[0]
    qtbot.waitUntil(lambda: not b.model_state.loading, timeout=20_000)
    assert b.model_state.model is current and b.model_state.source == "another model"


def test_a_missing_model_file_keeps_the_current_model_and_says_so(qtbot, sessions, tmp_path):
    model_file = _checkpoint(tmp_path / "tiny.safetensors")
    a = sessions()
    a.load_model_file(model_file)
    _loaded(qtbot, a, "tiny.safetensors")
    path = tmp_path / "s.json"
    assert a.files.save(path)
    model_file.unlink()
    b = sessions()
    with qtbot.waitSignal(b.error) as blocker:
        assert b.files.open(path)
    assert "is not there any more" in blocker.args[0]
    assert b.model_state.model is None


def test_a_version_1_session_still_opens(qtbot, sessions, tmp_path):
    """The format before the snapshot: no forward frame, no model, digit rounded."""
    digit = np.round(np.linspace(-1, 1, 784).reshape(28, 28), 6)
    v1 = {"format": "ddpm-desktop-session", "version": 1,
          "schedule": {"kind": "linear", "T": 500, "beta_start": 0.0001, "beta_end": 0.02},
          "input": {"seed": 12, "start": "gaussian", "start_params": {},
                    "forward_from": "digit", "digit_source": "a ramp", "digit_label": 3,
                    "digit": digit.tolist()},
          "sampler": {"sampler": "ddpm", "steps": 100, "seed": 0, "label": None,
                      "guidance": 2, "source": "noise", "t_start": 500, "compare": False,
                      "sampler_b": "dpmpp", "eta": 0},
          "training": {"dataset": "mnist", "batch_size": 64, "steps": 850, "lr": 0.002,
                       "conditional": True, "sample_every_s": 10},
          "export": {"what": "forward", "format": "gif", "fps": 20, "scale": 12, "stride": 0,
                     "key_frames": 8, "histogram": True, "kl": True, "folder": "", "path": "",
                     "both_from": "digit", "both_t": 0},
          "device": "cpu"}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(v1))
    b = sessions()
    b.forward.set_frame(40)
    assert b.files.open(path)
    assert b.schedule.T == 500 and b.input_state.seed == 12
    assert b.sampler.settings.guidance == 2.0 and isinstance(b.sampler.settings.eta, float)
    np.testing.assert_allclose(b.input_state.digit, digit, atol=1e-6)
    assert b.forward.t == 0  # version 1 kept no frame: the chain opens at x_0


@pytest.mark.slow
def test_a_fresh_window_shows_the_saved_digit_and_frame_and_drops_the_old_highlight(
        qtbot, tmp_path):
    from ddpm_desktop.ui.main_window import MainWindow

    w1 = MainWindow(load_model=False)
    qtbot.addWidget(w1)
    w1.input_panel.browser.select_index(7)
    w1.session.forward.set_frame(321)
    from_dataset = tmp_path / "dataset.json"
    assert w1.session.files.save(from_dataset)
    saved = w1.session.files.take_snapshot()
    saved_frame = np.array(w1.session.forward.frame(), copy=True)
    saved_x0 = np.array(w1.session.input_state.digit, copy=True)
    w1.session.input_state.set_digit(np.zeros((28, 28), np.float32), "drawn on the canvas")
    drawn = tmp_path / "drawn.json"
    assert w1.session.files.save(drawn)
    w1.close()

    w2 = MainWindow(load_model=False)
    qtbot.addWidget(w2)
    browser = w2.input_panel.browser
    browser.select_index(3)
    assert w2.session.files.open(from_dataset)
    assert browser.selected_index() == 7  # the session's digit, not the old highlight
    assert w2.session.files.take_snapshot() == saved
    # the pixels on screen: the forward view's frame and the input preview's x_0
    np.testing.assert_array_equal(w2.forward_view.pane.image.image, saved_frame)
    np.testing.assert_array_equal(w2.input_panel.preview.image.image, saved_x0)
    assert w2.session.forward.t == 321
    assert w2.session.files.open(drawn)
    assert browser.selected_index() is None  # x_0 is no digit of the browser any more
    snap = w2.session.files.take_snapshot()
    assert snap.input.digit_source == "drawn on the canvas" and snap.forward_t == 321
    w2.close()


@pytest.mark.slow
def test_copy_as_command_names_the_model_file_the_snapshot_names(qtbot, tmp_path):
    """The command guessed the model's path from the folder last used in Load model..., so a
    model loaded elsewhere (the Training dock, a session) was named by its bare file name."""
    from ddpm_desktop.ui.copy_command import copy_command
    from ddpm_desktop.ui.main_window import MainWindow

    folder = tmp_path / "models"
    folder.mkdir()
    model_file = _checkpoint(folder / "tiny.safetensors")
    w = MainWindow(load_model=False, load_dataset=False)
    qtbot.addWidget(w)
    w.settings.setValue("paths/model_dir", str(tmp_path))  # another folder
    w.session.load_model_file(model_file)
    _loaded(qtbot, w.session, "tiny.safetensors")
    w.session.cancel_sampling()
    text = copy_command(w, "run")
    assert f"--checkpoint {model_file.resolve()}" in text
    w.close()


@pytest.mark.slow
def test_the_export_dialog_asks_before_writing_where_a_session_pointed(qtbot, tmp_path,
                                                                      monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from ddpm_desktop.ui.main_window import MainWindow

    w = MainWindow(load_model=False, load_dataset=False)
    qtbot.addWidget(w)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    session_path = tmp_path / "s.json"
    assert w.session.files.save(session_path)
    data = json.loads(session_path.read_text())
    data["export"].update(path=str(elsewhere / "chain.png"), format="png")
    session_path.write_text(json.dumps(data))
    assert w.session.files.open(session_path)
    w.open_export()
    asked = []

    def answer(reply):
        def exec_(box):
            asked.append((box.text(), box.textFormat()))
            return reply
        return exec_

    monkeypatch.setattr(QMessageBox, "exec", answer(QMessageBox.StandardButton.No))
    w.export_dialog.export_button.click()
    assert len(asked) == 1 and str(elsewhere / "chain.png") in asked[0][0]
    assert asked[0][1] == Qt.TextFormat.PlainText
    assert not w.session.exporter.is_running() and not (elsewhere / "chain.png").exists()

    monkeypatch.setattr(QMessageBox, "exec", answer(QMessageBox.StandardButton.Yes))
    w.export_dialog.export_button.click()
    qtbot.waitUntil(lambda: (elsewhere / "chain.png").exists(), timeout=20_000)
    w.export_dialog.close()
    w.close()


def test_a_session_naming_a_fifo_as_its_model_keeps_the_current_model(qtbot, sessions,
                                                                      tmp_path):
    import os

    model_file = _checkpoint(tmp_path / "tiny.safetensors")
    a = sessions()
    a.load_model_file(model_file)
    _loaded(qtbot, a, "tiny.safetensors")
    path = tmp_path / "s.json"
    assert a.files.save(path)
    model_file.unlink()
    os.mkfifo(model_file)
    b = sessions()
    with qtbot.waitSignal(b.error) as blocker:
        assert b.files.open(path)
    assert "not a regular file" in blocker.args[0]
    assert b.model_state.model is None and not b.model_state.loading
