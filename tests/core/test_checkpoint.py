import json
import os
import pickle

import pytest
import torch

from ddpm_desktop.core import checkpoint
from ddpm_desktop.core.checkpoint import CheckpointError, load_model, save_weights
from ddpm_desktop.core.model import ModelConfig, UNet


def _model(seed=0):
    torch.manual_seed(seed)
    return UNet(ModelConfig(base_channels=8, channel_mults=(1, 2), emb_dim=32, groups=4, attention=False))


@pytest.mark.slow
def test_weights_round_trip_with_config_metadata(tmp_path):
    model = _model()
    path = save_weights(tmp_path / "m.safetensors", model, {"step": 7, "dataset": "MNIST"})
    loaded, meta = load_model(path)
    assert meta["step"] == 7 and meta["dataset"] == "MNIST"
    assert meta["schedule"]["kind"] == "linear"
    assert loaded.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        torch.testing.assert_close(a, b)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left


def test_truncated_empty_and_foreign_files_give_one_line_errors(tmp_path):
    good = save_weights(tmp_path / "m.safetensors", _model())
    data = good.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.safetensors").write_bytes(b"")
    (tmp_path / "text.safetensors").write_text("hello")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, str(tmp_path / "foreign.safetensors"))
    for name, pattern in [("cut", "truncated|corrupt|not a valid"), ("empty", "empty"),
                          ("text", "not a valid"), ("foreign", "not a ddpm-desktop"),
                          ("missing", "does not exist")]:
        with pytest.raises(CheckpointError, match=pattern) as info:
            load_model(tmp_path / f"{name}.safetensors")
        assert "\n" not in str(info.value)


def test_other_architecture_is_refused(tmp_path):
    path = save_weights(tmp_path / "m.safetensors", _model())
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    cfg = json.loads(meta["model_config"])
    cfg["base_channels"] = 16
    meta["model_config"] = json.dumps(cfg)
    save_file(tensors, str(tmp_path / "other.safetensors"), metadata=meta)
    with pytest.raises(CheckpointError, match="different architecture"):
        load_model(tmp_path / "other.safetensors")


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch should-never-exist",))


def test_state_pickle_that_runs_code_is_refused(tmp_path, tiny_data, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = save_weights(tmp_path / "m.safetensors", _model())
    with open(checkpoint.state_path_for(path), "wb") as f:
        pickle.dump({"config": {}, "model": _RunsCode()}, f)
    with pytest.raises(CheckpointError, match="refused|corrupt"):
        checkpoint.load_trainer(path, tiny_data, device="cpu")
    assert not (tmp_path / "should-never-exist").exists()


def test_orphaned_temp_files_are_removed_at_the_next_save(tmp_path):
    orphan = tmp_path / ".m.safetensors.999999999.tmp"
    orphan.write_bytes(b"half a checkpoint")
    save_weights(tmp_path / "m.safetensors", _model())
    assert not orphan.exists()


def _crafted(tmp_path, monkeypatch, **fields):
    """A checkpoint whose weights match its (invalid) configuration: validation bypassed to write it."""
    monkeypatch.setattr(ModelConfig, "validate", lambda self: None)
    torch.manual_seed(0)
    base = dict(base_channels=8, channel_mults=(1, 2), emb_dim=32, groups=4, attention=False)
    buildable = {k: v for k, v in fields.items() if k not in ("dropout", "log_snr_range")}
    model = UNet(ModelConfig(**{**base, **buildable}))
    monkeypatch.undo()
    from safetensors.torch import save_file

    meta = checkpoint._metadata(model.config, None)
    meta["model_config"] = json.dumps({**json.loads(meta["model_config"]), **fields})
    path = tmp_path / "crafted.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), metadata=meta)
    return path


@pytest.mark.parametrize("fields, words", [
    ({"emb_dim": 9}, "emb_dim"), ({"in_channels": 3}, "1×28×28"), ({"dropout": "x"}, "dropout"),
    ({"log_snr_range": ("a", "b")}, "log_snr_range"),
])
def test_crafted_self_consistent_checkpoints_are_refused_in_one_line(tmp_path, monkeypatch, fields, words):
    path = _crafted(tmp_path, monkeypatch, **fields)
    with pytest.raises(CheckpointError, match=words) as info:
        load_model(path)
    assert "\n" not in str(info.value) and "crafted.safetensors" in str(info.value)


def test_a_network_that_does_not_run_is_refused_before_load_returns(tmp_path, monkeypatch):
    path = save_weights(tmp_path / "m.safetensors", _model())
    # Stand in for any architecture the config checks let through but torch cannot run.
    def broken(self, *a, **k):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(UNet, "forward", broken)
    with pytest.raises(CheckpointError, match="does not run on a 1×28×28"):
        load_model(path)


def test_weights_giving_non_finite_output_are_refused(tmp_path):
    model = _model()
    with torch.no_grad():
        model.out_conv.bias.fill_(3e38)
        model.out_conv.weight.fill_(3e38)
    path = save_weights(tmp_path / "m.safetensors", model)
    with pytest.raises(CheckpointError, match="non-finite output"):
        load_model(path)


def _trainer(tiny_config, tiny_data, seed=0):
    from ddpm_desktop.core.training import Trainer

    import dataclasses

    cfg = dataclasses.replace(tiny_config, seed=seed)
    return Trainer(cfg, tiny_data, device="cpu")


def _train(trainer, n):
    it = trainer.iter_training()
    for _ in range(n):
        next(it)


@pytest.mark.slow
def test_weights_and_state_are_a_pair_and_a_mismatch_is_refused(tmp_path, tiny_config, tiny_data):
    path = tmp_path / "m.safetensors"
    a = _trainer(tiny_config, tiny_data)
    _train(a, 2)
    checkpoint.save_checkpoint(path, a)
    meta = checkpoint.read_metadata(path)
    assert meta["pair"] == {"run_id": checkpoint.run_id(a), "step": 2}
    resumed = checkpoint.load_trainer(path, tiny_data, device="cpu")
    assert resumed.step == 2 and checkpoint.run_id(resumed) == checkpoint.run_id(a)

    # The state one save ahead of the weights (a kill between the two writes).
    stale_weights = path.read_bytes()
    _train(a, 1)
    checkpoint.save_checkpoint(path, a)
    path.write_bytes(stale_weights)
    with pytest.raises(CheckpointError, match="not saved together") as info:
        checkpoint.load_trainer(path, tiny_data, device="cpu")
    assert "step 3" in str(info.value) and "step 2" in str(info.value)

    # Another run's weights saved under the same name.
    b = _trainer(tiny_config, tiny_data, seed=1)
    _train(b, 3)
    state = checkpoint.state_path_for(path).read_bytes()
    checkpoint.save_checkpoint(path, b)
    checkpoint.state_path_for(path).write_bytes(state)
    with pytest.raises(CheckpointError, match="not saved together"):
        checkpoint.load_trainer(path, tiny_data, device="cpu")

    # Weights alone saved over a training checkpoint: the old state no longer belongs to them.
    checkpoint.save_checkpoint(path, a)
    save_weights(path, b.ema)
    with pytest.raises(CheckpointError, match="no run record"):
        checkpoint.load_trainer(path, tiny_data, device="cpu")


def test_a_model_source_is_a_type_that_reads_as_its_text():
    from ddpm_desktop.core.checkpoint import ModelSource, model_file

    assert ModelSource.BUNDLED == "bundled model" and f"Model: {ModelSource.TRAINED}" == "Model: trained here"
    assert ModelSource("trained here") is ModelSource.TRAINED      # a saved string reads back
    assert json.loads(json.dumps({"source": ModelSource.BUNDLED})) == {"source": "bundled model"}
    assert [model_file(s) for s in (ModelSource.BUNDLED, ModelSource.TRAINED, "", None)] == [None] * 4
    assert model_file("gui_step38.safetensors") == "gui_step38.safetensors"
