"""`ddpm-desktop lab`: its refusals, the shipped curves' table, and a training run's lines printed
(and flushed) as each evaluation arrives; the core it drives is tested in tests/core."""
import io
import json
import os
import sys

import pytest

from ddpm_desktop.core import generalisation
from ddpm_desktop.core.generalisation import LabPoint, load_curves

from cli_helpers import run_cli, run_json


def _point(step, f_mem):
    return LabPoint(step=step, loss_smooth=0.5 / step, f_mem=f_mem, ci=(f_mem / 2, min(1.0, f_mem * 2)),
                    median_d1=6.0 - step / 1000, accuracy=0.9, n=8, elapsed_s=step / 10)


def _write_curves(path):
    made = (("twin-a", 4500, 0, ((250, 0.0), (500, 0.01))),
            ("few-a", 64, 0, ((500, 0.25), (250, 0.125))))
    runs = [{"name": name, "size": size, "subset_seed": 0, "offset": offset,
             "points": [_point(s, f).to_dict() for s, f in points]}
            for name, size, offset, points in made]
    path.write_text(json.dumps({"recipe": "fast", "steps": 500, "eval_every": 250, "n_eval": 8,
                                "sample_steps": 10, "guidance": 1.5, "runs": runs}))
    return path


@pytest.mark.parametrize("argv, needle", [
    ([], "one of the arguments --size --shipped is required"),
    (["--size", "8", "--shipped"], "not allowed with"),
    (["--size", "0"], "--size must be in 1..9000"),
    (["--size", "9001"], "--size must be in 1..9000"),
    (["--size", "64", "--steps", "0"], "--steps must be"),
    (["--size", "64", "--eval-every", "0"], "--eval-every must be"),
    (["--size", "64", "--n-eval", "0"], "--n-eval must be"),
    (["--size", "64", "--offset", "8937"], "--offset must be in 0..8936"),
    (["--size", "9000", "--offset", "1"], "--offset needs a subset"),
    (["--size", "64", "--threads", "many"], "--threads must be a number or auto"),
    (["--size", "64", "--threads", "0"], "--threads must be in"),
    (["--size", "64", "--out", "curve.csv"], "--out must end in .json"),
    (["--size", "64", "--curves", "c.json"], "--curves applies to --shipped"),
    (["--shipped", "--steps", "10", "--seed", "1"], "--steps, --seed applies to a training run"),
    (["--size", "64", "--seed", "-1"], "--seed"),
])
def test_bad_arguments_are_refused_in_one_line_before_any_work(capsys, monkeypatch, argv, needle):
    def no_training(*_a, **_k):
        raise AssertionError("the lab started training")

    monkeypatch.setattr(generalisation, "iter_lab", no_training)
    try:
        code, out, err = run_cli(capsys, "lab", *argv)
    except SystemExit as exc:  # argparse's own refusals
        code, (out, err) = exc.code, capsys.readouterr()
    assert code == 2 and out == ""
    assert needle in err and len(err.strip().splitlines()) == 1


def test_shipped_prints_one_table_per_run_sorted_by_size(tmp_path, capsys):
    path = _write_curves(tmp_path / "curves.json")
    code, out, err = run_cli(capsys, "lab", "--shipped", "--curves", path)
    assert code == 0 and err == ""
    lines = out.splitlines()
    few, twin = lines.index(next(x for x in lines if x.startswith("few-a"))), \
        lines.index(next(x for x in lines if x.startswith("twin-a")))
    assert few < twin and "64 training digits" in lines[few] and "4,500 training digits" in lines[twin]
    rows = [x.split() for x in lines[few + 2:few + 4]]
    assert [(r[0], r[1]) for r in rows] == [("250", "0.125"), ("500", "0.250")]


def test_shipped_json_is_the_curves_file_read_back(tmp_path, capsys):
    path = _write_curves(tmp_path / "curves.json")
    assert run_json(capsys, "lab", "--shipped", "--curves", path) == load_curves(path)


def test_shipped_without_the_bundled_file_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    import ddpm_desktop

    monkeypatch.setattr(ddpm_desktop, "resources_path", lambda name: tmp_path / name)
    code, out, err = run_cli(capsys, "lab", "--shipped")
    assert code == 2 and out == ""
    assert "no shipped lab curves" in err and "generalisation.json" in err
    assert len(err.strip().splitlines()) == 1


def test_shipped_refuses_a_malformed_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"runs": [{"name": "x"}]}')
    code, _out, err = run_cli(capsys, "lab", "--shipped", "--curves", bad)
    assert code == 2 and "not a lab curves file" in err and len(err.strip().splitlines()) == 1


def test_training_run_flushes_each_evaluation_as_it_comes(tmp_path, monkeypatch):
    """stdout is a pipe (not a terminal): each point's line must be readable from it before the
    next evaluation starts, and --out must hold the curve so far."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    pipe = io.TextIOWrapper(io.BufferedWriter(io.FileIO(write_fd, "w")), encoding="utf-8")
    assert not pipe.isatty()
    out_file = tmp_path / "curve.json"
    seen = []
    calls = {}

    def fake_iter_lab(size, **kwargs):
        calls.update(size=size, **kwargs)
        yield _point(2, 0.25)
        seen.append(os.read(read_fd, 65536).decode())  # written and flushed already
        seen.append(load_curves(out_file))
        yield _point(4, 0.5)

    monkeypatch.setattr(generalisation, "iter_lab", fake_iter_lab)
    monkeypatch.setattr(sys, "stdout", pipe)
    from ddpm_desktop.cli import main

    try:
        code = main(["lab", "--size", "16", "--steps", "4", "--eval-every", "2", "--n-eval", "8",
                     "--offset", "16", "--subset-seed", "3", "--threads", "1", "--out", str(out_file)])
        pipe.flush()
        rest = os.read(read_fd, 65536).decode()
    finally:
        monkeypatch.undo()
        pipe.close()
        os.close(read_fd)
    assert code == 0
    assert calls == {"size": 16, "steps": 4, "eval_every": 2, "n_eval": 8, "subset_seed": 3,
                     "offset": 16, "seed": 0}
    first = seen[0].splitlines()
    assert first[0].startswith("training on 16 of the 9,000 training digits (subset seed 3, offset 16)")
    assert first[1].split()[:5] == ["step", "2", "copies", "f_mem", "0.250"]
    assert "(95% CI 0.125-0.500)" in first[1] and "accuracy 0.900" in first[1]
    assert rest.split()[:5] == ["step", "4", "copies", "f_mem", "0.500"]
    assert [q["step"] for q in seen[1]["runs"][0]["points"]] == [2]
    final = load_curves(out_file)
    run = final["runs"][0]
    assert (run["size"], run["offset"], run["subset_seed"]) == (16, 16, 3)
    assert [q["f_mem"] for q in run["points"]] == [0.25, 0.5] and final["n_eval"] == 8


def test_training_run_json_prints_one_object_per_evaluation(capsys, monkeypatch):
    monkeypatch.setattr(generalisation, "iter_lab",
                        lambda size, **kw: iter([_point(1, 0.0), _point(2, 0.125)]))
    code, out, _ = run_cli(capsys, "lab", "--size", "9000", "--steps", "2", "--eval-every", "1",
                           "--threads", "1", "--json")
    assert code == 0
    assert [json.loads(x) for x in out.splitlines()] == [_point(1, 0.0).to_dict(),
                                                         _point(2, 0.125).to_dict()]
