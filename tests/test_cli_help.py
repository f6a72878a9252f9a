"""The CLI as a CLI: `--help` starts without torch, every option says its default as a value,
no help names an internal module, promises are kept (export --frames), messages read as words
(inpaint), and a train whose output is not a terminal still reports progress and its threads."""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ddpm_desktop.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parent.parent


def _modules_after(*argv) -> tuple[str, set]:
    """Run the CLI in a fresh interpreter; → (its stdout, the modules it had imported)."""
    code = ("import io, contextlib, sys, json\n"
            "from ddpm_desktop.cli import main\n"
            "buf = io.StringIO()\n"
            "try:\n"
            "    with contextlib.redirect_stdout(buf):\n"
            f"        code = main({list(argv)!r})\n"
            "except SystemExit as exc:\n"
            "    code = exc.code\n"
            "print(json.dumps([code, buf.getvalue(), sorted(sys.modules)]))\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rc, out, modules = json.loads(proc.stdout.splitlines()[-1])
    return rc, out, set(modules)


def test_help_imports_neither_torch_nor_qt():
    rc, out, modules = _modules_after("--help")
    assert "torch" not in modules and "PySide6" not in modules
    assert "usage: ddpm-desktop" in out


def test_schedule_runs_without_torch():
    rc, out, modules = _modules_after("schedule", "--T", "50", "--json")
    assert rc == 0 and json.loads(out)["T"] == 50
    assert "torch" not in modules


def test_kl_runs_without_torch(tmp_path):
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255
    Image.fromarray(digit).save(tmp_path / "one.png")
    for start in ("image", "exponential"):
        argv = ["kl", "--T", "50", "--json", "--start", start]
        if start == "image":
            argv += ["--image", str(tmp_path / "one.png")]
        rc, out, modules = _modules_after(*argv)
        assert rc == 0 and len(json.loads(out)["exact_kl"]) == 51
        assert "torch" not in modules, start


@pytest.mark.parametrize("argv", [["--help"], ["schedule", "--T", "50"],
                                  ["kl", "--T", "50", "--start", "exponential"]])
def test_python_m_in_a_subprocess_without_torch(argv):
    """The real entry point, `python -m ddpm_desktop ...`, as a user types it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "ddpm_desktop", *argv],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "ddpm_desktop.cli" in imported and "torch" not in imported


def test_top_level_help_is_complete_sentences_and_lists_the_app_options(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "--theme" in out and "--lecture" in out
    assert out.rstrip().endswith(".")
    for name in COMMANDS:
        assert f"    {name}" in out


def _subparsers():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_a_help_line_with_its_default_and_no_internal_names(name):
    p = _subparsers()[name]
    text = p.format_help()
    for internal in ("core.", "DEFAULT_", "START_PARAMS", "LATENT_"):
        assert internal not in text, f"{name} --help names {internal}"
    for action in p._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        flag = action.option_strings[0]
        assert action.help, f"{name} {flag} has no help line"
        shown = p._get_formatter()._expand_help(action) if action.help else ""
        if action.nargs != 0 and action.default not in (None, [], argparse.SUPPRESS):
            value = f"{action.default:g}" if isinstance(action.default, float) else str(action.default)
            assert "default" in shown and (value in shown or str(action.default) in shown), \
                f"{name} {flag}: the help does not show its default {action.default!r}: {shown!r}"


def test_sample_help_names_the_guidance_value(capsys):
    from ddpm_desktop.core.sampling import DEFAULT_GUIDANCE

    with pytest.raises(SystemExit):
        main(["sample", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"(default {DEFAULT_GUIDANCE:g}, as the app)" in out
    assert "--sampler" in out and "seed of the random draws" in out


def test_export_frames_writes_exactly_that_many_and_says_so(tmp_path, capsys):
    help_text = " ".join(_subparsers()["export"].format_help().split())
    assert "an animation gets exactly this many" in help_text
    out = tmp_path / "f.gif"
    assert main(["export", "--chain", "forward", "--T", "50", "--frames", "5", "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.n_frames == 5


def test_missing_file_is_named_by_its_whole_path(capsys):
    assert main(["reconstruct", "--image", "/nonexistent.png", "--t", "10", "--out", "/tmp/x.png"]) == 2
    err = capsys.readouterr().err
    assert "'/nonexistent.png'" in err and err.count("\n") == 1


def test_readings_in_words():
    from ddpm_desktop.commands._common import readings_text

    assert readings_text(np.zeros(8, int)) == "all 8 read 0"
    assert readings_text(np.array([6, 0, 0, 6, 0])) == "3 read 0, 2 read 6"


@pytest.mark.slow
def test_train_without_a_terminal_prints_progress_and_its_thread_choice(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "ddpm_desktop", "train", "--steps", "4", "--batch-size", "4",
                           "--threads", "1", "--base-channels", "8", "--log-every", "2",
                           "--out", str(tmp_path / "m.safetensors")],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert "threads: 1 (--threads)" in lines
    progress = [line for line in lines if line.startswith("step ")]
    assert [line.split(",")[0] for line in progress] == ["step 2/4", "step 4/4"]
