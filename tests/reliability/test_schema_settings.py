"""Settings read back strictly (booleans are true/false only, integers have no fraction), and a
settings file that is not a regular file never keeps the app from opening."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtCore import QCoreApplication, QSettings

import ddpm_desktop

CODE = os.path.dirname(os.path.dirname(ddpm_desktop.__file__))  # the tree under test


@pytest.fixture
def settings(tmp_path):
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    QCoreApplication.setOrganizationName("ddpm-desktop-tests")
    QCoreApplication.setApplicationName("ddpm-desktop-tests")
    s = QSettings()
    yield s
    s.clear()
    s.sync()


@pytest.mark.parametrize("key, raw", [
    ("training/conditional", "yes"),
    ("training/conditional", "no"),
    ("sampler/compare", "1"),
    ("export/kl", "0"),
    ("training/batch_size", "64.9"),
    ("training/batch_size", "1e3"),
    ("sampler/seed", "12 monkeys"),
    ("sampler/guidance", "1e308"),
])
def test_settings_values_of_the_wrong_type_fall_back_to_the_default(qtbot, settings, capfd,
                                                                    key, raw):
    from ddpm_desktop.ui import settings as saved
    from ddpm_desktop.ui.controller import WorkerController
    from ddpm_desktop.ui.session import Session

    settings.setValue(key, raw)
    settings.sync()
    fresh = Session(WorkerController())
    try:
        defaults = {"sampler": fresh.sampler.settings, "training": fresh.training.settings,
                    "export": fresh.export.settings}
        saved.restore(fresh, QSettings())
        area, name = key.split("/")
        restored = {"sampler": fresh.sampler.settings, "training": fresh.training.settings,
                    "export": fresh.export.settings}[area]
        assert getattr(restored, name) == getattr(defaults[area], name)
        assert key in capfd.readouterr().err
    finally:
        fresh.shutdown()


def test_true_and_false_as_written_by_qsettings_still_read(qtbot, settings):
    from ddpm_desktop.ui import settings as saved

    settings.setValue("a", "false")
    settings.setValue("b", True)
    settings.setValue("n", "42")
    settings.sync()
    s = QSettings()
    assert saved.read(s, "a", True) is False and saved.read(s, "b", False) is True
    assert saved.read(s, "n", 0) == 42


_OPEN_WITH_FIFO = textwrap.dedent("""
    import os, sys
    from PySide6.QtCore import QSettings
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[1])
    folder = os.path.join(sys.argv[1], "ddpm-desktop")
    os.makedirs(folder, exist_ok=True)
    os.mkfifo(os.path.join(folder, "ddpm-desktop.ini"))
    from ddpm_desktop.ui.app import create_app
    app = create_app([])
    from ddpm_desktop.ui.main_window import MainWindow
    w = MainWindow(load_model=False, load_dataset=False)
    w.session.sampler.update(seed=5)
    w.close()
    print("opened and closed")
""")


def test_a_settings_file_that_is_a_fifo_does_not_keep_the_app_from_opening(tmp_path):
    env = {**os.environ, "PYTHONPATH": CODE, "QT_QPA_PLATFORM": "offscreen",
           "OMP_NUM_THREADS": "1"}
    try:
        r = subprocess.run([sys.executable, "-c", _OPEN_WITH_FIFO, str(tmp_path)], env=env,
                           capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("the app hung on a settings file that is a FIFO")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "opened and closed" in r.stdout
    assert "is not a regular file" in r.stderr
    fifo = tmp_path / "ddpm-desktop" / "ddpm-desktop.ini"
    assert fifo.is_fifo()  # left as it was, not replaced by a regular file


def test_a_link_to_a_device_or_a_huge_file_is_refused(tmp_path):
    from ddpm_desktop.ui.settings import MAX_SETTINGS_BYTES, unusable_settings_file

    link = tmp_path / "a.ini"
    link.symlink_to("/dev/zero")
    assert "not a regular file" in unusable_settings_file([link])
    big = tmp_path / "b.ini"
    with open(big, "wb") as f:
        f.truncate(MAX_SETTINGS_BYTES + 1)
    assert "too large" in unusable_settings_file([big])
    assert unusable_settings_file([tmp_path / "missing.ini"]) is None


def test_a_relaunch_keeps_the_start_distribution_and_where_the_chain_starts(qtbot, settings):
    """Only the start's name was remembered: its parameters and "forward chain from noise"
    were lost at every relaunch."""
    from ddpm_desktop.ui import settings as saved
    from ddpm_desktop.ui.controller import WorkerController
    from ddpm_desktop.ui.session import Session

    a, b = Session(WorkerController()), Session(WorkerController())
    try:
        a.input_state.set_start("shifted_gaussian", mean=-2.5, std=0.3)
        a.input_state.set_forward_from("noise")
        saved.save(a, settings)
        settings.sync()
        saved.restore(b, QSettings())
        assert (b.input_state.start_name, b.input_state.start_params,
                b.input_state.forward_from) == ("shifted_gaussian", {"mean": -2.5, "std": 0.3},
                                                "noise")
    finally:
        a.shutdown()
        b.shutdown()
