"""File > Copy run as command / Copy export as command: the `ddpm-desktop`
line that reproduces the current reverse run or export, on the clipboard.

`run_spec(session)` reads the session's states and the run's plan (core.run.plan_run: the
start t and the capped step count) into a `core.reproduce.RunSpec` (the app's seeds: the
sampler seed, x_T's seed = input seed + the session's offset, the forward chain's noise seed =
the input seed; the bundled digit found by its pixels);
`reverse_command_for(session)` and `export_command_for(session)` build the text with the pure
builders of core/reproduce.py; `copy_command(window, which)` puts it on the clipboard and
says so in the status bar, or shows why no command can reproduce this state.
"""
from __future__ import annotations

from PySide6.QtWidgets import QApplication

from ddpm_desktop.core.checkpoint import SUBSET_MODELS, ModelSource, model_file, subset_model_path
from ddpm_desktop.core.reproduce import (
    RunSpec,
    bundled_digit_index,
    export_command,
    reverse_command,
)
from ddpm_desktop.core.run import plan_run
from ddpm_desktop.core.sampling import START_SEED_OFFSET
from ddpm_desktop.ui.session_file import model_ref


def run_spec(session, checkpoint: str | None = None) -> RunSpec:
    """The current reverse run (its first sampler) as a RunSpec; ValueError (one line) when
    the state cannot be written as a command. `checkpoint`: the model file's path (None: the
    bundled model, or the model's source when it is another file)."""
    s = session.sampler.settings
    inp = session.input_state
    schedule_params = session.schedule_state.params
    T = int(schedule_params["T"])
    source = session.model_state.source
    if source == ModelSource.TRAINED:
        raise ValueError("the model was trained in this session: save a checkpoint (Training "
                         "dock) and load it, then copy the command")
    if source == ModelSource.EXACT:
        raise ValueError("the model is the perfect denoiser: `ddpm-desktop sample --model exact` "
                         "draws from it")
    if checkpoint is None and source in SUBSET_MODELS:
        checkpoint = str(subset_model_path(source))
    if checkpoint is None:
        checkpoint = model_file(source)
    plan = plan_run(s, T)  # the run as the session makes it: its start, its capped steps
    digit_index = None
    if s.source == "input" or inp.forward_from == "digit":
        digit_index = bundled_digit_index(inp.digit)
    if s.source == "input" and inp.forward_from != "digit":
        raise ValueError("the forward chain starts from noise, not a digit: no command "
                         "reconstructs from it")
    if s.source == "noise" and inp.start_name == "image":
        raise ValueError("x_T is an image, not a distribution: no command draws it")
    return RunSpec(schedule=schedule_params, sampler=s.sampler, steps=plan.steps, eta=s.eta,
                   label=s.label, guidance=s.guidance, seed=s.seed, source=s.source,
                   t_start=plan.t_start, x_seed=inp.seed + START_SEED_OFFSET,
                   start=inp.start_name, start_params=dict(inp.start_params),
                   noise_seed=inp.seed, digit_index=digit_index, checkpoint=checkpoint,
                   device=session.device_state.device)


def reverse_command_for(session, checkpoint: str | None = None) -> str:
    return reverse_command(run_spec(session, checkpoint))


def export_command_for(session, checkpoint: str | None = None, theme: str | None = None) -> str:
    """The `ddpm-desktop export` line of the Export dialog's settings and the chains on screen
    (the reverse chain: the current run's settings)."""
    e = session.export.settings
    spec = run_spec(session, checkpoint)
    if theme is None:
        app = QApplication.instance()
        theme = "light" if app is not None and app.property("ddpm_theme") == "light" else "dark"
    animated = e.format != "png"
    return export_command(spec, e.what, str(e.target()), fps=e.fps, scale=e.scale,
                          histogram=animated and e.histogram, kl=animated and e.kl,
                          theme=theme, key_frames=None if animated else e.key_frames)


def _checkpoint_path(window) -> str | None:
    """The loaded model's file, as the session's snapshot names it (None: bundled, trained
    here, or no model)."""
    ref = model_ref(window.session.model_state)
    return ref.path if ref is not None and ref.kind == "file" else None


def copy_command(window, which: str) -> str:
    """Put the command for `which` ("run" or "export") on the clipboard; "" when refused."""
    session = window.session
    try:
        if which == "run":
            text = reverse_command_for(session, _checkpoint_path(window))
        else:
            text = export_command_for(session, _checkpoint_path(window))
    except ValueError as exc:
        window.show_error(f"No command reproduces this: {exc}")
        return ""
    QApplication.clipboard().setText(text)
    lanes = "" if not session.sampler.settings.compare else " (the first sampler's run)"
    window.statusBar().showMessage(f"Copied: {text}{lanes}", 10_000)
    return text
