"""`inpaint` and `kl` bounded like the other commands; the Fréchet distance never reaches sqrtm
with non-finite numbers."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from reliability_helpers import assert_one_line_error, run_cli

INPAINT = ["inpaint", "--index", "0", "--mask", "top", "--n", "1"]


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a command gets as far as loading a model."""
    from ddpm_desktop.commands import _common

    def refuse(*a, **k):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(_common, "load_model_arg", refuse)


@pytest.mark.parametrize("extra, words", [
    (["--fps", "inf"], "--fps"), (["--fps", "1e308"], "--fps"), (["--fps", "0.001"], "--fps"),
    (["--fps", "1e5"], "--fps"), (["--fps", "1e7"], "--fps"), (["--fps", "nan"], "--fps"),
    (["--resample", "100000"], "--resample"), (["--resample", "0"], "--resample"),
    (["--steps", str(2**63)], "--steps"), (["--steps", "0"], "--steps"),
    (["--method", "paste", "--steps", str(2**63)], "--steps"),
    (["--jump-length", str(2**63)], "--jump-length"),
    (["--steps", "1000", "--jump-length", "1", "--resample", "100"], "network calls"),
    (["--n", "100000"], "--n"), (["--threads", "10000"], "cores"), (["--eta", "nan"], "--eta"),
])
def test_inpaint_refuses_out_of_range_values_before_any_work(extra, words, tmp_path, no_work):
    out = tmp_path / "c.gif"
    rc, o, err = run_cli(INPAINT + ["--out", str(out)] + extra)
    assert_one_line_error(rc, o, err)
    assert words in err, err
    assert not out.exists()


@pytest.mark.parametrize("start, flag, value", [
    ("salt_pepper", "--value", "1e308"), ("salt_pepper", "--value", "1000"),
    ("exponential", "--rate", "1e308"), ("exponential", "--rate", "1e-308"),
    ("shifted_gaussian", "--mean", "-1e308"), ("shifted_gaussian", "--std", "inf"),
    ("uniform", "--half-width", "1e308"), ("laplace", "--scale", "nan"),
])
def test_kl_start_parameters_are_bounded(start, flag, value):
    rc, out, err = run_cli(["kl", "--start", start, f"{flag}={value}", "--T", "10"])
    assert_one_line_error(rc, out, err)
    assert flag in err, err


def test_kl_start_parameters_at_their_bounds_run_cleanly():
    from ddpm_desktop.commands.kl import FLAG_RANGES, START_FLAGS

    for flag, (lo, hi) in FLAG_RANGES.items():
        for value in (lo, hi):
            rc, out, err = run_cli(["kl", "--start", START_FLAGS[flag][0],
                                    f"--{flag.replace('_', '-')}={value}", "--T", "20", "--json"])
            assert rc == 0 and err == "", (flag, value, err)


def _returns_within(fn, seconds: float):
    """(finished, result or exception) of fn() run in a daemon thread for at most `seconds`."""
    box = {}

    def run():
        try:
            box["result"] = fn()
        except Exception as exc:  # noqa: BLE001
            box["result"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive(), box.get("result")


@pytest.mark.parametrize("poison", [np.nan, np.inf, 1e300])
def test_frechet_distance_refuses_non_finite_features_instead_of_hanging(poison):
    from ddpm_desktop.core.evaluation import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 128))  # the classifier's 128-d features
    b = a.copy()
    b[3, 5] = poison
    done, result = _returns_within(lambda: frechet_distance(b, a), 30.0)
    assert done, "frechet_distance did not return"
    assert isinstance(result, ValueError) and "\n" not in str(result)
    # finite features still give the distance, 0 for identical sets
    assert abs(frechet_distance(a, a)) < 1e-3  # of a trace of about 128 (singular at n = 64)


@pytest.mark.slow
def test_evaluate_with_a_nan_classifier_ends_in_one_line(tmp_path):
    import torch

    from ddpm_desktop.core.checkpoint import save_weights
    from ddpm_desktop.core.classifier import DigitClassifier, save_classifier

    from reliability_helpers import tiny_model

    ckpt = save_weights(tmp_path / "m.safetensors", tiny_model())
    clf = DigitClassifier()
    with torch.no_grad():
        clf.fc.weight[0, 0] = float("nan")  # every feature set then holds NaN
    cpath = save_classifier(tmp_path / "nan_classifier.safetensors", clf, {"accuracy": 0.99})
    done, result = _returns_within(lambda: run_cli(
        ["evaluate", "--checkpoint", str(ckpt), "--classifier", str(cpath), "--samples", "20",
         "--configs", "ddim:2", "--threads", "1"]), 120.0)
    assert done, "evaluate hung"
    rc, out, err = result
    assert_one_line_error(rc, out, err)
    assert "nan_classifier" in err or "finite" in err, err
