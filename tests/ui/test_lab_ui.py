"""The generalisation lab in the Training panel: the shipped curves drawn from the file's numbers,
a run's points added as they come, stopping it, the refusals, and the plots' size and labels."""
from __future__ import annotations

import json
import threading
from functools import partial

import numpy as np
import pytest

from ddpm_desktop.core.generalisation import LabPoint
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.session_lab import Lab
from ddpm_desktop.ui.widgets.lab_view import PLOT_MIN_HEIGHT, LabView


def _point(step, f_mem, acc):
    return {"step": step, "loss_smooth": 0.05, "f_mem": f_mem, "ci": [max(0, f_mem - 0.1),
            min(1, f_mem + 0.1)], "median_d1": 3.0, "accuracy": acc, "n": 100, "elapsed_s": 1.0}


@pytest.fixture
def curves_file(tmp_path):
    """A small curves file in the shipped format (two sizes, the larger listed first)."""
    d = {"recipe": "fast", "steps": 500, "eval_every": 250, "n_eval": 100, "sample_steps": 10,
         "guidance": 1.5, "runs": [
             {"name": "all", "size": 9000, "subset_seed": 0, "offset": 0,
              "points": [_point(500, 0.0, 0.9), _point(250, 0.01, 0.6)]},
             {"name": "few", "size": 64, "subset_seed": 0, "offset": 0,
              "points": [_point(250, 0.2, 0.5), _point(500, 0.8, 0.7)]}]}
    path = tmp_path / "generalisation.json"
    path.write_text(json.dumps(d))
    return path


class FakeLab:
    """iter_lab's stand-in: a LabPoint per `release` (an Event per point), or until stopped."""

    def __init__(self, n_points: int):
        self.n_points, self.sizes = n_points, []
        self.release = [threading.Event() for _ in range(n_points)]

    def __call__(self, size, stop=None):
        self.sizes.append(size)
        for k in range(self.n_points):
            while not self.release[k].wait(0.01):
                if stop is not None and stop.is_set():
                    return
            yield LabPoint(step=250 * (k + 1), loss_smooth=0.05, f_mem=0.1 * k, ci=(0.0, 0.2),
                           median_d1=3.0, accuracy=0.5, n=100, elapsed_s=1.0)


@pytest.fixture
def workers():
    w = WorkerController()
    yield w
    w.shutdown(10_000)


def _lab(workers, qtbot, curves, iter_lab):
    from PySide6.QtCore import QObject, Signal

    class Owner(QObject):
        error = Signal(str, str)

    owner = Owner()
    errors = []
    owner.error.connect(lambda m, d: errors.append(m))
    lab = Lab(Jobs(workers, owner.error), owner.error, curves_path=curves, iter_lab=iter_lab,
              parent=owner)
    view = LabView(lab.state)
    qtbot.addWidget(view)
    view.size_chosen.connect(lab.set_size)
    view.run_requested.connect(lab.run)
    view.stop_requested.connect(lab.stop)
    return owner, lab, view, errors


def test_the_shipped_curves_are_the_files_numbers(workers, qtbot, curves_file):
    _owner, lab, view, _ = _lab(workers, qtbot, curves_file, FakeLab(0))
    d = json.loads(curves_file.read_text())
    assert [c.size for c in lab.state.shipped] == [64, 9000]   # sorted by size
    for run in d["runs"]:
        pts = sorted(run["points"], key=lambda p: p["step"])
        f, a = view.curves[(run["size"], False)]
        x, y = f.getData()
        np.testing.assert_array_equal(x, [p["step"] for p in pts])
        np.testing.assert_allclose(y, [p["f_mem"] for p in pts])
        np.testing.assert_allclose(a.getData()[1], [p["accuracy"] for p in pts])
    assert "64 digits" in view.legend.text() and "all 9,000 digits" in view.legend.text()


def test_a_run_adds_its_points_as_they_come_and_stops(workers, qtbot, curves_file):
    fake = FakeLab(3)
    _owner, lab, view, errors = _lab(workers, qtbot, curves_file, fake)
    view.size_combo.setCurrentIndex(view.size_combo.findData(256))
    view.run_button.click()
    assert lab.state.running and view.run_button.text() == "Stop the lab"
    assert not view.size_combo.isEnabled()
    fake.release[0].set()
    qtbot.waitUntil(lambda: lab.state.live is not None and len(lab.state.live.steps) == 1,
                    timeout=10_000)
    assert fake.sizes == [256]
    fake.release[1].set()
    qtbot.waitUntil(lambda: len(lab.state.live.steps) == 2, timeout=10_000)
    f, _a = view.curves[(256, True)]
    np.testing.assert_array_equal(f.getData()[0], [250, 500])
    np.testing.assert_allclose(f.getData()[1], [0.0, 0.1])
    view.run_button.click()   # Stop: the third point never comes
    qtbot.waitUntil(lambda: not lab.state.running, timeout=10_000)
    assert "stopped at step 500" in lab.state.message and len(lab.state.live.steps) == 2
    assert "(this run)" in view.legend.text() and not errors


def test_a_missing_curves_file_is_a_note_and_the_lab_waits_for_training(workers, qtbot, tmp_path):
    _owner, lab, view, errors = _lab(workers, qtbot, tmp_path / "none.json", FakeLab(1))
    assert lab.state.shipped == [] and "No measured curves" in view.status.text()
    workers.start("training", lambda cancel: iter(lambda: cancel.wait(0.01) or None, True))
    assert not lab.run()
    assert len(errors) == 1 and "stop the Training panel's run first" in errors[0]
    workers.cancel("training")


def test_plots_are_tall_enough_and_labelled_in_both_themes(workers, qtbot, curves_file, tmp_path):
    from PySide6.QtWidgets import QApplication

    from ddpm_desktop.ui import theme

    _owner, _lab_, view, _ = _lab(workers, qtbot, curves_file, FakeLab(0))
    view.resize(420, 260)
    for name in ("light", "dark"):
        theme.apply_theme(QApplication.instance(), name)
        view.show()
        qtbot.waitExposed(view)
        for plot in (view.f_mem_plot, view.accuracy_plot):
            assert plot.height() >= 90 and plot.minimumHeight() >= 90
            item = plot.getPlotItem()
            assert item.getAxis("bottom").labelText == "training step"
            assert item.getAxis("left").labelText
            bg = plot.backgroundBrush().color().name()
            assert bg == theme.plot_colors(view.palette()).background
        view.grab().save(str(tmp_path / f"lab_{name}.png"))
    assert view.size_combo.accessibleName() and view.run_button.accessibleName()


@pytest.mark.slow
def test_the_real_lab_runs_two_steps(workers, qtbot, curves_file):
    from ddpm_desktop.core.generalisation import iter_lab

    _owner, lab, _view, errors = _lab(workers, qtbot, curves_file,
                                      partial(iter_lab, steps=2, eval_every=1, n_eval=2,
                                              sample_steps=2))
    assert lab.run()
    qtbot.waitUntil(lambda: not lab.state.running, timeout=60_000)
    assert not errors and lab.state.live.steps == [1, 2]
    assert all(0.0 <= f <= 1.0 for f in lab.state.live.f_mem)
