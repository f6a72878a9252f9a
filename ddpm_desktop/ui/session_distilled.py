"""The distilled student's area: loaded with the bundled model, run by the reverse chain's and
the live view's distilled lanes.

`Distilled(jobs, model_state, device_state)` (built by session.py as `session.distilled`). The
student is core.distill's StudentNet (the teacher's UNet, guidance w baked in), kept in
`model_state.student`. How the app picks it: when the bundled model loads, `load_bundled()`
loads resources/distilled.safetensors too, in the background (job "student"); a lane whose
sampler is "distilled" runs `on_device()`, the student copied once to the session's device (its
conditional output with the chosen class, its unconditional one with no class; the guidance
control does not apply), every other lane runs the model in `model_state.model`. core.run caps
a run with a distilled lane at 4 steps in every lane, so a compare lane (the teacher) runs at
equal NFE.
"""
from __future__ import annotations

import copy
import threading

from PySide6.QtCore import QObject

from ddpm_desktop.ui.distilled_names import DISTILLED, DISTILLED_NAME, DISTILLED_TIP  # noqa: F401 - re-exported
from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.state import DeviceState, ModelState

STUDENT_JOB = "student"


class Distilled(QObject):
    def __init__(self, jobs: Jobs, model_state: ModelState, device_state: DeviceState,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs, self.model_state, self.device_state = jobs, model_state, device_state
        # (device, the student on it, the student it copies): a copy per device, made once
        self._on_device = None

    def load_bundled(self) -> bool:
        """Load resources/distilled.safetensors in the background; False when there is none."""
        from ddpm_desktop.core.distill import bundled_student_path, load_student

        path = bundled_student_path()
        if path is None or self.jobs.closing:
            return False

        def job(cancel: threading.Event):
            yield load_student(path, device="cpu")

        def on_items(items: list) -> None:
            student, meta = items[-1]
            self.model_state.set_student(student, meta)

        return self.jobs.start(STUDENT_JOB, job, items=on_items,
                               failure="Could not load the distilled student") is not None

    def on_device(self):
        """The student on the session's device, for a distilled lane. ValueError (one line)
        when no student is loaded."""
        student = self.model_state.student
        if student is None:
            raise ValueError("no distilled student is loaded (this build has no "
                             "resources/distilled.safetensors)")
        device = self.device_state.device
        cached = self._on_device
        if cached is None or cached[0] != device or cached[2] is not student:
            self._on_device = cached = (device, copy.deepcopy(student).to(device).eval(), student)
        return cached[1]
