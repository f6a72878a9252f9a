"""What the generalisation lab shows: the shipped curves (resources/generalisation.json, read by
core.generalisation.load_curves) and the points of a run made here, as they come
(ui/session_lab.py fills it). Plain values; nothing here touches a thread."""
from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

# The sizes the lab offers (core.generalisation.LAB_SIZES; 9000 is all the training digits).
from ddpm_desktop.core.generalisation import LAB_SIZES

ALL_DIGITS = LAB_SIZES[-1]


def size_text(size: int) -> str:
    """'64 digits', ..., 'all 9,000 digits'."""
    return f"all {size:,} digits" if size >= ALL_DIGITS else f"{size:,} digits"


@dataclass(frozen=True)
class LabCurve:
    """One training-set size's curve: `size`, and per evaluation its `steps`, `f_mem`, the
    interval's `lo` and `hi`, and `accuracy` (lists of equal length); `live`: measured here;
    `name`: the run's name in the curves file (two runs may share a size)."""

    size: int
    steps: list = field(default_factory=list)
    f_mem: list = field(default_factory=list)
    lo: list = field(default_factory=list)
    hi: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    live: bool = False
    name: str = ""

    @classmethod
    def from_run(cls, run: dict) -> "LabCurve":
        """From one run of `load_curves()['runs']`."""
        pts = run["points"]
        return cls(int(run["size"]), [p["step"] for p in pts], [p["f_mem"] for p in pts],
                   [p["ci"][0] for p in pts], [p["ci"][1] for p in pts],
                   [p["accuracy"] for p in pts], name=str(run.get("name", "")))

    def with_point(self, point) -> "LabCurve":
        """This curve and one core.generalisation.LabPoint more."""
        return LabCurve(self.size, [*self.steps, point.step], [*self.f_mem, point.f_mem],
                        [*self.lo, point.ci[0]], [*self.hi, point.ci[1]],
                        [*self.accuracy, point.accuracy], self.live, self.name)


class LabState(QObject):
    """`shipped`: the measured curves, one LabCurve a size ([] when the file is missing: then
    `shipped_note` says why); `live`: the curve of the run made here (None before one);
    `size`: the size the next run trains on; `running`; `message`: the run's last status line.
    Signals: `changed()`."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.shipped: list[LabCurve] = []
        self.shipped_note = ""
        self.live: LabCurve | None = None
        self.size = LAB_SIZES[0]
        self.running = False
        self.message = ""

    def set_shipped(self, curves: list[LabCurve], note: str = "") -> None:
        self.shipped, self.shipped_note = list(curves), note
        self.changed.emit()

    def set_size(self, size: int) -> None:
        if int(size) not in LAB_SIZES:
            raise ValueError(f"the lab trains on {', '.join(map(str, LAB_SIZES))} digits, "
                             f"not {size}")
        if int(size) != self.size:
            self.size = int(size)
            self.changed.emit()

    def set_run(self, live: LabCurve | None, running: bool, message: str) -> None:
        self.live, self.running, self.message = live, running, message
        self.changed.emit()
