"""bench/hutchinson.py at a tiny size: on a 16-pixel image and a small nonlinear ε̂ (a Jacobian
with off-diagonal terms, so Rademacher probes are not exact), the exact bits/dim it compares
against equals a brute-force reference (the full Jacobian's trace by torch.autograd.functional
along the same RK4 path), and Hutchinson's draws on that path scatter around it without bias."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.hutchinson import TOLERANCE, Comparison, compare_traces, summarise
from ddpm_desktop.core.likelihood import bits_per_dim

D = 16
LAM_MIN, LAM_MAX, STEPS = -6.0, 8.0, 3


class TinyEps:
    """ε̂(x, λ) = tanh(W x + λ b/4): nonlinear, Jacobian diag(1 − tanh²) W, W not symmetric."""

    def __init__(self, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.w = torch.randn(D, D, generator=g, dtype=torch.float64) / math.sqrt(D)
        self.b = torch.randn(D, generator=g, dtype=torch.float64)

    def __call__(self, x, lam):
        flat = x.reshape(x.shape[0], D)
        return torch.tanh(flat @ self.w.T + lam * self.b / 4).reshape(x.shape)


def _brute_force_bits(eps, x):
    """RK4 of dx/dλ = ½(σ²x − σε̂) with ∫(½σ²D − ½σ tr J) dλ, J the full Jacobian."""
    def field(xx, lam):
        s = math.sqrt(1 / (1 + math.exp(lam)))
        jac = torch.autograd.functional.jacobian(lambda v: eps(v.reshape(1, D), lam).reshape(D),
                                                 xx.reshape(D))
        return 0.5 * (s * s * xx - s * eps(xx, lam)), 0.5 * s * s * D - 0.5 * s * float(torch.trace(jac))

    h = -(LAM_MAX - LAM_MIN) / STEPS
    xx, lam, integral = x.clone(), LAM_MAX, 0.0
    for i in range(STEPS):
        k1, g1 = field(xx, lam)
        k2, g2 = field(xx + 0.5 * h * k1, lam + 0.5 * h)
        k3, g3 = field(xx + 0.5 * h * k2, lam + 0.5 * h)
        k4, g4 = field(xx + h * k3, lam + h)
        xx = xx + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
        integral -= (h / 6) * (g1 + 2 * g2 + 2 * g3 + g4)
        lam = LAM_MAX + (i + 1) * h
    log_p = -0.5 * float((xx ** 2).sum()) - 0.5 * D * math.log(2 * math.pi) - integral
    return float(bits_per_dim([log_p], D)[0])


def test_the_exact_value_is_the_brute_force_trace_and_hutchinson_scatters_around_it():
    eps = TinyEps()
    x = torch.linspace(-0.9, 0.8, D, dtype=torch.float64).reshape(1, 1, 4, 4)
    c = compare_traces(eps, x, LAM_MIN, LAM_MAX, STEPS, draws=400, generator=torch.Generator().manual_seed(1))
    assert c.exact == pytest.approx(_brute_force_bits(eps, x), abs=1e-10)
    assert c.hutchinson.shape == (400,)
    np.testing.assert_allclose(c.errors, c.hutchinson - c.exact)
    spread = c.errors.std(ddof=1)
    assert spread > 1e-4                                       # the probes are not exact here
    assert abs(c.errors.mean()) < 4 * spread / math.sqrt(400)  # unbiased


def test_the_summary_reads_errors_against_each_digits_scale():
    a = Comparison(2.0, np.array([2.01, 1.97, 2.0]), np.array([0.01, -0.03, 0.0]), 1.0, 0.1)
    b = Comparison(-0.1, np.array([-0.1, -0.12, -0.08]), np.array([0.0, -0.02, 0.02]), 1.0, 0.1)
    s = summarise([a, b], scales=[2.0, 1.0])
    assert (s.digits, s.draws) == (2, 3)
    assert s.median_abs_error == pytest.approx(0.015)          # medians 0.01 and 0.02
    assert s.max_abs_error == pytest.approx(0.03)
    assert s.max_relative == pytest.approx(0.02 / 1.0)              # b: 0.02 of 1 over a: 0.03 of 2
    # within 1% of the scale: 0.01/2, 0/2, 0/1 (not 0.03/2, 0.02/1, 0.02/1)
    assert s.share_within_tolerance == pytest.approx(3 / 6) and TOLERANCE == 0.01
    # against the path's own exact value: 0.01/2, 0/2, 0/0.1
    assert s.share_within_tolerance_of_path_value == pytest.approx(3 / 6)
    assert s.max_relative_std == pytest.approx(0.02)           # b: s.d. 0.02 of scale 1
