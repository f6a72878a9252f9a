"""The session's reconstruct-as-you-draw work (issue 15, item 4).

A mixin of `Session` (session.py). While `self.live.enabled`, every new input digit (each
throttled edit of the drawing, a picked digit, a loaded file) goes to one long-lived worker job
("live"): core.live.iter_live waits for the newest drawing, drops the ones a newer edit
overtook, and yields one reconstruction per edit, which lands in `self.live`. The job restarts
when the model, the schedule or t changes; it stops when switched off or on close.
"""
from __future__ import annotations

from PySide6.QtCore import Slot

from ddpm_desktop.core.live import LatestDrawing, LiveReconstructor, iter_live
from ddpm_desktop.ui.live_state import LiveState
from ddpm_desktop.ui.workers import IDLE

LIVE_JOB = "live"
# The worker batches items to at most rate_hz emits a second; the live view wants each one.
LIVE_RATE_HZ = 240.0
# While reconstructing as you draw, the forward chain follows the drawing at most this often.
LIVE_FORWARD_MS = 100


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
        recon = LiveReconstructor(self.model_state.model, schedule, t=t, sampler=self.live.sampler,
                                  steps=min(self.live.steps, t), seed=self.input_state.seed,
                                  classifier=self._live_classifier)
        mailbox = LatestDrawing()

        def job(cancel):
            return iter_live(recon, mailbox, cancel, idle=lambda: IDLE)

        task = self.workers.start(LIVE_JOB, job, rate_hz=LIVE_RATE_HZ)
        task.items.connect(self._on_live_items)
        task.failed.connect(self._on_live_failed)
        self._live_task, self._live_mailbox = task, mailbox
        if self.input_state.digit is not None:
            mailbox.put(self.input_state.digit)

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
