"""The session's distilled student: loaded with the bundled model, run by the
reverse chain's distilled lanes.

A mixin of `Session` (session.py). The student is core.distill's StudentNet (the teacher's UNet,
guidance w baked in), kept in `model_state.student`. How the app picks it: when the bundled
model loads (`load_bundled_model`), resources/distilled.safetensors loads too, in the
background (job "student"); a lane whose sampler is "distilled" runs that student (its
conditional output with the chosen class, its unconditional one with no class; the guidance
control does not apply), every other lane runs the model in `model_state.model`. A run with a
distilled lane takes at most 4 steps in every lane, so a compare lane (the teacher) runs at
equal NFE.
"""
from __future__ import annotations

import copy
import threading

from ddpm_desktop.core.sampling import DISTILLED_MAX_STEPS
from ddpm_desktop.ui.distilled_names import DISTILLED, DISTILLED_NAME, DISTILLED_TIP  # noqa: F401 - re-exported

STUDENT_JOB = "student"


class DistilledJobs:
    """Session mixin: `load_bundled_student()` and the plan of a run with a distilled lane."""

    def _init_distilled(self) -> None:
        self._student_on = None   # (device, the student on it): a copy per device, made once

    def load_bundled_student(self) -> bool:
        """Load resources/distilled.safetensors in the background; False when there is none."""
        from ddpm_desktop.core.distill import bundled_student_path, load_student

        path = bundled_student_path()
        if path is None or self.closing:
            return False

        def job(cancel: threading.Event):
            yield load_student(path, device="cpu")

        task = self.workers.start(STUDENT_JOB, job, rate_hz=30)

        def on_items(items: list) -> None:
            student, meta = items[-1]
            self.model_state.set_student(student, meta)
            self._student_on = None

        def on_failed(message: str, details: str) -> None:
            self.error.emit(f"Could not load the distilled student: {message}", details)

        task.items.connect(on_items)
        task.failed.connect(on_failed)
        return True

    def _distilled_plan(self, steps: int | None):
        """(steps for every lane, the student on the session's device) of a run with a distilled
        lane: steps capped at 4 (None: 4). ValueError (one line) when no student is loaded."""
        student = self.model_state.student
        if student is None:
            raise ValueError("no distilled student is loaded (this build has no "
                             "resources/distilled.safetensors)")
        steps = DISTILLED_MAX_STEPS if steps is None else min(int(steps), DISTILLED_MAX_STEPS)
        device = self.device_state.device
        if self._student_on is None or self._student_on[0] != device or self._student_on[2] is not student:
            self._student_on = (device, copy.deepcopy(student).to(device).eval(), student)
        return steps, self._student_on[1]
