"""The Beliefs panel: each button's job lands its result in the panel, checked against closed
forms for a linear ε̂ = c·x (a Gaussian model), and a failing job gives a one-line error."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad

from ddpm_desktop.core.imaging import to_uint8
from ddpm_desktop.core.likelihood import DEFAULT_LOG_SNR_MAX, dequantize
from ddpm_desktop.core.sampling import generator_for
from ddpm_desktop.ui.widgets.beliefs_panel import BeliefsPanel, connect_beliefs_panel

C = 0.5


class LinearModel(torch.nn.Module):
    """The UNet's call signature; ε̂ = c·x, plus a shift by class when a label is given."""

    null_label = 10

    class config:  # noqa: N801 (the attribute the app reads the class count from)
        num_classes = 10

    def forward(self, x, log_snr, labels=None):
        eps = C * x
        if labels is not None:
            eps = eps + 0.02 * (labels.to(x.dtype) - 4.5)[:, None, None, None]
        return eps


class BrokenModel(LinearModel):
    def forward(self, x, log_snr, labels=None):
        raise RuntimeError("the network fell over\nsecond line of detail")


@pytest.fixture
def session(session):
    """conftest's session (T = 200, the bar digit) with the linear model and short jobs."""
    session.model_state.set_model(LinearModel(), "linear")
    session.beliefs.ode_steps, session.beliefs.inversion_steps, session.beliefs.refine = 8, 10, 0
    return session


@pytest.fixture
def panel(session, qtbot):
    p = BeliefsPanel(session.belief, session.schedule_state)
    qtbot.addWidget(p)
    connect_beliefs_panel(p, session.beliefs)
    return p


def click_and_wait(qtbot, session, button, kind):
    button.click()
    qtbot.waitUntil(lambda: not session.belief.running[kind], timeout=20_000)


def test_likelihood_is_that_of_the_gaussian_the_linear_model_defines(session, panel, qtbot):
    """With ε̂ = c·x the flow is linear, dx/dλ = ½(σ² − cσ)x: x(λ_min) = s·x(λ_max) with
    log s = −∫ ½(σ² − cσ) dλ, so p(x) = N(x; 0, I/s²) (quadrature, independent of the ODE solver)."""
    click_and_wait(qtbot, session, panel.likelihood_button, "likelihood")
    result = session.belief.likelihood
    assert result is not None and session.belief.errors["likelihood"] == ""
    lam_min = float(session.schedule.log_snr[-1])

    def rate(lam):
        sig = math.sqrt(1.0 / (1.0 + math.exp(lam)))
        return 0.5 * (sig * sig - C * sig)

    log_s = -quad(rate, lam_min, DEFAULT_LOG_SNR_MAX)[0]
    x = dequantize(to_uint8(session.input_state.digit)[None],
                   generator_for(session.input_state.seed)).double().reshape(-1).numpy()
    d = x.size
    log_p = -0.5 * math.exp(2 * log_s) * float(x @ x) - 0.5 * d * math.log(2 * math.pi) + d * log_s
    expected = -log_p / (d * math.log(2)) + math.log2(127.5)
    assert result.bits_per_dim == pytest.approx(expected, abs=2e-3)
    assert result.more_likely_than is None  # not the bundled model: no held-out place
    assert f"{result.bits_per_dim:.3f} bits/dim" in panel.likelihood_label.text()


def test_uncertainty_of_the_linear_model_is_isotropic(session, panel, qtbot):
    """Cov[x_0 | x_t] = ((1−ᾱ)/ᾱ)(I − √(1−ᾱ)·c·I): every variance equals that number, and the
    panel shows three images and σ² per direction."""
    t, k = 50, 3
    panel.t_spin.setValue(t)
    panel.k_spin.setValue(k)
    click_and_wait(qtbot, session, panel.uncertainty_button, "uncertainty")
    result = session.belief.uncertainty
    assert result is not None and result.t == t
    ab = float(session.schedule.alphas_cumprod[t - 1])
    expected = (1 - ab) / ab * (1 - math.sqrt(1 - ab) * C)
    np.testing.assert_allclose(result.variances, expected, rtol=1e-3)
    norms = np.linalg.norm(result.directions.reshape(k, -1), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-4)
    # x̂_0 = (x_t − √(1−ᾱ) c x_t)/√ᾱ (Ho et al. 2020, eq. 15) at the forward chain's x_t
    x_t = session.forward_frame(t)
    np.testing.assert_allclose(result.x0_mean, (x_t - math.sqrt(1 - ab) * C * x_t) / math.sqrt(ab),
                               atol=1e-4)
    assert panel.directions_grid.count() == 4 * k
    assert f"t = {t}" in panel.uncertainty_label.text()


def test_inversion_lands_x_T_the_round_trip_and_the_other_class(session, panel, qtbot):
    panel.label_spin.setValue(8)
    panel.guidance_spin.setValue(2.0)
    click_and_wait(qtbot, session, panel.invert_button, "inversion")
    r = session.belief.inversion
    assert r is not None and r.label == 8 and r.guidance == 2.0
    np.testing.assert_array_equal(r.x0, session.input_state.digit)
    assert r.mse == pytest.approx(float(np.mean((r.reconstruction.astype(np.float64) - r.x0) ** 2)),
                                  rel=1e-4)
    assert r.mse < 0.05  # the deterministic ODE goes back where it came from
    assert np.std(r.x_T) > 0.5  # x_T is noise-like, not the digit
    assert not np.allclose(r.decoded, r.reconstruction, atol=1e-3)  # class 8 changes the decoding
    assert f"{r.mse:.2e}" in panel.inversion_label.text()
    assert panel.inversion_grid.count() == 8  # four images, four captions


def test_a_failing_job_gives_one_line_of_error(session, panel, qtbot):
    session.model_state.set_model(BrokenModel(), "broken")
    errors = []
    session.error.connect(lambda message, details: errors.append(message))
    click_and_wait(qtbot, session, panel.likelihood_button, "likelihood")
    line = session.belief.errors["likelihood"]
    assert line.startswith("Could not compute the likelihood") and "fell over" in line
    assert "\n" not in line and panel.likelihood_label.text() == line
    assert session.belief.likelihood is None
    qtbot.waitUntil(lambda: bool(errors), timeout=5_000)
    assert errors[0].startswith("Could not compute the likelihood")


def test_without_a_model_each_button_says_so(session, panel):
    session.model_state.set_model(None, "")
    for button, kind in ((panel.likelihood_button, "likelihood"),
                         (panel.uncertainty_button, "uncertainty"),
                         (panel.invert_button, "inversion")):
        button.click()
        assert "no model" in session.belief.errors[kind]
        assert not session.belief.running[kind]


def test_every_control_has_a_tooltip(panel):
    from PySide6.QtWidgets import QAbstractSpinBox, QPushButton

    controls = panel.findChildren(QPushButton) + panel.findChildren(QAbstractSpinBox)
    assert len(controls) == 7
    assert all(c.toolTip() for c in controls)
    assert "Nalisnick" in panel.caution_label.text()


def test_the_bundled_model_is_placed_among_the_held_out_digits(session, panel, qtbot, monkeypatch):
    """At the reference's settings the panel says what share of held-out digits scores worse
    (higher bits/dim), as `ddpm-desktop likelihood` reports `more_likely_than_held_out`."""
    from ddpm_desktop.core import likelihood
    from ddpm_desktop.core.checkpoint import ModelSource

    params = session.schedule_state.params
    ref = likelihood.LikelihoodReference(
        np.linspace(3.0, 40.0, 101), session.beliefs.ode_steps, DEFAULT_LOG_SNR_MAX,
        {key: params[key] for key in ("kind", "T", "beta_start", "beta_end")})
    monkeypatch.setattr(likelihood, "load_reference", lambda path=None: ref)
    session.model_state.set_model(LinearModel(), ModelSource.BUNDLED)
    click_and_wait(qtbot, session, panel.likelihood_button, "likelihood")
    r = session.belief.likelihood
    share = float(np.mean(ref.bits_per_dim > r.bits_per_dim))
    assert r.more_likely_than == pytest.approx(share)
    assert 0.0 < share < 1.0
    assert f"more likely than {share:.0%} of held-out digits" in panel.likelihood_label.text()


def test_a_new_digit_drops_the_results_of_the_old_one(session, panel, qtbot):
    click_and_wait(qtbot, session, panel.likelihood_button, "likelihood")
    assert session.belief.likelihood is not None
    session.input_state.set_digit(np.zeros((28, 28), np.float32), "grey")
    assert session.belief.likelihood is None
    assert "Press Likelihood" in panel.likelihood_label.text()
    assert panel.likelihood_button.isEnabled()
