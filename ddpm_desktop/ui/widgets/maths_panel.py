"""The maths panel: the equations being animated, with today's numbers in.

`MathsPanel(forward, schedule_state, sampler, reverse)` is a view: it renders the `Term`s of
core.maths (the forward step and marginal at the forward cursor, the schedule's numbers there,
the chosen sampler's update at the reverse step on screen, guidance, the KL numbers) as Qt
rich text, one row per term: its name, the formula, and the formula with the numbers. With the
Beliefs dock's state (`beliefs`, a BeliefsState) it also shows the likelihood, DDIM inversion and
uncertainty equations, with the dock's results in once computed.
Hovering a row emits `term_hovered(view)` (one of core.maths.VIEWS, "" on leaving), which the
window turns into a highlight frame over that view (ui/highlight.py).

Cheap by construction: a state signal only marks the affected sections dirty and arms a
16 ms single-shot timer, so bursts of signals render at most once a frame; while the panel is
hidden (its dock closed or behind another tab) nothing renders, and the dirty sections are
rendered when it is shown again; a row sets only the texts that changed (LiveLabel keeps a
new value from re-laying out the window).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from ddpm_desktop.core import maths
from ddpm_desktop.core.run import DISTILLED, plan_run
from ddpm_desktop.core.sampling import SAMPLERS
from ddpm_desktop.ui.beliefs_state import BeliefsState
from ddpm_desktop.ui.distilled_names import DISTILLED_NAME
from ddpm_desktop.ui.state import (
    SAMPLER_NAMES,
    ForwardState,
    ReverseState,
    SamplerState,
    ScheduleState,
)
from ddpm_desktop.ui.widgets.live_label import LiveLabel

FRAME_MS = 16  # at most one render per frame (60 Hz)
SECTIONS = (("forward", "Forward process at the cursor t",
             ("forward.step", "forward.marginal", "schedule.values")),
            ("reverse", "Reverse step on screen",
             ("reverse.x0", "reverse.update", "reverse.posterior")),
            ("guidance", "Guidance", ("guidance",)),
            ("kl", "KL to N(0, 1) at the cursor t",
             ("kl.exact", "kl.estimate", "kl.hist", "kl.bound")),
            ("likelihood", "Likelihood of the input digit",
             ("likelihood.flow", "likelihood.change", "likelihood.bits")),
            ("inversion", "DDIM inversion of the input digit",
             ("inversion.step", "inversion.round_trip")),
            ("uncertainty", "What the model is unsure of (the result's t, else the cursor t)",
             ("uncertainty.covariance", "uncertainty.iteration", "uncertainty.variances")))
BELIEF_SECTIONS = ("likelihood", "inversion", "uncertainty")


class TermRow(QFrame):
    """One term: name, formula, and the formula with numbers. `hovered(str)`: the view the
    term drives on entering, "" on leaving."""

    hovered = Signal(str)

    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.view = ""
        self.setObjectName("maths_term")
        self.name_label = QLabel()
        self.name_label.setProperty("role", "caption")
        self.formula_label = QLabel()
        self.formula_label.setWordWrap(True)
        self.value_label = LiveLabel()  # new numbers every frame: no window re-layout
        self.value_label.setProperty("role", "value")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 3, 4, 3)
        layout.setSpacing(1)
        layout.addWidget(self.name_label)
        layout.addWidget(self.formula_label)
        layout.addWidget(self.value_label)
        self._term: maths.Term | None = None

    def set_term(self, term: maths.Term) -> None:
        old = self._term
        self._term, self.view = term, term.view
        if old is None or old.name != term.name:
            self.name_label.setText(f"<b>{term.name}</b>")
        if old is None or old.formula != term.formula:
            self.formula_label.setText(term.formula)
        if old is None or old.value != term.value:
            self.value_label.setText(term.value)
        if old is None or old.tip != term.tip:
            for w in (self, self.name_label, self.formula_label, self.value_label):
                w.setToolTip(term.tip)
                w.setWhatsThis(term.tip)

    @property
    def term(self) -> maths.Term | None:
        return self._term

    def enterEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.hovered.emit(self.view)
        super().enterEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.hovered.emit("")
        super().leaveEvent(event)


class MathsPanel(QWidget):
    term_hovered = Signal(str)

    def __init__(self, forward: ForwardState, schedule_state: ScheduleState,
                 sampler: SamplerState, reverse: ReverseState,
                 beliefs: BeliefsState | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.forward, self.schedule_state = forward, schedule_state
        self.sampler, self.reverse, self.beliefs = sampler, reverse, beliefs
        self.rows: dict[str, TermRow] = {}
        self.headers: dict[str, QLabel] = {}
        self.renders = 0  # how many times a section was rendered (tests, benchmarks)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        for section, title, keys in SECTIONS:
            header = QLabel(f"<b>{title}</b>")
            self.headers[section] = header
            layout.addWidget(header)
            for key in keys:
                row = TermRow(key)
                row.hovered.connect(self.term_hovered)
                self.rows[key] = row
                layout.addWidget(row)
        layout.addStretch(1)
        self.header_reverse = self.headers["reverse"]
        self.header_reverse.setProperty("role", "value")

        self._dirty: set[str] = {s for s, _, _ in SECTIONS}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self.flush)
        self._reverse_cache: tuple | None = None

        forward.frame_changed.connect(lambda _t: self._mark("forward", "kl", "inversion", "uncertainty"))
        forward.chain_changed.connect(lambda: self._mark("forward", "kl", "reverse"))
        forward.kl_changed.connect(lambda: self._mark("kl"))
        schedule_state.changed.connect(lambda _s: self._mark("forward", "kl", "reverse", *BELIEF_SECTIONS))
        if beliefs is not None:
            beliefs.changed.connect(self._on_beliefs_changed)
        sampler.changed.connect(lambda _s: self._mark("reverse", "guidance"))
        reverse.reset.connect(lambda: self._mark("reverse"))
        reverse.frame_changed.connect(lambda _i: self._mark("reverse"))
        reverse.run_finished.connect(lambda _ok: self._mark("reverse"))
        self.flush(force=True)

    # ---------------------------------------------------------------- scheduling
    @Slot(str)
    def _on_beliefs_changed(self, kind: str) -> None:
        if kind in BELIEF_SECTIONS:
            self._mark(kind)

    def _mark(self, *sections: str) -> None:
        self._dirty.update(sections)
        if self.isVisible() and not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._dirty and not self._timer.isActive():
            self._timer.start()

    @Slot()
    def flush(self, force: bool = False) -> None:
        """Render the dirty sections (only while visible, unless `force`)."""
        if not (force or self.isVisible()) or not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        schedule = self.schedule_state.schedule
        t = min(self.forward.t, schedule.T)
        if "forward" in dirty:
            self._show(maths.forward_terms(schedule, t))
        if "reverse" in dirty:
            self._show_reverse(schedule)
        if "guidance" in dirty:
            s = self.sampler.settings
            self._show(maths.guidance_terms(s.label, s.guidance))
        if "kl" in dirty:
            self._show(self._kl_terms(t))
        for section in BELIEF_SECTIONS:
            if section in dirty:
                self._show(self.belief_terms(section, schedule, t))
        self.renders += 1

    def _show(self, terms: list[maths.Term]) -> None:
        for term in terms:
            self.rows[term.key].set_term(term)

    # ---------------------------------------------------------------- the reverse step
    def reverse_step(self, schedule) -> tuple[str, np.ndarray, int]:
        """(sampler, the run's t's, the step index) of the reverse frame on screen: the step
        that produced it (the first step before any frame was denoised), from the finished
        run's own t's, else the t's the current settings make."""
        s = self.sampler.settings
        lanes = self.reverse.lanes
        name = lanes[0].sampler if lanes else s.sampler
        if name not in SAMPLERS:  # an inpainting lane ("inpaint: repaint"): no sampler's step
            name, lanes = s.sampler, []
        ts = None
        if lanes and lanes[0].done and len(lanes[0]) > 1:
            ts = np.asarray(lanes[0].t, dtype=np.int64)
            if ts[0] > schedule.T or ts[-1] != 0:
                ts = None  # a stale or cancelled run: what the settings would run now
        if ts is None:  # the run the settings plan (core.run), in the lane of that sampler
            plan = plan_run(s, schedule.T)
            lane = next((lane for lane in plan.lanes if lane.sampler == name), plan.lanes[0])
            name, ts = lane.sampler, np.asarray(lane.timesteps, dtype=np.int64)
        index = self.reverse.index if lanes else 0
        return name, ts, max(0, min(index - 1, len(ts) - 2))

    def _show_reverse(self, schedule) -> None:
        name, ts, i = self.reverse_step(schedule)
        eta = self.sampler.settings.eta if name == "ddim" else 0.0
        key = (name, ts.tobytes(), i, eta)
        cached = self._reverse_cache
        if cached is not None and cached[0] is schedule and cached[1] == key:
            return
        self._reverse_cache = (schedule, key)
        self.header_reverse.setText(
            f"<b>Reverse step on screen: "
            f"{DISTILLED_NAME if name == DISTILLED else SAMPLER_NAMES.get(name, name)}, step {i + 1} of "
            f"{len(ts) - 1}</b>")
        self.header_reverse.setToolTip(
            "The reverse frame on screen and the sampler step that produced it: t = ts[i] → "
            "s = ts[i+1] along the run's timesteps (before a run: its first step)")
        self._show(maths.reverse_terms(name, schedule, ts, i, eta=eta))

    # ---------------------------------------------------------------- KL
    def _kl_terms(self, t: int) -> list[maths.Term]:
        f = self.forward

        def at(curve):
            if curve is None or t >= len(curve):
                return None
            return float(curve[t])

        return maths.kl_terms(t, at(f.kl_marginal), at(f.kl_estimate), at(f.kl_spread),
                              at(f.kl_hist), at(f.kl_conditional), f.kl_level)

    # ---------------------------------------------------------------- what the model believes
    def belief_terms(self, section: str, schedule, t: int) -> list[maths.Term]:
        """The terms of the likelihood, inversion or uncertainty section: the equations with the
        Beliefs dock's result in when it has one, else with the cursor t and core's defaults."""
        b = self.beliefs
        if section == "likelihood":
            r = b.likelihood if b is not None else None
            if r is None:
                return maths.likelihood_terms(schedule)
            return maths.likelihood_terms(schedule, r.bits_per_dim, steps=r.steps,
                                          more_likely_than=r.more_likely_than,
                                          held_out_median=r.held_out_median)
        if section == "inversion":
            r = b.inversion if b is not None else None
            if r is None:
                return maths.inversion_terms(schedule, t)
            return maths.inversion_terms(schedule, t, mse=r.mse, label=r.label, guidance=r.guidance)
        r = b.uncertainty if b is not None else None
        if r is None or r.t > schedule.T:
            return maths.uncertainty_terms(schedule, t)
        return maths.uncertainty_terms(schedule, r.t, r.variances)
