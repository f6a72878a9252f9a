"""`--sampler distilled` for the commands: its step check and the student it runs.

The distilled sampler (core.sampling.iter_distilled) runs the student of core.distill, not the
teacher: with `--sampler distilled`, --checkpoint names a student (default: the bundled one,
resources/distilled.safetensors) and the guidance is the w baked into it (the student's
conditional output already is the guided one), so --guidance does not apply.
"""
from __future__ import annotations

DISTILLED = "distilled"


def check_distilled_steps(args) -> None:
    """With --sampler distilled, --steps must be 1..4 (None: 4); one-line ValueError otherwise."""
    from ddpm_desktop.core.sampling import DISTILLED_MAX_STEPS

    if getattr(args, "sampler", None) != DISTILLED or args.steps is None:
        return
    if not 1 <= args.steps <= DISTILLED_MAX_STEPS:
        raise ValueError(f"--sampler distilled takes --steps 1..{DISTILLED_MAX_STEPS} network calls, "
                         f"got {args.steps}")


def load_student_arg(path: str | None, device):
    """(StudentNet, metadata) named by `path` or the bundled student; ValueError (one line) when
    there is none or the file is not a student."""
    from ddpm_desktop.core import distill

    if path is None:
        path = distill.bundled_student_path()
        if path is None:
            raise ValueError(f"--sampler distilled needs a distilled student and this build has none "
                             f"(resources/{distill.STUDENT_FILE}); make one with tools/distill.py")
    return distill.load_student(path, device=device)


def model_for(args, device):
    """(model, metadata, guidance or None) for the command's sampler: the student with guidance 1
    (baked in) for distilled, else the teacher named by --checkpoint and None (the caller's w)."""
    from ._common import load_model_arg

    if getattr(args, "sampler", None) == DISTILLED:
        student, meta = load_student_arg(args.checkpoint, device)
        return student, meta, 1.0
    model, meta = load_model_arg(args.checkpoint, device)
    return model, meta, None
