import math
import threading

import numpy as np
import pytest
import torch

from ddpm_desktop.core import checkpoint
from ddpm_desktop.core.training import (TrainConfig, Trainer, TrainingDivergedError, cosine_log_snr,
                                        measure_thread_counts, resolve_device)


def test_cosine_log_snr_covers_the_truncated_range():
    u = torch.linspace(0, 1, 10001, dtype=torch.float64)
    lam = cosine_log_snr(u, -20.0, 20.0)
    assert float(lam.max()) == pytest.approx(20.0, abs=1e-6)
    assert float(lam.min()) == pytest.approx(-20.0, abs=1e-6)
    assert torch.all(lam[1:] <= lam[:-1])  # decreasing in t
    # The cosine schedule puts half the mass above λ = 0.
    assert float(cosine_log_snr(torch.tensor([0.5], dtype=torch.float64), -20, 20)) == pytest.approx(0.0, abs=1e-9)


def test_the_network_sees_the_closed_form_x_t(tiny_config, tiny_data):
    """x_t = √ᾱ x_0 + √(1−ᾱ) ε at ᾱ = sigmoid(λ) (Ho et al. 2020, eq. 4): bit for bit the float32
    formula written here (what training computed before it called core.forward.q_sample_at, so
    a fixed seed trains as it did), and the float64 closed form to float32 rounding."""
    trainer = Trainer(tiny_config, tiny_data, device="cpu")
    state = trainer.generator.get_state()
    seen = []
    hook = trainer.model.register_forward_pre_hook(
        lambda module, args: seen.append([a.detach().clone() for a in args[:2]]))
    trainer.train_step()
    hook.remove()
    trainer.generator.set_state(state)
    x0, _, log_snr, eps = trainer._draw_batch()
    (x_t, lam), = seen
    assert torch.equal(lam, log_snr)
    ab = torch.sigmoid(log_snr)[:, None, None, None]
    assert torch.equal(x_t, ab.sqrt() * x0 + (1 - ab).sqrt() * eps)
    lam64 = log_snr.double()[:, None, None, None]   # 1 − ᾱ = sigmoid(−λ), exact in float64
    exact = torch.sigmoid(lam64).sqrt() * x0.double() + torch.sigmoid(-lam64).sqrt() * eps.double()
    torch.testing.assert_close(x_t.double(), exact, rtol=0, atol=1e-5)


@pytest.mark.slow
def test_tiny_model_overfits_16_images(tiny_config, tiny_data):
    config = TrainConfig(**{**tiny_config.__dict__, "steps": 120})
    trainer = Trainer(config, tiny_data, device="cpu")
    losses = [p.loss for p in trainer.iter_training()]
    assert len(losses) == 120
    first, last = np.mean(losses[:10]), np.mean(losses[-20:])
    assert last < 0.5 * first, (first, last)
    assert trainer.step == 120


@pytest.mark.slow
def test_progress_events_report_rates_and_levels(tiny_config, tiny_data):
    trainer = Trainer(tiny_config, tiny_data, device="cpu")
    events = list(trainer.iter_training())
    last = events[-1]
    assert last.done and last.step == tiny_config.steps
    assert last.images_per_second > 0 and last.eta_s == 0
    assert last.loss_by_level.shape == (len(last.level_edges) + 1,)
    assert np.isfinite(last.loss_by_level).sum() >= 3  # several noise levels seen


@pytest.mark.slow
def test_stop_event_cancels_and_the_trainer_can_continue(tiny_config, tiny_data):
    trainer = Trainer(tiny_config, tiny_data, device="cpu")
    stop = threading.Event()
    for p in trainer.iter_training(stop):
        if p.step == 5:
            stop.set()
    assert trainer.step == 5
    rest = list(trainer.iter_training())
    assert rest[0].step == 6 and rest[-1].step == tiny_config.steps


@pytest.mark.slow
def test_resumed_run_gives_the_same_next_loss(tmp_path, tiny_config, tiny_data):
    """A run saved at step 20 and resumed gives the losses the unbroken run goes on to give
    (saved mid-run, as the app's periodic saves do: saving must not disturb the run either)."""
    path = tmp_path / "ckpt.safetensors"
    straight = Trainer(tiny_config, tiny_data, device="cpu")
    losses = []
    for p in straight.iter_training():
        losses.append(p.loss)
        if p.step == 20:
            checkpoint.save_checkpoint(path, straight)
    assert len(losses) == tiny_config.steps
    resumed = checkpoint.load_trainer(path, tiny_data, device="cpu")
    assert resumed.step == 20
    rest = [p.loss for p in resumed.iter_training()]
    assert rest == pytest.approx(losses[20:], rel=1e-5, abs=1e-7)


def test_nan_data_stops_with_a_message_and_keeps_the_last_good_state(tiny_config, tiny_data):
    images, labels = tiny_data
    trainer = Trainer(tiny_config, (images.clone(), labels), device="cpu")
    for p in trainer.iter_training():
        if p.step == 3:
            break
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    rng_before = trainer.generator.get_state()
    trainer.images[:] = float("nan")
    with pytest.raises(TrainingDivergedError, match="last good state"):
        next(trainer.iter_training())
    assert trainer.step == 3
    # The RNG is rewound too, so a run saved here resumes exactly like an unbroken one.
    assert torch.equal(trainer.generator.get_state(), rng_before)
    for k, v in trainer.model.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_learning_rate_warms_up_then_decays(tiny_config, tiny_data):
    trainer = Trainer(tiny_config, tiny_data, device="cpu")
    c = tiny_config
    assert trainer.lr_at(0) == pytest.approx(c.lr / c.warmup_steps)
    assert trainer.lr_at(c.warmup_steps) == pytest.approx(c.lr)
    assert trainer.lr_at(c.steps) == pytest.approx(c.lr * c.min_lr_ratio)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0).validated()
    with pytest.raises(ValueError, match="learning rate"):
        TrainConfig(lr=math.nan).validated()
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")


def test_thread_measurement_reports_each_candidate(tiny_config):
    rates = measure_thread_counts([1], batch_size=4, model_config=tiny_config.model, repeats=1)
    assert set(rates) == {1} and rates[1] > 0


# -- min-SNR loss weighting (Hang et al. 2023) ------------------------------------------------


def test_min_snr_weights_are_min_snr_gamma_over_snr():
    from ddpm_desktop.core.training import loss_weights

    lam = torch.linspace(-12, 12, 49, dtype=torch.float64)
    snr = np.exp(lam.numpy())
    want = np.minimum(snr, 5.0) / snr
    np.testing.assert_allclose(loss_weights(lam, "min_snr", 5.0).numpy(), want, rtol=1e-12)
    assert torch.equal(loss_weights(lam, "eps"), torch.ones_like(lam))
    # γ = SNR is the turning point: noisier levels keep weight 1, cleaner ones are damped.
    assert float(loss_weights(torch.tensor([math.log(5.0)]), "min_snr", 5.0)) == pytest.approx(1.0)


@pytest.mark.slow
def test_min_snr_changes_the_update_but_reports_the_plain_eps_mse(tiny_config, tiny_data):
    import dataclasses

    plain = Trainer(tiny_config, tiny_data, device="cpu")
    weighted = Trainer(dataclasses.replace(tiny_config, loss_weighting="min_snr", min_snr_gamma=0.5),
                       tiny_data, device="cpu")
    loss_p, per_p = plain.train_step()
    loss_w, per_w = weighted.train_step()
    # Same seed, same initial weights and batch: the first loss is the same unweighted ε-MSE,
    # and it is the mean of the per-sample losses returned beside it.
    assert loss_w == pytest.approx(loss_p, rel=1e-6)
    assert loss_w == pytest.approx(float(per_w[1].mean()), rel=1e-5)
    # ...but the weighted objective moves the weights elsewhere (Adam's first step is ±lr per
    # weight whatever the gradient's scale, so look after a few).
    for _ in range(3):
        plain.train_step()
        weighted.train_step()
    moved = [not torch.allclose(a, b) for a, b in zip(plain.model.parameters(), weighted.model.parameters())]
    assert any(moved)


def test_unknown_loss_weighting_is_rejected():
    with pytest.raises(ValueError, match="loss weighting"):
        TrainConfig(loss_weighting="snr").validated()
    with pytest.raises(ValueError, match="γ"):
        TrainConfig(loss_weighting="min_snr", min_snr_gamma=0).validated()


def test_label_init_std_sets_the_class_embedding_and_leaves_the_rest(tiny_config, tiny_data):
    import dataclasses

    base = Trainer(tiny_config, tiny_data, device="cpu")
    wide = Trainer(dataclasses.replace(tiny_config, label_init_std=1.0), tiny_data, device="cpu")
    assert float(base.model.label_emb.weight.std()) == pytest.approx(0.02, rel=0.3)
    assert float(wide.model.label_emb.weight.std()) == pytest.approx(1.0, rel=0.3)
    # Every other weight is the seed's usual initialisation, and the EMA starts from the model.
    for (name, a), b in zip(base.model.named_parameters(), wide.model.parameters()):
        if name != "label_emb.weight":
            assert torch.equal(a, b), name
    assert torch.equal(wide.ema.label_emb.weight, wide.model.label_emb.weight)
    with pytest.raises(ValueError, match="label_init_std"):
        TrainConfig(label_init_std=float("nan")).validated()
