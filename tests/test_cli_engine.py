"""`ddpm-desktop schedule` and `ddpm-desktop kl`: JSON output, exit codes, one-line errors
(kl's numbers: tests/test_cli_kl.py)."""
import json
import subprocess
import sys

import pytest

from cli_helpers import run_cli, run_json


def test_schedule_json_default(capsys):
    d = run_json(capsys, "schedule")
    assert d["T"] == 1000 and len(d["betas"]) == 1000 and len(d["alphas_cumprod"]) == 1000
    assert d["betas"][0] == pytest.approx(1e-4) and d["betas"][-1] == pytest.approx(0.02)
    assert d["alphas_cumprod"][0] == pytest.approx(1 - 1e-4)
    assert d["alpha_bar_T"] == pytest.approx(4.04e-5, rel=1e-2) == d["alphas_cumprod"][-1]
    assert d["prior_kl"] < 1e-3 and d["warning"] is None


@pytest.mark.parametrize("kind", ["linear", "cosine", "quadratic", "sigmoid"])
def test_schedule_json_kinds(capsys, kind):
    d = run_json(capsys, "schedule", "--schedule", kind, "--steps", "50",
                 "--beta-start", "1e-3", "--beta-end", "0.05")
    assert d["schedule"] == kind and len(d["betas"]) == 50
    assert all(0 < b < 1 for b in d["betas"])
    assert all(a > b for a, b in zip(d["alphas_cumprod"], d["alphas_cumprod"][1:]))


def test_schedule_short_warns(capsys):
    d = run_json(capsys, "schedule", "--steps", "50")
    assert d["alpha_bar_T"] == pytest.approx(0.603, abs=2e-3) and "not pure noise" in d["warning"]
    code, out, _ = run_cli(capsys, "schedule", "--steps", "50")
    assert code == 0 and "warning" in out and "alpha_bar_T = 0.603" in out


@pytest.mark.parametrize("argv, words", [
    (["schedule", "--steps", "0"], "T = 0"),
    (["schedule", "--beta-start", "2"], "beta_start"),
    (["schedule", "--beta-end", "nan"], "beta_end"),
    (["schedule", "--steps", "5000"], "underflows"),
    (["kl", "--steps", "0"], "T = 0"),
    (["kl", "--start", "exponential", "--rate", "-1"], "rate"),
    (["kl", "--start", "gaussian", "--rate", "2"], "--rate"),
    (["kl", "--start", "image"], "--image"),
    (["kl", "--bins", "1"], "--bins"),
])
def test_bad_values_exit_2_in_one_line(capsys, argv, words):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["schedule", "--schedule", "exotic"], ["schedule", "--steps", "ten"], ["kl", "--start", "cauchy"],
])
def test_bad_arguments_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        run_cli(capsys, *argv)
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


# the kl command's output is tested in tests/test_cli_kl.py


@pytest.mark.slow
def test_subprocess_entry_point():
    out = subprocess.run([sys.executable, "-m", "ddpm_desktop", "schedule", "--steps", "10", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and len(json.loads(out.stdout)["betas"]) == 10
    bad = subprocess.run([sys.executable, "-m", "ddpm_desktop", "schedule", "--steps", "-4"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1


def test_schedule_length_is_T_everywhere_with_the_old_names_as_aliases(capsys):
    from ddpm_desktop.cli import build_parser

    for flag in ("--T", "--steps", "--schedule-steps"):
        assert run_json(capsys, "schedule", flag, "37")["T"] == 37
        assert run_json(capsys, "kl", flag, "12")["T"] == 12
    parser = build_parser()
    for command in ("sample", "reconstruct", "evaluate"):
        extra = {"sample": ["--out", "x.png"], "reconstruct": ["--out", "x.png", "--index", "0", "--t", "1"],
                 "evaluate": []}[command]
        for flag in ("--T", "--schedule-steps"):
            args = parser.parse_args([command, *extra, flag, "64"])
            assert args.T == 64, (command, flag)
        if command != "evaluate":  # --steps is the sampler's reverse steps there, not T
            args = parser.parse_args([command, *extra, "--steps", "5"])
            assert args.steps == 5 and args.T == 1000


def test_defaults_come_from_core():
    from ddpm_desktop.cli import build_parser
    from ddpm_desktop.core.schedule import DEFAULT_SCHEDULE

    args = build_parser().parse_args(["sample", "--out", "x.png"])
    assert (args.schedule, args.T, args.beta_start, args.beta_end) == (
        DEFAULT_SCHEDULE["kind"], DEFAULT_SCHEDULE["T"], DEFAULT_SCHEDULE["beta_start"],
        DEFAULT_SCHEDULE["beta_end"])


@pytest.mark.parametrize("text", ["none", "None", "NONE"])
def test_label_none_means_unconditional(text):
    from ddpm_desktop.commands._common import labels_from_arg

    assert labels_from_arg(text, 4) is None
    assert labels_from_arg("all", 4).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="'none'"):
        labels_from_arg("nine", 4)


@pytest.mark.slow
def test_output_piped_into_head_ends_quietly():
    # A reader that closes the pipe after one byte, as `head -c 1` does.
    cmd = (f"{sys.executable} -m ddpm_desktop schedule --T 20000 --beta-end 0.001 --json "
           f"| {sys.executable} -c 'import sys; sys.stdin.read(1)'; echo \"rc=${{PIPESTATUS[0]}}\" >&2")
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr
    assert out.stderr.strip().splitlines() == ["rc=0"]


def test_a_command_that_fails_to_import_is_not_skipped(monkeypatch):
    import ddpm_desktop.cli as cli

    monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + ("no_such_command",))
    with pytest.raises(ModuleNotFoundError):
        cli.build_parser()
