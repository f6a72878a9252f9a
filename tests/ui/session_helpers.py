"""What the session tests draw on and drive, each written once: the bar digit, a reverse run
waited out to its last decision reading, a few completions of the input waited out, and the
tiles a grid shows. The sessions themselves come from tests/ui/conftest.py (`make_session`,
`session`)."""
from __future__ import annotations

import numpy as np


def bar() -> np.ndarray:
    """A white vertical bar (rows 4-23, columns 12-15) on black: float32 [28, 28] in [-1, 1]."""
    digit = np.full((28, 28), -1.0, np.float32)
    digit[4:24, 12:16] = 1.0
    return digit


def sample_to_the_end(session, qtbot, settings) -> None:
    """Sample with `settings` and wait for the run to finish and the decision plot to hold
    every reading of its chain."""
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        assert session.request_sampling(settings)
    qtbot.waitUntil(lambda: session.decision.complete, timeout=10_000)


def complete_the_input(session, qtbot, n: int = 2) -> None:
    """Draw n completions of the input's x_60 (DDPM, 5 steps, seed 1) and wait for them."""
    session.sampler.update(sampler="ddpm", steps=5, source="input", t_start=60, seed=1)
    session.completions.set_n(n)
    assert session.completer.start()
    qtbot.waitUntil(lambda: session.completions.images is not None and not session.completions.running,
                    timeout=20_000)


def shown_tiles(grid) -> list:
    """The tiles of a completions grid that are not hidden, in order."""
    return [t for t in grid.tiles if not t.isHidden()]
