"""'Both' in the app's export is built from one digit: the reverse chain reconstructs the forward
chain's x_t (as `ddpm-desktop export --chain both`), unless the user picks the chains on screen.

The reference is an oracle network that returns the exact noise of x_t for the known x_0,
ε = (x_t − √ᾱ_t x_0)/√(1−ᾱ_t) (ᾱ_t read back from the log-SNR it is given): with it,
deterministic DDIM must walk from the forward chain's x_t back to that same x_0."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.render.compose import frame_layout
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.state import Lane
from ddpm_desktop.ui.widgets.export_dialog import ExportDialog


class OracleModel(torch.nn.Module):
    null_label = 10

    def __init__(self, x0: np.ndarray) -> None:
        super().__init__()
        self.x0 = torch.from_numpy(np.asarray(x0, np.float32)).reshape(1, 1, 28, 28)

    def forward(self, x, log_snr, labels=None):
        ab = torch.sigmoid(log_snr.double()).reshape(-1, 1, 1, 1)
        return ((x.double() - ab.sqrt() * self.x0) / (1 - ab).sqrt()).float()


@pytest.fixture
def session(qtbot):
    s = Session(WorkerController())
    s.schedule_state.set_params(T=100)
    digit = np.full((28, 28), -1.0, np.float32)
    digit[6:22, 12:16] = 1.0  # a "1"
    s.input_state.set_digit(digit, "test", 1)
    s.set_model(OracleModel(digit), "oracle")
    s._rerun_timer.stop()
    s.sampler.update(sampler="ddim", eta=0.0, steps=10, source="noise")
    yield s
    s.shutdown()


def test_both_is_one_digit_by_default(session):
    assert session.export.settings.both_from == "digit"
    session.export.update(what="both")
    job = session.exporter.job("/tmp/unused.gif")
    t = 30  # 3T/10, the CLI's default
    rec = job.reconstruct
    assert rec is not None and rec.t == t
    np.testing.assert_array_equal(rec.x_t, session.forward.frames[t])
    (fwd,) = job.chains
    np.testing.assert_array_equal(fwd.frames, session.forward.frames[:t + 1])
    assert fwd.title.endswith("x_30") and rec.title.startswith("Reverse  x_30")
    chain = list(rec.iter_chain(__import__("threading").Event()))
    assert [s for _, s in chain][0] == t and chain[-1][1] == 0 and len(chain) == rec.length()
    np.testing.assert_array_equal(chain[0][0], session.forward.frames[t])
    # the oracle's DDIM chain comes back to the digit the forward chain started from
    np.testing.assert_allclose(chain[-1][0], session.input_state.digit, atol=1e-4)


def test_the_chosen_t_and_the_sampler_settings_are_used(session):
    session.export.update(what="both", both_t=55)
    session.sampler.update(steps=5, seed=3)
    rec = session.exporter.job("/tmp/unused.gif").reconstruct
    assert (rec.t, rec.sampler, rec.steps, rec.seed, rec.length()) == (55, "ddim", 5, 3, 6)
    session.export.update(both_t=5000)  # beyond T: capped at T
    assert session.exporter.job("/tmp/unused.gif").reconstruct.t == 100


@pytest.mark.slow
def test_the_dialog_exports_one_digit_both(qtbot, session, tmp_path):
    dialog = ExportDialog(session.export, session.exporter.chains_lengths)
    dialog.export_requested.connect(session.exporter.start)
    qtbot.addWidget(dialog)
    dialog.what_combo.setCurrentIndex(dialog.what_combo.findData("both"))
    assert dialog.both_combo.currentData() == "digit" and dialog.both_t_spin.isEnabled()
    assert "frames" in dialog.info_label.text() and dialog.export_button.isEnabled()
    dialog.scale_spin.setValue(2)
    out = tmp_path / "both.gif"
    dialog.path_edit.setText(str(out))
    with qtbot.waitSignal(session.exported, timeout=20_000):
        dialog.export_button.click()
    lay = frame_layout(2, 2, True, True)
    with Image.open(out) as im:
        assert im.size == (lay.width, lay.height) and im.n_frames >= 30
    assert session.export.done == session.export.total


def test_screen_keeps_the_chains_on_screen(session):
    session.reverse.start([Lane(sampler="ddpm", steps=3)])
    for i in range(4):
        x = np.full((28, 28), i, np.float32)
        session.reverse.add(0, x, x, 3 - i, i, 3, 0.1)
    session.reverse.commit()
    session.reverse.finish(True)
    session.export.update(what="both", both_from="screen")
    job = session.exporter.job("/tmp/unused.gif")
    assert job.reconstruct is None and len(job.chains) == 2
    assert len(job.chains[0]) == session.forward.T + 1 and len(job.chains[1]) == 4


def test_one_digit_both_without_a_model_is_a_clear_message(qtbot, session, tmp_path):
    session.set_model(None, "none")
    session.export.update(what="both", path=str(tmp_path / "x.gif"))
    assert "both" not in session.exporter.available()
    with qtbot.waitSignal(session.error) as blocker:
        assert not session.exporter.start()
    assert "load or train a model" in blocker.args[0]
    assert not (tmp_path / "x.gif").exists()


@pytest.mark.parametrize("sampler, steps", [("dpmpp", None), ("ddpm", None), ("ddim", 500)])
def test_a_reconstructions_length_is_the_frames_its_chain_yields(sampler, steps):
    """The frame count the export lays out is the chain the sampler walks: DPM-Solver++'s own
    default (not every step) when steps is None, and steps capped at t."""
    import threading

    from ddpm_desktop.core.schedule import NoiseSchedule
    from ddpm_desktop.render.export_job import Reconstruction

    digit = np.full((28, 28), -1.0, np.float32)
    schedule = NoiseSchedule.named("linear", 100)
    rec = Reconstruction(OracleModel(digit), schedule, digit, t=30, sampler=sampler, steps=steps)
    chain = list(rec.iter_chain(threading.Event()))
    ts = [s for _, s in chain]
    assert len(chain) == rec.length()
    assert ts[0] == 30 and ts[-1] == 0 and ts == sorted(ts, reverse=True)
    # every step from t for DDPM, 30 (not 500) for DDIM capped at t, 20 for DPM-Solver++
    assert len(ts) - 1 == {"ddpm": 30, "ddim": 30, "dpmpp": 20}[sampler]
