"""`--sampler distilled` in the CLI: sample/reconstruct run a student, steps outside 1..4 or no
student are one-line errors (exit 2), evaluate parses distilled:N."""
import pytest

from cli_helpers import run_cli, run_json, tiny_ckpt, tiny_unet  # noqa: F401  (tiny_ckpt: a fixture)


@pytest.fixture(scope="module")
def tiny_student(tmp_path_factory):
    from ddpm_desktop.core.checkpoint import save_weights

    return save_weights(tmp_path_factory.mktemp("student") / "s.safetensors", tiny_unet(),
                        extra={"distill": {"guidance": 1.5}, "prediction": "v"})


@pytest.mark.slow
@pytest.mark.parametrize("steps", [1, 4])
def test_sample_and_reconstruct_with_the_distilled_sampler(tmp_path, capsys, tiny_student, steps):
    report = run_json(capsys, "sample", "--sampler", "distilled", "--steps", steps,
                      "--checkpoint", tiny_student, "--n", "3", "--label", "all", "--out", tmp_path / "s.npz")
    assert report["nfe"] == steps and report["guidance"] == 1.5 and not report["guided"]
    report = run_json(capsys, "reconstruct", "--sampler", "distilled", "--steps", steps,
                      "--checkpoint", tiny_student, "--index", "3", "--t", "300", "--out", tmp_path / "r.npz")
    assert report["nfe"] == steps


@pytest.mark.parametrize("command", ["sample", "reconstruct"])
@pytest.mark.parametrize("steps", ["0", "5", "20"])
def test_distilled_steps_outside_1_to_4_is_a_one_line_error(tmp_path, capsys, tiny_student, command, steps):
    extra = ["--n", "2"] if command == "sample" else ["--index", "0", "--t", "300"]
    code, _, err = run_cli(capsys, command, "--sampler", "distilled", "--steps", steps, "--checkpoint",
                           str(tiny_student), *extra, "--out", str(tmp_path / "x.png"))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_missing_student_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    from ddpm_desktop.core import distill

    monkeypatch.setattr(distill, "bundled_student_path", lambda: None)
    code, _, err = run_cli(capsys, "sample", "--sampler", "distilled", "--steps", "2",
                           "--out", str(tmp_path / "x.png"))
    assert code == 2 and "distilled student" in err and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


def test_a_plain_model_is_not_a_student(tmp_path, capsys, tiny_ckpt):
    code, _, err = run_cli(capsys, "sample", "--sampler", "distilled", "--checkpoint", str(tiny_ckpt),
                           "--out", str(tmp_path / "x.png"))
    assert code == 2 and "not a distilled student" in err


def test_evaluate_parses_distilled_configs():
    from ddpm_desktop.commands.evaluate import parse_configs

    assert parse_configs("distilled:1,distilled:4,dpmpp:20") == [("distilled", 1), ("distilled", 4), ("dpmpp", 20)]
    with pytest.raises(ValueError, match="1..4"):
        parse_configs("distilled:5")


def test_evaluate_refuses_distilled_5_in_one_line(capsys):
    code, _, err = run_cli(capsys, "evaluate", "--configs", "distilled:5", "--samples", "10")
    assert code == 2 and "1..4" in err and err.count("\n") == 1
