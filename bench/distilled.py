"""Distilled sampler: seconds per sample at batch 1 on one thread, student against teacher.

    OMP_NUM_THREADS=1 python -m bench.distilled [--repeats 30] [--json]

Rows: the bundled student (resources/distilled.safetensors) with the distilled sampler at
1, 2 and 4 steps (one network call per step, its guidance baked in), and the bundled teacher
with DPM-Solver++(2M) at 20 steps under classifier-free guidance at the student's w (each
step one call on a batch of 2: conditional and null label). Each configuration runs
`repeats` times, interleaved, after one warm-up; the report prints the median seconds per
sample and the teacher/student ratio. Speed only: quality is docs/DISTILLATION.md (evaluate).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def run(repeats: int = 30) -> dict:
    from ddpm_desktop.core.checkpoint import bundled_model_path, load_model
    from ddpm_desktop.core.distill import bundled_student_path, load_student
    from ddpm_desktop.core.sampling import iter_sampler, make_eps_fn
    from ddpm_desktop.core.schedule import NoiseSchedule

    torch.set_num_threads(1)
    schedule = NoiseSchedule.default()
    teacher, _ = load_model(bundled_model_path())
    student, _ = load_student(bundled_student_path())
    w = float(student.guidance)
    label = torch.tensor([3])
    configs = {f"distilled:{k}": (student, "distilled", k, 1.0) for k in (1, 2, 4)}
    configs["dpmpp:20 (teacher)"] = (teacher, "dpmpp", 20, w)
    times = {name: [] for name in configs}
    gen = torch.Generator().manual_seed(0)
    for rep in range(repeats + 1):
        for name, (model, sampler, steps, guidance) in configs.items():
            x_T = torch.randn((1, 1, 28, 28), generator=gen)
            eps_fn = make_eps_fn(model, schedule, label, guidance)
            started = time.perf_counter()
            for _ in iter_sampler(sampler, eps_fn, schedule, x_T, steps=steps):
                pass
            if rep:  # the first round warms up
                times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(v) for name, v in times.items()}
    teacher_s = medians["dpmpp:20 (teacher)"]
    return {"threads": torch.get_num_threads(), "repeats": repeats, "guidance": w,
            "seconds_per_sample": medians,
            "teacher_over_student": {n: teacher_s / s for n, s in medians.items() if n.startswith("distilled")}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    report = run(args.repeats)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"batch 1, {report['threads']} thread, median of {report['repeats']} runs (w = {report['guidance']})")
    for name, s in report["seconds_per_sample"].items():
        ratio = report["teacher_over_student"].get(name)
        print(f"  {name:<20} {1000 * s:8.2f} ms/sample" + (f"   teacher/student {ratio:5.1f}x" if ratio else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
