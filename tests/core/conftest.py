"""Fixtures for core tests: a tiny network and dataset that train in seconds on one CPU thread."""
import numpy as np
import pytest
import torch

from ddpm_desktop.core.model import ModelConfig
from ddpm_desktop.core.training import TrainConfig

TINY_MODEL = ModelConfig(base_channels=8, channel_mults=(1, 2), emb_dim=32, groups=4, attention=False)


@pytest.fixture
def tiny_config():
    return TrainConfig(steps=40, batch_size=16, lr=3e-3, warmup_steps=5, seed=0, model=TINY_MODEL)


@pytest.fixture
def tiny_data():
    """16 bundled training digits as (images [16,1,28,28] in [-1,1], labels [16])."""
    from ddpm_desktop.core.data import load_bundled_mnist

    ds = load_bundled_mnist("train")
    idx = np.arange(0, len(ds.images), len(ds.images) // 16)[:16]
    images = torch.from_numpy(ds.images[idx].astype(np.float32) / 127.5 - 1.0)[:, None]
    return images, torch.from_numpy(ds.labels[idx].astype(np.int64))
