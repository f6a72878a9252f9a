"""UI test fixtures: no test may leave a QThread running, and QSettings never touch $HOME."""
from __future__ import annotations

import weakref

import pytest
from PySide6.QtCore import QCoreApplication, QSettings, QThread


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory, monkeypatch):
    """Point QSettings at a per-test INI folder so tests neither read nor write the user's."""
    folder = tmp_path_factory.mktemp("settings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    QCoreApplication.setOrganizationName("ddpm-desktop-tests")
    QCoreApplication.setApplicationName("ddpm-desktop-tests")
    yield


@pytest.fixture(autouse=True)
def no_leaked_qthreads(monkeypatch):
    """Fail any test that leaves a QThread running.

    Every QThread constructed during the test is recorded by wrapping QThread.__init__ (that
    also catches threads made by widgets we do not own); the controllers' registry adds the
    ones made before the patch. After the test, a thread still running gets a short grace
    period (a worker that was just told to stop), then the test fails - and the thread is
    stopped so the next test starts clean.
    """
    from ddpm_desktop.ui.controller import WorkerController, live_threads

    created: list[weakref.ref] = []
    original_init = QThread.__init__

    def recording_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        created.append(weakref.ref(self))

    monkeypatch.setattr(QThread, "__init__", recording_init)
    yield
    monkeypatch.setattr(QThread, "__init__", original_init)

    candidates = {id(t): t for t in [ref() for ref in created] + live_threads() if t is not None}
    leaked = []
    for thread in candidates.values():
        try:
            running = thread.isRunning() and not thread.wait(100)
        except RuntimeError:  # the C++ object is already deleted: not running
            continue
        if running:
            leaked.append(thread.objectName() or repr(thread))
    if leaked:
        # Stop them (cancel events first, so the workers return) before failing.
        for controller in list(WorkerController._instances):
            controller.shutdown(timeout_ms=2000)
        for thread in candidates.values():
            try:
                thread.quit()
                thread.wait(2000)
            except RuntimeError:
                pass
    if leaked:
        pytest.fail(f"test left {len(leaked)} QThread(s) running: {', '.join(leaked)}")


def _root(widget):
    while widget.parentWidget() is not None:
        widget = widget.parentWidget()
    return widget


@pytest.fixture(autouse=True)
def _delete_the_windows_a_test_made():
    """Delete every top-level widget a test made (windows, dialogs, pyqtgraph's parentless
    context menus) once it ends, so the next test in the same process starts with only what a
    module-scoped fixture keeps. Left alive they pile up (6,035 widgets after the quick tier's
    ui tests in one process, 1,128 of them QMenus), every theme switch restyles them all, and
    under xdist one of them crashed `app.setStyleSheet` in a later test's teardown.

    Set up before qtbot (autouse), so this runs after qtbot has closed its widgets; a widget
    whose top ancestor existed before the test (a module fixture's window) is left alone."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication
    from shiboken6 import getCppPointer

    from ddpm_desktop.ui import theme

    def key(widget):  # the C++ address: a wrapper's id() may be reused
        return getCppPointer(widget)[0]

    def look():
        return (app.palette().color(QPalette.ColorRole.Window).name(), app.styleSheet(),
                theme.lecture_mode())

    app = QApplication.instance()
    before = {key(w) for w in app.topLevelWidgets()}
    look_before = look()
    yield
    made = [w for w in app.topLevelWidgets()
            if key(w) not in before and key(_root(w)) not in before]
    for widget in made:
        try:
            widget.close()
            widget.deleteLater()
        except RuntimeError:  # its C++ object is already gone
            pass
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    # A test that changed the look (theme, lecture mode) leaves the app dark with normal
    # fonts, now that no window is left to restyle: restoring it in a test's own fixture,
    # with its window still open, re-polished and restyled that window, about 0.7 s a test.
    if look() != look_before:
        theme.set_lecture(app, False)
        theme.apply_theme(app, "dark")


@pytest.fixture
def make_session(qtbot):
    """Build sessions the way the session tests start them, each shut down after the test:
    `make_session(T=100, digit=x, digit_name="a blob", model=m, model_name="its denoiser")`
    sets the schedule's T, the input digit and the model, in that order; what is left out
    keeps the session's default (`make_session()` is a bare session)."""
    from ddpm_desktop.ui.controller import WorkerController
    from ddpm_desktop.ui.session import Session

    made = []

    def make(*, T: int | None = None, digit=None, digit_name: str = "", model=None, model_name: str = ""):
        s = Session(WorkerController())
        made.append(s)
        if T is not None:
            s.schedule_state.set_params(T=T)
        if digit is not None:
            s.input_state.set_digit(digit, digit_name)
        if model is not None:
            s.model_state.set_model(model, model_name)
        return s

    yield make
    for s in made:
        s.shutdown()


@pytest.fixture
def session(make_session):
    """A session at T = 200 on the bar digit with no model yet; a test module that needs
    another start defines its own `session` (or builds on this one by asking for it)."""
    from session_helpers import bar

    return make_session(T=200, digit=bar(), digit_name="a bar")


@pytest.fixture
def decision_view(session, qtbot):
    """The decision plot of `session` (whichever `session` the test module defines)."""
    from ddpm_desktop.ui.widgets.decision_view import DecisionView

    view = DecisionView(session.decision, session.reverse)
    qtbot.addWidget(view)
    return view


@pytest.fixture
def completions_panel(session, qtbot):
    """The completions panel of `session`, its Run button wired to the session's completer."""
    from ddpm_desktop.ui.widgets.completions_panel import CompletionsPanel, connect_completions_panel

    panel = CompletionsPanel(session.completions, session.sampler)
    qtbot.addWidget(panel)
    connect_completions_panel(panel, session.completer)
    return panel
