"""Distil the bundled teacher into a 1-4 step student (core.distill), resumable, with a CSV log.

    nice -n 5 python tools/distill.py --out runs/distill --method direct --minutes 40
    nice -n 5 python tools/distill.py --out runs/distill --resume --steps 6000 --minutes 20
    python tools/distill.py --out runs/distill --bundle   # student + log into resources/

One thread (torch.set_num_threads(1)) unless --threads. The run folder holds `state.pt`
(student, EMA, optimizer, RNG, the teacher's trajectories; torch.load(weights_only=True)),
`student.safetensors` (the EMA student, loadable with core.checkpoint / core.distill.load_student)
and `log.csv` (step, phase, loss, pairs, round, student_steps, elapsed_s, cpu_s). A run stops at
--steps or after --minutes of wall time, saving first; --resume continues it exactly (same seed,
same trajectories, same batches), optionally with a larger --steps or --pairs.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from ddpm_desktop import resources_path  # noqa: E402
from ddpm_desktop.core import checkpoint  # noqa: E402
from ddpm_desktop.core.distill import STUDENT_FILE, DistillConfig, Distiller  # noqa: E402
from ddpm_desktop.core.schedule import NoiseSchedule  # noqa: E402

SAVE_EVERY_S = 300.0
LOG_FIELDS = ("step", "phase", "loss", "pairs", "round", "student_steps", "elapsed_s", "cpu_s")


def _save(run: Path, d: Distiller, cpu_s: float, init_student: str | None = None,
          teacher: str = "resources/model.safetensors") -> None:
    from ddpm_desktop.core.files import atomic_write_bytes
    import io

    state = d.state_dict()
    state["cpu_s"] = cpu_s
    state["teacher"] = teacher
    if init_student:
        state["init_student"] = init_student
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(run / "state.pt", buf.getvalue())
    extra = {**d.metadata(), "teacher": teacher, "dataset": "MNIST (train)",
             "cpu_s": round(cpu_s, 1)}
    if init_student:
        extra["init_student"] = init_student
    checkpoint.save_weights(run / "student.safetensors", d.ema, extra=extra)


def _evaluate(run: Path, steps_list: list[int], n: int) -> int:
    """Classifier legibility and FD of the run's student (core.evaluation, seed 0), one JSON line
    per step count, also appended to eval.jsonl with the run's CPU seconds."""
    from ddpm_desktop.core.classifier import load_classifier
    from ddpm_desktop.core.distill import load_student
    from ddpm_desktop.core.evaluation import data_features, evaluate_sampler

    student, meta = load_student(run / "student.safetensors")
    classifier, _ = load_classifier()
    feats = data_features(classifier)
    schedule = NoiseSchedule.default()
    for steps in steps_list:
        r = evaluate_sampler(student, classifier, schedule, feats, "distilled", steps, n, guidance=1.0)
        row = {**r.to_dict(), "run": str(run), "train_step": meta.get("step"), "cpu_s": meta.get("cpu_s")}
        print(json.dumps(row), flush=True)
        with open(run / "eval.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--method", choices=("direct", "progressive"), default="direct")
    p.add_argument("--guidance", type=float, default=None, help="w baked into the student")
    p.add_argument("--steps", type=int, default=None, help="training steps in all")
    p.add_argument("--pairs", type=int, default=None, help="teacher trajectories (direct)")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--pd-round-steps", type=int, default=None)
    p.add_argument("--pd-start-steps", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--minutes", type=float, default=None, help="stop (and save) after this wall time")
    p.add_argument("--cpu-minutes", type=float, default=None,
                   help="stop (and save) after this much CPU time in this invocation")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--teacher", default=None, metavar="FILE",
                   help="the teacher (default: the bundled model, resources/model.safetensors)")
    p.add_argument("--init-student", default=None, metavar="FILE",
                   help="a new run's student starts from this student, not from the teacher")
    p.add_argument("--evaluate", default=None, metavar="STEPS",
                   help="judge the run's student at these step counts (e.g. 1,2,4) and stop")
    p.add_argument("--samples", type=int, default=500, help="samples per --evaluate entry")
    p.add_argument("--bundle", action="store_true", help="copy the run's student and log into resources/")
    args = p.parse_args(argv)
    run = Path(args.out)
    if args.bundle:
        shutil.copyfile(run / "student.safetensors", resources_path(STUDENT_FILE))
        shutil.copyfile(run / "log.csv", resources_path("distill_log.csv"))
        print(f"bundled {run / 'student.safetensors'} -> {resources_path(STUDENT_FILE)}")
        return 0
    torch.set_num_threads(args.threads)
    if args.evaluate:
        return _evaluate(run, [int(s) for s in args.evaluate.split(",")], args.samples)
    run.mkdir(parents=True, exist_ok=True)
    overrides = {k: v for k, v in {"method": args.method, "guidance": args.guidance, "steps": args.steps,
                                  "pairs": args.pairs, "lr": args.lr, "batch_size": args.batch_size,
                                  "pd_round_steps": args.pd_round_steps,
                                  "pd_start_steps": args.pd_start_steps, "seed": args.seed}.items()
                 if v is not None}
    state = None
    if args.resume:
        state = torch.load(run / "state.pt", map_location="cpu", weights_only=True)
        config = DistillConfig.from_dict({**state["config"], **overrides})
    else:
        if (run / "state.pt").exists():
            raise SystemExit(f"{run} already holds a run: pass --resume or another --out")
        config = DistillConfig.from_dict(overrides)
    teacher_path = (state or {}).get("teacher") or args.teacher or str(checkpoint.bundled_model_path())
    teacher, _ = checkpoint.load_model(teacher_path)
    schedule = NoiseSchedule.default()
    data = None
    if config.method == "progressive":
        from ddpm_desktop.core.data import load_bundled_mnist

        data = load_bundled_mnist("train").as_tensor()
    init, init_student = None, (state or {}).get("init_student") or args.init_student
    if args.init_student and state is None:
        init, _ = checkpoint.load_network(args.init_student)  # a teacher or a student
    d = Distiller(config, teacher, schedule, data, init=init)
    cpu_before = 0.0
    if state is not None:
        d.load_state_dict(state)
        cpu_before = float(state.get("cpu_s", 0.0))
    (run / "config.json").write_text(json.dumps(config.to_dict(), indent=1))
    log_path = run / "log.csv"
    new_log = not log_path.exists()
    started, last_save = time.perf_counter(), time.perf_counter()
    cpu0 = time.process_time()
    with open(log_path, "a", newline="") as fh:
        w = csv.writer(fh)
        if new_log:
            w.writerow(LOG_FIELDS)
        for ev in d.iter_distill():
            cpu_s = cpu_before + time.process_time() - cpu0
            if ev.phase == "pairs" or ev.step % 10 == 0:
                w.writerow([ev.step, ev.phase, f"{ev.loss:.6g}", ev.pairs, ev.round, ev.student_steps,
                            f"{ev.elapsed_s:.1f}", f"{cpu_s:.1f}"])
                fh.flush()
            if ev.phase == "pairs" or ev.step % 50 == 0:
                print(f"{ev.phase} step {ev.step}/{ev.total_steps} loss {ev.loss:.4f} pairs {ev.pairs} "
                      f"round {ev.round} cpu {cpu_s:.0f} s", flush=True)
            now = time.perf_counter()
            if now - last_save > SAVE_EVERY_S:
                _save(run, d, cpu_s, init_student, teacher_path)
                last_save = now
            if args.minutes is not None and now - started > 60 * args.minutes:
                break
            if args.cpu_minutes is not None and cpu_s - cpu_before > 60 * args.cpu_minutes:
                break
    cpu_s = cpu_before + time.process_time() - cpu0
    _save(run, d, cpu_s, init_student, teacher_path)
    print(f"saved {run / 'student.safetensors'} at step {d.step} ({cpu_s:.0f} CPU s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
