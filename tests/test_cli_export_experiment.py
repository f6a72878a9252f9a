"""`ddpm-desktop export` and `ddpm-desktop experiment`: files opened with Pillow."""
from __future__ import annotations

import pytest
from PIL import Image

from cli_helpers import run_cli, run_json


def _durations(path):
    im = Image.open(path)
    out = []
    for i in range(im.n_frames):
        im.seek(i)
        im.load()
        out.append(im.info.get("duration"))
    return im, out


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".gif", ".webp", ".apng"])
def test_export_short_reverse_chain_has_30_frames_last_held(tmp_path, capsys, suffix):
    out = tmp_path / f"r{suffix}"
    report = run_json(capsys, "export", "--chain", "reverse", "--sampler", "ddim", "--steps", "5",
                      "--out", out, "--threads", "1")
    im, d = _durations(out)
    assert im.n_frames == report["frames"] == 30  # 6 states, at least 30 frames
    assert d[-1] >= 1000 and all(x == 50 for x in d[:-1])
    assert im.size[0] >= 400
    assert im.format == {".gif": "GIF", ".webp": "WEBP", ".apng": "PNG"}[suffix]


@pytest.mark.slow
def test_export_both_is_one_digit_and_wide(tmp_path, capsys):
    out = tmp_path / "b.gif"
    r = run_json(capsys, "export", "--chain", "both", "--sampler", "ddim", "--steps", "5", "--T", "100",
                 "--histogram", "--out", out, "--threads", "1")
    assert r["t"] == 30 and r["chain_lengths"] == {"forward": 31, "reverse": 6}
    with Image.open(out) as im:
        assert im.size[0] >= 800 and im.n_frames >= 30


def test_export_forward_frames_flag_and_png(tmp_path, capsys):
    out = tmp_path / "f.gif"
    assert run_cli(capsys, "export", "--chain", "forward", "--frames", "45", "--out", out)[0] == 0
    with Image.open(out) as im:
        assert im.n_frames == 45
    png = tmp_path / "f.png"
    assert run_cli(capsys, "export", "--chain", "forward", "--out", png)[0] == 0
    with Image.open(png) as im:
        assert im.format == "PNG" and getattr(im, "n_frames", 1) == 1


def test_export_bad_path_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "export", "--out", tmp_path / "x.jpg")
    assert code == 2 and err.count("\n") == 1 and "--out" in err


def test_experiment_list_and_run(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "experiment", "--list")
    assert code == 0 and "poster-digit-kl" in out
    r = run_json(capsys, "experiment", "poster-digit-kl", "--out", tmp_path)
    assert [row[0] for row in r["tables"][1]["rows"]] == [1.8643, 1.542, 0.501, 0.0993, 0.00101]
    assert "not given" in r["tables"][1]["title"]
    assert all((tmp_path / p.split("/")[-1]).is_file() for p in r["files"])
    code, text, _ = run_cli(capsys, "experiment", "poster-exponential", "--out", tmp_path)
    assert code == 0
    assert "  3.7697" in text and "3.226" in text  # the poster's value as written, beside ours


def test_poster_digit_kl_says_what_can_and_cannot_be_inferred(tmp_path, capsys):
    """The paragraph the app's results card shows (core.experiments.POSTER_DIGIT_KL_READING) is in
    the CLI's text and in its JSON as "notes"."""
    from ddpm_desktop.core.experiments import POSTER_DIGIT_KL_READING

    report = run_json(capsys, "experiment", "poster-digit-kl", "--out", tmp_path)
    assert report["notes"] == [POSTER_DIGIT_KL_READING]
    code, out, _ = run_cli(capsys, "experiment", "poster-digit-kl", "--out", tmp_path)
    assert code == 0
    text = " ".join(out.split())
    assert " ".join(POSTER_DIGIT_KL_READING.split()) in text
    assert text.index("What can be inferred") > text.index("the poster's values (their t is not given)")
    for value in ("1.8643", "1.542", "0.501", "0.0993", "0.00101"):  # as the poster wrote them
        assert f" {value} " in text


def test_experiment_tables_read_kl_as_the_results_card_does(tmp_path, capsys):
    """An estimate below one frame's resolution reads "≈ 0 (below …)", the bound at t = 0
    "∞ (point mass)": no negative KL, no "inf"."""
    from ddpm_desktop.core.kl import indistinguishable_level
    from ddpm_desktop.core.readout import format_kl

    table = run_json(capsys, "experiment", "poster-exponential", "--out", tmp_path)["tables"][0]
    code, text, _ = run_cli(capsys, "experiment", "poster-exponential", "--out", tmp_path)
    assert code == 0
    assert "inf" not in text.split() and "∞ (point mass)" in text
    level = float(indistinguishable_level(784))
    est = table["columns"].index("our estimate")
    assert any(row[est] <= level for row in table["rows"])  # at t = 1000 at least
    for row in table["rows"]:
        if row[est] <= level:
            assert format_kl(row[est], resolution=level).value == "≈ 0"
            line = next(line for line in text.splitlines() if line.split()[:1] == [str(row[0])])
            assert "≈ 0 (below" in line and f"{row[est]:.4g}" not in line


def test_experiment_bad_name_and_path(tmp_path, capsys):
    code, _, err = run_cli(capsys, "experiment", "nope", "--out", tmp_path)
    assert code == 2 and err.count("\n") == 1
    f = tmp_path / "file"
    f.write_text("x")
    assert run_cli(capsys, "experiment", "poster-exponential", "--out", f)[0] == 2
