"""The noise-prediction network ε_θ(x_t, λ, y): a small U-Net for 1×28×28 images.

It is conditioned on the continuous log-SNR λ = log(ᾱ/(1−ᾱ)) instead of an integer step,
so one trained network runs under every β schedule the app offers (linear, cosine, any T):
the sampler looks up λ_t of its own schedule and passes it in. An optional class label
y ∈ {0..9} conditions it; y = `num_classes` is the null label used for classifier-free
guidance (Ho & Salimans 2022).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the U-Net. Resolutions 28 → 14 → 7; attention at 7×7 only."""

    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    attention: bool = True
    emb_dim: int = 128
    num_classes: int = 10
    groups: int = 8
    dropout: float = 0.0
    image_size: int = 28
    in_channels: int = 1
    # λ is clamped to this range before embedding: the range training covers.
    log_snr_range: tuple[float, float] = field(default=(-20.0, 20.0))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channel_mults"] = list(self.channel_mults)
        d["log_snr_range"] = list(self.log_snr_range)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        if not isinstance(d, dict):
            raise ValueError("model config must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(unknown)}")
        d = dict(d)
        for key in ("channel_mults", "log_snr_range"):
            if key in d:
                if not isinstance(d[key], (list, tuple)):
                    raise ValueError(f"model config {key} must be a list, got {d[key]!r}")
                d[key] = tuple(d[key])
        try:
            cfg = cls(**d)
        except TypeError as exc:
            raise ValueError(f"bad model config: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a crafted value's own __eq__/__hash__ etc.
            raise ValueError(f"bad model config: {type(exc).__name__}") from None
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise ValueError (one line, naming the field) unless every field has its type and range.

        A checkpoint's configuration comes from a file, so this is the gate between a crafted
        file and the network: sizes are bounded (`LIMITS`), the image is the app's 1×28×28,
        and every channel count divides into its GroupNorm groups.
        """
        for name, (lo, hi) in LIMITS.items():
            _check_int(name, getattr(self, name), lo, hi)
        if not isinstance(self.attention, bool):
            raise ValueError(f"model config attention must be true or false, got {self.attention!r}")
        if self.emb_dim % 2:
            raise ValueError(f"model config emb_dim must be even (sine and cosine halves), got {self.emb_dim}")
        mults = self.channel_mults
        if not isinstance(mults, tuple) or not 1 <= len(mults) <= MAX_LEVELS:
            raise ValueError(f"model config channel_mults must be a list of 1..{MAX_LEVELS} integers, "
                             f"got {mults!r}")
        for m in mults:
            _check_int("channel_mults entry", m, 1, MAX_CHANNEL_MULT)
        if self.image_size != IMAGE_SIZE or self.in_channels != IN_CHANNELS:
            raise ValueError(f"model config must describe {IN_CHANNELS}×{IMAGE_SIZE}×{IMAGE_SIZE} images, got "
                             f"in_channels {self.in_channels}, image_size {self.image_size}")
        if self.image_size % (2 ** (len(mults) - 1)):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2^(levels-1) = "
                             f"{2 ** (len(mults) - 1)}")
        if any((self.base_channels * m) % self.groups for m in mults):
            raise ValueError(f"every channel count (base_channels × channel_mults) must be divisible by "
                             f"groups = {self.groups}")
        d = self.dropout
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not (0.0 <= d < 1.0):
            raise ValueError(f"model config dropout must be a number in [0, 1), got {d!r}")
        r = self.log_snr_range
        if not isinstance(r, tuple) or len(r) != 2 \
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in r) \
                or not r[0] < r[1]:
            raise ValueError(f"model config log_snr_range must be two finite numbers lo < hi, got {r!r}")


# Inclusive bounds of the integer fields: far above any network this app trains (the bundled
# one is 32 wide), far below what would exhaust a machine's memory.
# Initial standard deviation of the class embedding (core.training.TrainConfig.label_init_std
# can start a run from another).
LABEL_INIT_STD = 0.02
LIMITS = {"base_channels": (1, 512), "num_res_blocks": (1, 8), "emb_dim": (2, 4096),
          "num_classes": (1, 1000), "groups": (1, 512), "image_size": (1, 1024), "in_channels": (1, 16)}
MAX_LEVELS = 3
MAX_CHANNEL_MULT = 16
IMAGE_SIZE = 28
IN_CHANNELS = 1


def _check_int(name: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"model config {name} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"model config {name} must be in {lo}..{hi}, got {value}")


def log_snr_embedding(log_snr: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of λ: [B] → [B, dim], frequencies geometric in [1/64, 4]."""
    half = dim // 2
    freqs = torch.exp(
        torch.linspace(math.log(1.0 / 64.0), math.log(4.0), half, device=log_snr.device)
    )
    args = log_snr.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, FiLM by the embedding (scale, shift), → conv, + skip."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return h + self.skip(x)


class Attention(nn.Module):
    """Single-head self-attention over the spatial positions (used at 7×7: 49 tokens)."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).unbind(1)
        a = F.scaled_dot_product_attention(
            q.transpose(1, 2)[:, None], k.transpose(1, 2)[:, None], v.transpose(1, 2)[:, None]
        )[:, 0]
        return x + self.out(a.transpose(1, 2).reshape(b, c, h, w))


class UNet(nn.Module):
    """ε_θ(x_t, λ, y): [B,1,28,28], λ [B], y [B] long or None → ε̂ [B,1,28,28]."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        cfg = config or ModelConfig()
        cfg.validate()
        self.config = cfg
        e = cfg.emb_dim
        self.noise_mlp = nn.Sequential(nn.Linear(e, e), nn.SiLU(), nn.Linear(e, e))
        # One row per class plus the null label (index num_classes), all learned.
        self.label_emb = nn.Embedding(cfg.num_classes + 1, e)
        nn.init.normal_(self.label_emb.weight, std=LABEL_INIT_STD)

        chans = [cfg.base_channels * m for m in cfg.channel_mults]
        self.stem = nn.Conv2d(cfg.in_channels, chans[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips = [chans[0]]
        c = chans[0]
        for level, ch in enumerate(chans):
            blocks = nn.ModuleList()
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResBlock(c, ch, e, cfg.groups, cfg.dropout))
                c = ch
                skips.append(c)
            self.down.append(blocks)
            if level < len(chans) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
        self.mid1 = ResBlock(c, c, e, cfg.groups, cfg.dropout)
        self.mid_attn = Attention(c, cfg.groups) if cfg.attention else nn.Identity()
        self.mid2 = ResBlock(c, c, e, cfg.groups, cfg.dropout)

        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level, ch in reversed(list(enumerate(chans))):
            blocks = nn.ModuleList()
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(ResBlock(c + skips.pop(), ch, e, cfg.groups, cfg.dropout))
                c = ch
            self.up.append(blocks)
            if level > 0:
                self.upsample.append(nn.Conv2d(c, c, 3, padding=1))
        self.out_norm = nn.GroupNorm(cfg.groups, c)
        self.out_conv = nn.Conv2d(c, cfg.in_channels, 3, padding=1)
        nn.init.zeros_(self.out_conv.weight)
        nn.init.zeros_(self.out_conv.bias)

    @property
    def null_label(self) -> int:
        return self.config.num_classes

    def forward(
        self, x: torch.Tensor, log_snr: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        b = x.shape[0]
        log_snr = torch.as_tensor(log_snr, device=x.device, dtype=torch.float32)
        if log_snr.ndim == 0:
            log_snr = log_snr.expand(b)
        lo, hi = self.config.log_snr_range
        emb = self.noise_mlp(log_snr_embedding(log_snr.clamp(lo, hi), self.config.emb_dim))
        if labels is None:
            labels = torch.full((b,), self.null_label, dtype=torch.long, device=x.device)
        emb = F.silu(emb + self.label_emb(labels.to(x.device).long()))

        h = self.stem(x)
        hs = [h]
        for level, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, emb)
                hs.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
                hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for level, blocks in enumerate(self.up):
            for block in blocks:
                h = block(torch.cat([h, hs.pop()], dim=1), emb)
            if level < len(self.upsample):
                h = self.upsample[level](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out_conv(F.silu(self.out_norm(h)))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
