"""The perfect denoiser as the app's model: File's action builds it through the session's
set_model path, and a reverse run with it ends on a training digit (the copy check says copy)."""
from __future__ import annotations

import numpy as np
import pytest

from ddpm_desktop.core.checkpoint import ModelSource, model_file
from ddpm_desktop.core.copies import bundled_index
from ddpm_desktop.core.data import load_bundled_mnist
from ddpm_desktop.core.exact_denoiser import ExactDenoiser
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.state import SamplerSettings


@pytest.fixture
def session(qtbot):
    s = Session(WorkerController())
    yield s
    s.shutdown()


def test_sampling_with_the_perfect_denoiser_copies_a_training_digit(session, qtbot):
    with qtbot.waitSignal(session.model_state.changed, timeout=20_000,
                          check_params_cb=lambda: session.model_state.source == ModelSource.EXACT):
        session.use_exact_denoiser()
    m = session.model_state
    assert isinstance(m.model, ExactDenoiser) and m.source == ModelSource.EXACT and not m.loading
    assert model_file(m.source) is None        # not a file: nothing to open or hash
    with qtbot.waitSignal(session.reverse.run_finished, timeout=30_000):
        assert session.request_sampling(SamplerSettings(sampler="ddim", steps=20, seed=5))
    x0 = np.asarray(session.reverse.lanes[0].x_t[-1], dtype=np.float64)
    check = bundled_index().search(x0[None])
    assert bool(check.copies[0])
    # independently: the nearest training digit by brute force, and the sample within a grey level of it
    train = load_bundled_mnist("train").images.reshape(-1, 784).astype(np.float64) / 255.0
    d = np.linalg.norm(train - np.clip((x0.reshape(1, 784) + 1) / 2, 0, 1), axis=1)
    assert int(np.argmin(d)) == int(check.nearest[0])
    assert d.min() < 0.1 * np.partition(d, 1)[1]


def test_the_smoothed_variant_keeps_its_bandwidth(session, qtbot):
    with qtbot.waitSignal(session.model_state.changed, timeout=20_000,
                          check_params_cb=lambda: session.model_state.source == ModelSource.EXACT):
        session.use_exact_denoiser(2.0)
    assert session.model_state.model.bandwidth == 2.0 and session.model_state.meta == {"bandwidth": 2.0}


def test_a_session_file_names_the_perfect_denoiser_and_its_bandwidth(session, qtbot, tmp_path):
    from ddpm_desktop.core.snapshot import ModelRef, Snapshot
    from ddpm_desktop.ui.session_file import model_ref

    with qtbot.waitSignal(session.model_state.changed, timeout=20_000,
                          check_params_cb=lambda: session.model_state.source == ModelSource.EXACT):
        session.use_exact_denoiser(1.5)
    ref = model_ref(session.model_state)
    assert ref == ModelRef("exact", bandwidth=1.5)
    path = tmp_path / "s.ddpm-session"
    assert session.files.save(path)
    assert Snapshot.from_json(path.read_text()).model == ref
    other = Session(WorkerController())
    try:
        with qtbot.waitSignal(other.model_state.changed, timeout=20_000,
                              check_params_cb=lambda: other.model_state.source == ModelSource.EXACT):
            other.files.restore_model(ref)
        assert other.model_state.model.bandwidth == 1.5
    finally:
        other.shutdown()


def test_the_smoothed_variant_asks_for_its_bandwidth(monkeypatch):
    from types import SimpleNamespace

    from ddpm_desktop.ui import menus

    used = []
    window = SimpleNamespace(session=SimpleNamespace(use_exact_denoiser=used.append))
    monkeypatch.setattr(menus.QInputDialog, "getDouble", staticmethod(lambda *a: (3.0, True)))
    assert menus.ask_exact_bandwidth(window) and used == [3.0]
    monkeypatch.setattr(menus.QInputDialog, "getDouble", staticmethod(lambda *a: (3.0, False)))
    assert not menus.ask_exact_bandwidth(window) and used == [3.0]


def test_live_drawing_takes_the_perfect_denoiser_too():
    from ddpm_desktop.core.live import LiveReconstructor
    from ddpm_desktop.core.schedule import NoiseSchedule

    digit = load_bundled_mnist("train").images[:3]
    model = ExactDenoiser(digit)
    recon = LiveReconstructor(model, NoiseSchedule.named("linear", 100), t=30, sampler="ddim", steps=5)
    x0 = digit[1].astype(np.float32) / 127.5 - 1.0
    out = recon.reconstruct(x0)
    # from x_30 of one of three training digits, the exact posterior mean lands back on it
    np.testing.assert_allclose(out.image, x0, atol=1e-2)
