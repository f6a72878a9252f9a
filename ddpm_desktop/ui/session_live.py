"""The live-drawing area: reconstruct as you draw.

`LiveDrawing(...)` (built by session.py as `session.live_drawing`; its `state`, a LiveState, is
`session.live`): `set_enabled(on)`, `set_t(t)`. While `state.enabled`, every new input digit
(each throttled edit of the drawing, a picked digit, a loaded file) goes to one long-lived
worker job ("live"): core.live.iter_live waits for the newest drawing, drops the ones a newer
edit overtook, and yields one reconstruction per edit, which lands in `state`. The job restarts
when the model, the schedule or t changes; it stops when switched off or on close.

Which sampler (core.live.live_plan): the bundled distilled student in 1 network call while the
bundled model is in use and its student is loaded, DPM-Solver++(2M) in 2 calls with any other
model (the student imitates the bundled teacher only).

While it is on, nothing else redraws per edit: the forward chain (its recompute, histograms,
KL job and paint took ~30-50 ms of the GUI thread each) catches up once the edits pause for
LIVE_FORWARD_MS (the pen lifted or resting): the session asks `defer_forward()` on each edit.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QTimer, SignalInstance, Slot

from ddpm_desktop.core.checkpoint import ModelSource
from ddpm_desktop.core.live import LatestDrawing, LiveReconstructor, iter_live, live_plan
from ddpm_desktop.core.run import SamplerSettings, plan_run
from ddpm_desktop.ui.live_state import LiveState
from ddpm_desktop.ui.session_distilled import Distilled
from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.state import InputState, ModelState, ScheduleState
from ddpm_desktop.ui.workers import IDLE

LIVE_JOB = "live"
# The worker batches items to at most rate_hz emits a second; the live view wants each one.
LIVE_RATE_HZ = 240.0
# While reconstructing as you draw, the forward chain follows the drawing once its edits pause
# this long (the canvas emits every 25 ms while the pen moves; bench/live.py counts none while
# drawing and one after the pen is lifted).
LIVE_FORWARD_MS = 150
# The model source whose distilled student is bundled (session.load_bundled_model).
BUNDLED_SOURCE = ModelSource.BUNDLED


class LiveDrawing(QObject):
    def __init__(self, jobs: Jobs, schedule_state: ScheduleState, input_state: InputState,
                 model_state: ModelState, distilled: Distilled,
                 recompute_forward: Callable[[], None], error: SignalInstance,
                 parent: QObject | None = None) -> None:
        """recompute_forward(): the session's forward chain, deferred here while drawing."""
        super().__init__(parent)
        self.jobs, self.schedule_state, self.input_state = jobs, schedule_state, input_state
        self.model_state, self.distilled = model_state, distilled
        self.recompute_forward, self.error = recompute_forward, error
        self.state = LiveState(parent=self)
        self.state.set_T(schedule_state.schedule.T)
        self._task = None
        self._mailbox: LatestDrawing | None = None
        self._classifier = None
        self._forward_timer = QTimer(self)
        self._forward_timer.setSingleShot(True)
        self._forward_timer.setInterval(LIVE_FORWARD_MS)
        self._forward_timer.timeout.connect(recompute_forward)
        input_state.changed.connect(self._on_input_changed)
        model_state.changed.connect(self._restart)
        schedule_state.changed.connect(self._on_schedule_changed)

    @property
    def task(self):
        """The running job's Task, or None."""
        return self._task

    # -- intents ------------------------------------------------------------------------------
    def set_enabled(self, on: bool) -> None:
        self.state.set_enabled(on)
        if on:
            self._restart()
        else:
            self._stop()
            if self._forward_timer.isActive():  # a deferred forward chain lands now
                self._forward_timer.stop()
                self.recompute_forward()

    def set_t(self, t: int) -> None:
        self.state.set_t(t, self.schedule_state.schedule.T)
        self._restart()

    def defer_forward(self) -> bool:
        """On a drawing edit: True when live, the forward chain then following once the edits
        pause for LIVE_FORWARD_MS (debounced: the trailing edit always lands)."""
        if not self.state.enabled:
            return False
        self._forward_timer.start()
        return True

    @property
    def forward_pending(self) -> bool:
        """Whether a deferred forward chain is waiting for the edits to pause."""
        return self._forward_timer.isActive()

    def stop(self) -> None:
        """Stop the job and a deferred forward chain (on close)."""
        self._stop()
        self._forward_timer.stop()

    @Slot(object)
    def _on_schedule_changed(self, schedule) -> None:
        self.state.set_T(schedule.T)
        self._restart()

    # -- the job ------------------------------------------------------------------------------
    def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task, self._mailbox = None, None

    @Slot()
    def _restart(self, *_args) -> None:
        self._stop()
        if not self.state.enabled or self.jobs.closing or not self.model_state.available:
            return
        from ddpm_desktop.core.classifier import load_classifier

        if self._classifier is None:
            self._classifier, _ = load_classifier()
        schedule = self.schedule_state.schedule
        t = self.state.t  # capped at T by the state
        student = self._student()
        sampler, steps = live_plan(student is not None)
        self.state.set_sampler(sampler, steps)
        plan = plan_run(SamplerSettings(sampler=sampler, steps=steps), schedule.T, from_t=t)
        recon = LiveReconstructor(student if student is not None else self.model_state.model,
                                  schedule, t=t, sampler=sampler, steps=plan.steps,
                                  seed=self.input_state.seed, classifier=self._classifier)
        mailbox = LatestDrawing()

        def job(cancel):
            return iter_live(recon, mailbox, cancel, idle=lambda: IDLE)

        task = self.jobs.start(LIVE_JOB, job, rate_hz=LIVE_RATE_HZ, items=self._on_items,
                               failed=self._on_failed, failure="Reconstruct as you draw failed")
        self._task, self._mailbox = task, mailbox
        if self.input_state.digit is not None:
            mailbox.put(self.input_state.digit)

    def _student(self):
        """The distilled student on the session's device when the bundled model (its teacher)
        is in use and the student is loaded, else None."""
        if self.model_state.source != BUNDLED_SOURCE or self.model_state.student is None:
            return None
        try:
            return self.distilled.on_device()
        except ValueError:
            return None

    @Slot(str)
    def _on_input_changed(self, what: str) -> None:
        if what == "digit" and self._mailbox is not None and self.input_state.digit is not None:
            self._mailbox.put(self.input_state.digit)

    @Slot(list)
    def _on_items(self, items: list) -> None:
        if self._task is not None and items:
            self.state.set_result(items[-1])

    def _on_failed(self, _message: str, _details: str) -> None:
        self.state.set_enabled(False)
        self._task, self._mailbox = None, None
