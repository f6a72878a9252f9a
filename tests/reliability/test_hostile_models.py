"""Model files: finite weights everywhere; a student is never taken for a teacher (nor the
reverse); a failed load in the Training dock keeps the unsaved run."""
from __future__ import annotations

import json

import pytest
import torch

from ddpm_desktop.core import checkpoint
from ddpm_desktop.core.checkpoint import CheckpointError, load_model, save_weights

from reliability_helpers import TINY, assert_one_line_error, few_digits, run_cli, tiny_model


def _student_file(tmp_path, name="student.safetensors"):
    """A tiny network saved the way tools/distill.py saves a student: a `distill` record."""
    return save_weights(tmp_path / name, tiny_model(),
                        extra={"distill": {"method": "direct", "steps": 2}, "prediction": "v",
                               "guidance": 1.0, "step": 10})


def test_a_student_is_refused_as_a_teacher(tmp_path):
    path = _student_file(tmp_path)
    with pytest.raises(CheckpointError, match="distilled student") as info:
        load_model(path)
    assert "\n" not in str(info.value) and "student.safetensors" in str(info.value)
    rc, out, err = run_cli(["sample", "--checkpoint", str(path), "--n", "1", "--steps", "1",
                            "--out", str(tmp_path / "s.png")])
    assert_one_line_error(rc, out, err)
    assert "distilled student" in err and not (tmp_path / "s.png").exists()


def test_the_bundled_student_is_refused_as_a_teacher_and_loads_as_a_student():
    from ddpm_desktop.core.distill import bundled_student_path, load_student

    path = bundled_student_path()
    if path is None:
        pytest.skip("this build has no bundled student")
    with pytest.raises(CheckpointError, match="distilled student"):
        load_model(path)
    student, meta = load_student(path)
    assert meta["prediction"] in ("eps", "v")


def test_a_teacher_is_refused_as_a_student(tmp_path):
    from ddpm_desktop.core.distill import load_student

    teacher = save_weights(tmp_path / "teacher.safetensors", tiny_model())
    with pytest.raises(CheckpointError, match="not a distilled student"):
        load_student(teacher)
    load_model(teacher)  # and it is still a good teacher


def _poisoned_copy(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        next(p for p in model.parameters() if p.numel() > 1).view(-1)[0] = float("nan")
    return model


def test_a_latent_model_with_nan_weights_is_refused(tmp_path):
    from ddpm_desktop.core.latent import LatentModels, load_latent, save_latent

    good = load_latent()
    import copy

    bad = LatentModels(_poisoned_copy(copy.deepcopy(good.autoencoder)), copy.deepcopy(good.diffusion),
                       good.code_mean, good.code_scale, good.info)
    path = save_latent(tmp_path / "latent.safetensors", bad)
    with pytest.raises(CheckpointError, match="non-finite weights"):
        load_latent(path)
    bad_scale = LatentModels(copy.deepcopy(good.autoencoder), copy.deepcopy(good.diffusion),
                             good.code_mean, float("nan"), good.info)
    with pytest.raises(CheckpointError, match="finite|not a number"):
        load_latent(save_latent(tmp_path / "latent2.safetensors", bad_scale))


def test_a_classifier_with_nan_weights_is_refused(tmp_path):
    from ddpm_desktop.core.classifier import DigitClassifier, load_classifier, save_classifier

    path = save_classifier(tmp_path / "c.safetensors", _poisoned_copy(DigitClassifier()), {})
    with pytest.raises(CheckpointError, match="non-finite weights"):
        load_classifier(path)


def test_a_training_state_with_nan_weights_is_refused(tmp_path):
    from ddpm_desktop.core.training import TrainConfig, Trainer

    data = few_digits(8)
    tr = Trainer(TrainConfig(model=TINY, batch_size=4, steps=2), data, device="cpu")
    path = checkpoint.save_checkpoint(tmp_path / "m.safetensors", tr)
    state_path = checkpoint.state_path_for(path)
    state = torch.load(state_path, weights_only=True)
    key = next(k for k, v in state["model"].items() if v.is_floating_point() and v.numel() > 1)
    state["model"][key].view(-1)[0] = float("inf")
    torch.save(state, state_path)
    with pytest.raises(CheckpointError, match="non-finite weights"):
        checkpoint.load_trainer(path, data, device="cpu")


# ----------------------------------------------------------------------------- the app

@pytest.mark.slow
def test_training_dock_load_of_bad_metadata_keeps_the_unsaved_run(qtbot, tmp_path):
    from safetensors.torch import load_file, save

    from ddpm_desktop.ui.controller import WorkerController
    from ddpm_desktop.ui.session import Session

    s = Session(WorkerController())
    try:
        s.schedule_state.set_params(T=50)
        s.trainer.model_config = TINY
        s.trainer.set_browser_dataset(few_digits(16))
        s.training.update(batch_size=4, steps=2, sample_every_s=60)
        assert s.trainer.start()
        qtbot.waitUntil(lambda: not s.trainer.is_running() and s.training.phase == "idle", timeout=60_000)
        model_before = s.model_state.model
        # A good network whose metadata is bad where only Load... reads it.
        good = save_weights(tmp_path / "g.safetensors", tiny_model())
        raw = checkpoint.read_metadata(good)
        errors = []
        s.error.connect(lambda message, details: errors.append(message))
        for i, (field, value) in enumerate([("loss_history", [[1, 0.5], [2]]), ("step", "many"),
                                             ("step", 10**30), ("train_config", {"steps": "x"})]):
            meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
            meta[field] = json.dumps(value)
            bad = tmp_path / f"bad{i}.safetensors"
            bad.write_bytes(save(load_file(str(good)), metadata=meta))
            assert s.trainer.load_checkpoint(str(bad)) is False
            assert errors and "bad" in errors[-1] and "\n" not in errors[-1]
            assert s.model_state.model is model_before
        # the unsaved run is still there: it can be saved
        out = tmp_path / "kept.safetensors"
        assert s.trainer.save_checkpoint(str(out)) and out.is_file()
        assert checkpoint.read_metadata(out)["step"] == 2
    finally:
        s.shutdown()


@pytest.mark.parametrize("source, claim", [("teacher", "v"), ("student", "eps")])
def test_a_student_whose_metadata_lies_about_its_prediction_is_refused(tmp_path, source, claim):
    from safetensors.torch import load_file, save

    from ddpm_desktop.core.checkpoint import bundled_model_path
    from ddpm_desktop.core.distill import bundled_student_path, load_student

    src = bundled_model_path() if source == "teacher" else bundled_student_path()
    if src is None:
        pytest.skip("this build has no bundled model or student")
    meta = checkpoint.read_metadata(src)
    meta.update({"distill": {"method": "direct", "guidance": 1.5}, "prediction": claim})
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}
    liar = tmp_path / "liar.safetensors"
    liar.write_bytes(save(load_file(str(src)), metadata=raw))
    with pytest.raises(CheckpointError, match="metadata does not fit") as info:
        load_student(liar)
    assert "\n" not in str(info.value)
    # told the truth, the same weights load
    meta["prediction"] = "eps" if claim == "v" else "v"
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}
    honest = tmp_path / "honest.safetensors"
    honest.write_bytes(save(load_file(str(src)), metadata=raw))
    assert load_student(honest)[0].prediction == meta["prediction"]
