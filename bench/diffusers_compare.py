"""4. Side by side with diffusers: the same network stepped by diffusers' schedulers and by
core.sampling, in one process.

Configuration (core/sampling.py's docstring: our 1-based t is diffusers' 0-based k + 1, and
"trailing" spacing gives the same steps; diffusers' DDIM steps to k - T // steps, the next of
them only when the step count divides T, so DDIM is compared at such counts).
tests/core/test_diffusers_reference.py checks the same configuration with a small ε network:
- common: our default schedule (DEFAULT_SCHEDULE: num_train_timesteps=1000, beta_schedule="linear",
  beta_start=1e-4, beta_end=0.02), prediction_type="epsilon", timestep_spacing="trailing";
- DDPMScheduler(variance_type="fixed_large", clip_sample=True) vs iter_ddpm(variance="beta",
  clip_x0=True) - σ_t² = β_t, the core default - with the noise drawn from two generators
  seeded alike: both draw torch.randn(x.shape) on the CPU at every step but the last, so the
  injected noise is identical. Only at 1000 steps: with fewer, diffusers' last trailing
  timestep is k = T/steps - 1 > 0, and its `if t > 0` adds noise (variance 1 - ᾱ_k) on the
  final step, which iter_ddpm (no noise on the step to t = 0) does not;
- DDIMScheduler(clip_sample=True, set_alpha_to_one=True, steps_offset=0), step(eta=0,
  use_clipped_model_output=True) vs iter_ddim(eta=0, clip_x0=True): iter_ddim re-derives ε
  from the clipped x̂_0, which diffusers does only with use_clipped_model_output=True;
- DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2,
  solver_type="midpoint", final_sigmas_type="zero", lower_order_final=False) vs iter_dpmpp_2m.
  lower_order_final is set only to be explicit: with solver_order=2 it changes nothing. Its
  last step is first order anyway (final_sigmas_type="zero": σ = 0 there, as ours), and below
  15 steps it caps the second-to-last step at second order, which an order-2 solver already is
  (measured with diffusers 0.42.1 at 7, 10 and 14 steps, clipped or not: identical outputs,
  bit for bit). diffusers' DPM-Solver has no clip_sample; thresholding=True with
  sample_max_value=1.0 clamps its s to 1, i.e. clips x̂_0 to [-1, 1], so clip_x0=True
  compares with that and clip_x0=False with thresholding off.
The network seen by diffusers maps its timestep k to our log-SNR of t = k + 1.

Agreement is checked twice: with diffusers' own coefficients (it builds ᾱ with a float32
cumprod, we in float64, so ᾱ differs by ~1e-7 relative and the outputs by float noise
amplified over the steps), and with diffusers' `alphas_cumprod` replaced by ours rounded to
float32 (the algorithms alone).

Overhead: the per-step cost of each scheduler loop around a network that costs nothing (a
precomputed ε), ours (the iter_* generator, yields and CPU copies included) against diffusers'
(set_timesteps + step), interleaved repeats, medians; and end to end with the real network
at batch 1.
"""
from __future__ import annotations

import torch

from bench import common
from ddpm_desktop.core.schedule import DEFAULT_SCHEDULE

AGREEMENT_ATOL = 1e-3  # max |Δ| on the final images in [-1, 1] (float32 through the network)
# Our default schedule (core.schedule.DEFAULT_SCHEDULE) in diffusers' terms.
COMMON = dict(num_train_timesteps=DEFAULT_SCHEDULE["T"], beta_schedule=DEFAULT_SCHEDULE["kind"],
              beta_start=DEFAULT_SCHEDULE["beta_start"], beta_end=DEFAULT_SCHEDULE["beta_end"],
              prediction_type="epsilon", timestep_spacing="trailing")


def make_scheduler(kind: str, clip: bool = True, variance: str = "beta"):
    """diffusers' scheduler configured as core.sampling's `kind` with clip_x0=clip (and, for DDPM,
    σ_t² = β_t for variance="beta", β̃_t for "beta_tilde")."""
    import diffusers

    if kind == "ddpm":
        variance_type = {"beta": "fixed_large", "beta_tilde": "fixed_small"}[variance]
        return diffusers.DDPMScheduler(**COMMON, variance_type=variance_type, clip_sample=clip,
                                       clip_sample_range=1.0)
    if kind == "ddim":
        return diffusers.DDIMScheduler(**COMMON, clip_sample=clip, clip_sample_range=1.0,
                                       set_alpha_to_one=True, steps_offset=0)
    if kind == "dpmpp":
        return diffusers.DPMSolverMultistepScheduler(
            **COMMON, algorithm_type="dpmsolver++", solver_order=2, solver_type="midpoint",
            final_sigmas_type="zero", lower_order_final=False, euler_at_final=False,
            use_karras_sigmas=False, thresholding=clip, sample_max_value=1.0)
    raise ValueError(kind)


def share_alphas(sched, schedule) -> None:
    """Give a diffusers scheduler our ᾱ (float64 -> float32) before set_timesteps."""
    ab = torch.tensor(schedule.alphas_cumprod, dtype=torch.float32)
    sched.alphas_cumprod = ab
    if hasattr(sched, "alpha_t"):  # DPM-Solver keeps these too
        sched.alpha_t = torch.sqrt(ab)
        sched.sigma_t = torch.sqrt(1 - ab)
        sched.lambda_t = torch.log(sched.alpha_t) - torch.log(sched.sigma_t)


def diffusers_eps(model, schedule, labels):
    """ε(x, k) for diffusers: its 0-based timestep k is our t = k + 1."""
    log_snr = schedule.log_snr

    def eps(x, k):
        k = int(k)
        lam = torch.full((x.shape[0],), float(log_snr[k]), dtype=torch.float32)
        return model(x, lam, labels)

    return eps


def run_diffusers(sched, eps, x_T, steps, seed: int | None = None, eta_kwargs=None):
    x = x_T.clone()
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    sched.set_timesteps(steps)
    kwargs = dict(eta_kwargs or {})
    with torch.inference_mode():
        for k in sched.timesteps:
            e = eps(x, k)
            x = sched.step(e, k, x, generator=g, **kwargs).prev_sample
    return x


def step_kwargs(kind: str) -> dict:
    return {"eta": 0.0, "use_clipped_model_output": True} if kind == "ddim" else {}


def run_ours(kind, eps_fn, schedule, x_T, steps, seed: int | None = None, clip: bool = True):
    from ddpm_desktop.core.sampling import sample

    g = torch.Generator().manual_seed(seed) if seed is not None else None
    kw = dict(steps=steps, clip_x0=clip)
    if kind == "ddpm":
        kw.update(generator=g, variance="beta")
    elif kind == "ddim":
        kw.update(eta=0.0)
    return sample(kind, eps_fn, schedule, x_T, **kw)


def agreement(model, schedule, cases, batch: int) -> list[dict]:
    from ddpm_desktop.core.sampling import make_eps_fn

    labels = torch.arange(batch) % 10
    x_T = torch.randn((batch, 1, 28, 28), generator=torch.Generator().manual_seed(3))
    eps_ours = make_eps_fn(model, schedule, labels=labels, guidance=1.0)
    eps_diff = diffusers_eps(model, schedule, labels)
    rows = []
    for kind, steps, clip in cases:
        common.log(f"diffusers: agreement {kind} {steps} clip={clip}")
        seed = 7 if kind == "ddpm" else None
        ours = run_ours(kind, eps_ours, schedule, x_T, steps, seed, clip)
        row = {"sampler": kind, "steps": steps, "clip_x0": clip, "batch": batch,
               "noise": "identical (same-seed generators)" if kind == "ddpm" else "deterministic"}
        for variant in ("diffusers_coefficients", "shared_alphas_cumprod"):
            sched = make_scheduler(kind, clip)
            if variant == "shared_alphas_cumprod":
                share_alphas(sched, schedule)
            theirs = run_diffusers(sched, eps_diff, x_T, steps, seed, step_kwargs(kind))
            diff = (ours - theirs).abs()
            row[variant] = {"max_abs": float(diff.max()), "mean_abs": float(diff.mean())}
        row["pass"] = row["diffusers_coefficients"]["max_abs"] <= AGREEMENT_ATOL
        rows.append(row)
    return rows


def overhead(model, schedule, kind: str, steps: int, batch: int, repeats: int, null_net: bool) -> dict:
    """Interleaved medians of our loop vs diffusers' loop (same ε function, same inputs)."""
    from ddpm_desktop.core.sampling import iter_sampler, make_eps_fn

    labels = torch.arange(batch) % 10
    x_T = torch.randn((batch, 1, 28, 28), generator=torch.Generator().manual_seed(5))
    clip = kind != "dpmpp"  # diffusers' DPM-Solver clip is a quantile threshold: compare unclipped
    if null_net:
        const = 0.1 * torch.randn((batch, 1, 28, 28), generator=torch.Generator().manual_seed(6))

        def eps_ours(x, t):
            return const

        def eps_diff(x, k):
            return const
    else:
        eps_ours = make_eps_fn(model, schedule, labels=labels, guidance=1.0)
        eps_diff = diffusers_eps(model, schedule, labels)
    sched = make_scheduler(kind, clip)
    kw = step_kwargs(kind)

    def ours():
        g = torch.Generator().manual_seed(9)
        for _ in iter_sampler(kind, eps_ours, schedule, x_T, steps=steps, generator=g, clip_x0=clip):
            pass

    def theirs():
        run_diffusers(sched, eps_diff, x_T, steps, 9, kw)

    times = common.interleaved({"ours": ours, "diffusers": theirs}, repeats, warmup=1)
    o, d = common.median(times["ours"]), common.median(times["diffusers"])
    return {"sampler": kind, "steps": steps, "batch": batch, "network": "none (precomputed ε)" if null_net
            else "bundled model", "repeats": repeats,
            "ours_us_per_step": o / steps * 1e6, "diffusers_us_per_step": d / steps * 1e6,
            "ratio_diffusers_over_ours": d / o, "ours_s": times["ours"], "diffusers_s": times["diffusers"]}


def run(cfg: common.BenchConfig) -> dict:
    import diffusers

    from ddpm_desktop.core.schedule import NoiseSchedule

    threads = cfg.threads or common.app_thread_count()
    torch.set_num_threads(threads)
    model, info = common.load_bench_model(cfg)
    schedule = NoiseSchedule.default()
    q = cfg.quick
    if q:
        cases = [("ddim", 10, True), ("dpmpp", 10, False), ("dpmpp", 10, True), ("ddpm", 1000, True)]
    else:
        cases = ([("ddim", s, True) for s in (10, 20, 50)]
                 + [("dpmpp", s, c) for s in (10, 20, 50) for c in (False, True)]
                 + [("ddpm", 1000, True)])
    agree = agreement(model, schedule, cases, batch=2 if q else 4)
    over = []
    plan = [("ddpm", 1000), ("ddim", 50), ("dpmpp", 50)]
    for kind, steps in plan:
        for batch in ((1,) if q else (1, 64)):
            common.log(f"diffusers: scheduler overhead {kind} {steps} batch {batch}")
            s = 100 if (q and kind == "ddpm") else steps
            over.append(overhead(model, schedule, kind, s, batch, 2 if q else 7, null_net=True))
    for kind, steps in ([("ddim", 20)] if q else [("ddpm", 1000), ("ddim", 50), ("dpmpp", 50)]):
        common.log(f"diffusers: end to end {kind} {steps} batch 1")
        over.append(overhead(model, schedule, kind, steps, 1, 1 if q else 3, null_net=False))
    return {"model": info, "torch_threads": threads, "diffusers": diffusers.__version__,
            "agreement_atol": AGREEMENT_ATOL, "agreement": agree, "overhead": over,
            "all_agree": all(r["pass"] for r in agree)}
