"""The session's reconstruct-as-you-draw work.

A mixin of `Session` (session.py). While `self.live.enabled`, every new input digit (each
throttled edit of the drawing, a picked digit, a loaded file) goes to one long-lived worker job
("live"): core.live.iter_live waits for the newest drawing, drops the ones a newer edit
overtook, and yields one reconstruction per edit, which lands in `self.live`. The job restarts
when the model, the schedule or t changes; it stops when switched off or on close.

Which sampler (core.live.live_plan): the bundled distilled student in 1 network call while the
bundled model is in use and its student is loaded, DPM-Solver++(2M) in 2 calls with any other
model (the student imitates the bundled teacher only).

While it is on, nothing else redraws per edit: the forward chain (its recompute, histograms,
KL job and paint took ~30-50 ms of the GUI thread each) catches up once the edits pause for
LIVE_FORWARD_MS (the pen lifted or resting), see Session._on_input_changed.
"""
from __future__ import annotations

from PySide6.QtCore import Slot

from ddpm_desktop.core.checkpoint import ModelSource
from ddpm_desktop.core.live import LatestDrawing, LiveReconstructor, iter_live, live_plan
from ddpm_desktop.ui.live_state import LiveState
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


class LiveJobs:
    """Mixin: needs `self.workers`, `self.schedule`, `self.schedule_state`, `self.input_state`,
    `self.model_state`, `self.error` from Session."""

    def _init_live(self) -> None:
        self.live = LiveState(parent=self)
        self._live_task = None
        self._live_mailbox: LatestDrawing | None = None
        self._live_classifier = None
        self.input_state.changed.connect(self._on_live_input_changed)
        self.model_state.changed.connect(self._restart_live)
        self.schedule_state.changed.connect(self._restart_live)

    # -- intents ------------------------------------------------------------------------------
    def set_live_enabled(self, on: bool) -> None:
        self.live.set_enabled(on)
        if on:
            self._restart_live()
        else:
            self._stop_live()
            if self._live_forward_timer.isActive():  # a deferred forward chain lands now
                self._live_forward_timer.stop()
                self.recompute_forward()

    def set_live_t(self, t: int) -> None:
        self.live.set_t(t, self.schedule.T)
        self._restart_live()

    # -- the job ------------------------------------------------------------------------------
    def _stop_live(self) -> None:
        if self._live_task is not None:
            self._live_task.cancel()
            self._live_task, self._live_mailbox = None, None

    @Slot()
    def _restart_live(self, *_args) -> None:
        self._stop_live()
        if not self.live.enabled or self.closing or not self.model_state.available:
            return
        from ddpm_desktop.core.classifier import load_classifier

        if self._live_classifier is None:
            self._live_classifier, _ = load_classifier()
        schedule = self.schedule
        t = min(self.live.t, schedule.T)
        student = self._live_student()
        sampler, steps = live_plan(student is not None)
        self.live.set_sampler(sampler, steps)
        recon = LiveReconstructor(student if student is not None else self.model_state.model,
                                  schedule, t=t, sampler=sampler, steps=min(steps, t),
                                  seed=self.input_state.seed, classifier=self._live_classifier)
        mailbox = LatestDrawing()

        def job(cancel):
            return iter_live(recon, mailbox, cancel, idle=lambda: IDLE)

        task = self.workers.start(LIVE_JOB, job, rate_hz=LIVE_RATE_HZ)
        task.items.connect(self._on_live_items)
        task.failed.connect(self._on_live_failed)
        self._live_task, self._live_mailbox = task, mailbox
        if self.input_state.digit is not None:
            mailbox.put(self.input_state.digit)

    def _live_student(self):
        """The distilled student on the session's device when the bundled model (its teacher)
        is in use and the student is loaded, else None."""
        if self.model_state.source != BUNDLED_SOURCE or self.model_state.student is None:
            return None
        try:
            return self._distilled_plan(None)[1]  # session_distilled.py: one copy per device
        except ValueError:
            return None

    @Slot(str)
    def _on_live_input_changed(self, what: str) -> None:
        if what == "digit" and self._live_mailbox is not None and self.input_state.digit is not None:
            self._live_mailbox.put(self.input_state.digit)

    @Slot(list)
    def _on_live_items(self, items: list) -> None:
        if self._live_task is not None and items:
            self.live.set_result(items[-1])

    @Slot(str, str)
    def _on_live_failed(self, message: str, details: str) -> None:
        self.live.set_enabled(False)
        self._live_task, self._live_mailbox = None, None
        self.error.emit(f"Reconstruct as you draw failed: {message}", details)
