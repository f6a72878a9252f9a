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
