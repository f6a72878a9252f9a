"""The inpainting state: the mask painted over the input digit, the method, the completions.

`known` is bool [28, 28], True where the input's pixels are kept (core.inpaint's convention);
the brush paints the hole (unknown), the eraser gives pixels back. Every stroke, preset or
clear can be undone (up to UNDO_DEPTH steps). States hold plain numpy arrays; nothing here
touches a thread (ui/session_inpaint.py runs the work).

Signals: `mask_changed()`, `settings_changed()`, `completions_changed()` (new completions or
cleared), `running_changed(bool)`.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from ddpm_desktop.core.inpaint import MASK_PRESETS, METHODS, check_mask, preset_mask
from ddpm_desktop.core.sampling import SAMPLERS

UNDO_DEPTH = 50
MAX_COMPLETIONS = 32
METHOD_NAMES = {"paste": "Paste known pixels (noised to t)", "repaint": "RePaint (resampling jumps)",
                "x0": "Replace known part of x̂₀ (DDNM)"}


class InpaintState(QObject):
    mask_changed = Signal()
    settings_changed = Signal()
    completions_changed = Signal()
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.known = preset_mask("bottom")
        self._undo: list[np.ndarray] = []
        self.method = "repaint"
        self.sampler = "dpmpp"          # for paste and x0; RePaint runs DDPM
        self.n = 8
        self.steps: int | None = None   # None: core.inpaint.DEFAULT_STEPS
        self.completions: np.ndarray | None = None   # float32 [N, 28, 28] in [-1, 1]
        self.readings: np.ndarray | None = None      # int [N], the classifier's argmax
        self.probabilities: np.ndarray | None = None  # float [N], its softmax at that class
        self.settled: np.ndarray | None = None       # int [N], the t its reading of x̂₀ settles at
        self.digits: np.ndarray | None = None        # bool [N], whether the reader takes it for a digit
        self.nfe = 0
        self.running = False

    # -- mask ------------------------------------------------------------------------------
    def _push_undo(self) -> None:
        self._undo.append(self.known.copy())
        del self._undo[:-UNDO_DEPTH]

    def begin_stroke(self) -> None:
        """Call once per mouse press: the stroke that follows is one undo step."""
        self._push_undo()

    def paint(self, row: int, col: int, hole: bool = True, radius: int = 1) -> None:
        """Mark a disc of `radius` pixels around (row, col) as hole (brush) or known (eraser)."""
        rr, cc = np.ogrid[:28, :28]
        disc = (rr - row) ** 2 + (cc - col) ** 2 <= radius * radius
        new = np.where(disc, not hole, self.known)
        if not np.array_equal(new, self.known):
            self.known = new
            self.mask_changed.emit()

    def set_preset(self, name: str, rows: int = 14) -> None:
        mask = preset_mask(name, rows)
        self._push_undo()
        self.known = mask
        self.mask_changed.emit()

    def set_mask(self, known) -> None:
        """A whole mask (validated by core.inpaint.check_mask: ValueError, state unchanged)."""
        mask = check_mask(known)
        if mask.shape != (28, 28):
            raise ValueError("the app's mask is one 28x28 image")
        self._push_undo()
        self.known = mask.copy()
        self.mask_changed.emit()

    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo(self) -> None:
        if self._undo:
            self.known = self._undo.pop()
            self.mask_changed.emit()

    def problem(self) -> str | None:
        """Why this mask cannot be inpainted (one line), or None."""
        try:
            check_mask(self.known)
        except ValueError as exc:
            return str(exc)
        return None

    # -- settings --------------------------------------------------------------------------
    def set_settings(self, method: str | None = None, sampler: str | None = None, n: int | None = None,
                     steps: int | None = -1) -> None:
        """Change some settings; ValueError (state unchanged) when one is out of range.
        steps: None for the method's default, -1 (default) to leave it."""
        method = self.method if method is None else method
        sampler = self.sampler if sampler is None else sampler
        n = self.n if n is None else int(n)
        steps = self.steps if steps == -1 else steps
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}")
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}")
        if not 1 <= n <= MAX_COMPLETIONS:
            raise ValueError(f"completions must be 1..{MAX_COMPLETIONS}, got {n}")
        if steps is not None and not 1 <= int(steps) <= 1000:
            raise ValueError(f"steps must be 1..1000, got {steps}")
        changed = (method, sampler, n, steps) != (self.method, self.sampler, self.n, self.steps)
        self.method, self.sampler, self.n, self.steps = method, sampler, n, steps
        if changed:
            self.settings_changed.emit()

    def run_sampler(self) -> str:
        return "ddpm" if self.method == "repaint" else self.sampler

    # -- results ---------------------------------------------------------------------------
    def set_running(self, running: bool) -> None:
        if running != self.running:
            self.running = running
            self.running_changed.emit(running)

    def set_completions(self, images, readings, probabilities, nfe: int, settled=None,
                        digits=None) -> None:
        """settled: the t each completion's reading of x̂₀ settles at [N], or None; digits [N]
        bool, whether the reader takes each completion for a digit at all (None: all)."""
        n = len(readings)
        self.digits = np.ones(n, bool) if digits is None else np.asarray(digits, bool).copy()
        self.settled = None if settled is None else np.asarray(settled, dtype=np.int64).copy()
        self.completions = np.array(images, dtype=np.float32, copy=True)
        self.readings = np.asarray(readings, dtype=np.int64).copy()
        self.probabilities = np.asarray(probabilities, dtype=np.float64).copy()
        self.nfe = int(nfe)
        self.completions_changed.emit()

    def clear_completions(self) -> None:
        self.completions = self.readings = self.probabilities = self.settled = self.digits = None
        self.nfe = 0
        self.completions_changed.emit()


__all__ = ["InpaintState", "MASK_PRESETS", "METHODS", "METHOD_NAMES", "MAX_COMPLETIONS"]
