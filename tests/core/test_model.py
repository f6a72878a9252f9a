import pytest
import torch

from ddpm_desktop.core.model import ModelConfig, UNet, count_parameters
from ddpm_desktop.core.training import TrainConfig


def test_default_network_size_is_in_the_planned_range():
    n = count_parameters(UNet(TrainConfig().model))
    assert 300_000 <= n <= 1_500_000


def test_forward_shape_and_label_conditioning(tiny_config):
    torch.manual_seed(0)
    model = UNet(tiny_config.model)
    # Zero-initialised layers (residual outputs, output conv) hide the conditioning at
    # initialisation; give every weight a value so the label and log-SNR can show.
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1)
    x = torch.randn(4, 1, 28, 28)
    lam = torch.tensor([-5.0, 0.0, 3.0, 8.0])
    out_null = model(x, lam, None)
    assert out_null.shape == x.shape
    explicit_null = model(x, lam, torch.full((4,), model.null_label))
    torch.testing.assert_close(out_null, explicit_null)
    assert not torch.allclose(model(x, lam, torch.tensor([1, 2, 3, 4])), out_null)
    assert not torch.allclose(model(x, lam + 2.0, None), out_null)
    # A scalar log-SNR broadcasts over the batch.
    torch.testing.assert_close(model(x, torch.tensor(0.5), None), model(x, torch.full((4,), 0.5), None))


def test_config_round_trip_and_validation():
    cfg = ModelConfig(base_channels=8, channel_mults=(1, 2), groups=4)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown model config"):
        ModelConfig.from_dict({**cfg.to_dict(), "bogus": 1})
    with pytest.raises(ValueError, match="divisible by groups"):
        ModelConfig(base_channels=6, groups=4).validate()


@pytest.mark.parametrize("field, value, words", [
    ("dropout", "x", "dropout"), ("dropout", 1.0, "dropout"), ("dropout", float("nan"), "dropout"),
    ("log_snr_range", ["a", "b"], "log_snr_range"), ("log_snr_range", [5, -5], "log_snr_range"),
    ("log_snr_range", [0, float("inf")], "log_snr_range"), ("log_snr_range", 3, "must be a list"),
    ("emb_dim", 9, "even"), ("emb_dim", 0, "emb_dim"), ("in_channels", 3, "1×28×28"),
    ("image_size", 32, "1×28×28"), ("base_channels", 100_000, "base_channels"),
    ("base_channels", 16.0, "integer"), ("base_channels", True, "integer"), ("groups", 3, "divisible"),
    ("num_res_blocks", -1, "num_res_blocks"), ("channel_mults", [], "channel_mults"),
    ("channel_mults", [1, 2, 2, 2], "channel_mults"), ("channel_mults", [1, "2"], "channel_mults"),
    ("attention", "yes", "attention"), ("num_classes", 10**9, "num_classes"), ("extra", 1, "unknown"),
])
def test_every_config_field_is_checked_for_type_and_range(field, value, words):
    d = {**ModelConfig().to_dict(), field: value}
    with pytest.raises(ValueError, match=words) as info:
        ModelConfig.from_dict(d)
    assert "\n" not in str(info.value)


def test_the_default_and_bundled_style_configs_are_valid():
    for cfg in (ModelConfig(), TrainConfig().model,
                ModelConfig(base_channels=8, channel_mults=(1,), attention=False, emb_dim=16, groups=4)):
        assert ModelConfig.from_dict(cfg.to_dict()) == cfg
