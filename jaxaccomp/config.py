"""Frozen model configurations, the named presets, and their plain-data form (`to_dict` / `from_dict`).

Every run writes its resolved config next to its outputs and every checkpoint carries one, so a
config must round-trip through plain YAML/JSON data exactly.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar


@dataclasses.dataclass(frozen=True)
class UNetConfig:
    """Hyper-parameters of the DDPM++ SongUNet (names follow EDM / physicsnemo)."""

    network: ClassVar[str] = "songunet"  # the family name checkpoints record
    img_resolution: int = 64  # side of the square latent image: 64 codec channels x 64 frames
    in_channels: int = 2  # input planes: the noisy target and the (masked) context latent
    out_channels: int = 1  # the denoised target
    label_dim: int = 4  # one-hot stem label (bass, drums, guitar, piano) as class conditioning
    model_channels: int = 256  # channels at the first level; the others are multiples of it
    channel_mult: tuple[int, ...] = (1, 2, 2, 2)  # per-level channel multipliers; each level below halves the image
    channel_mult_emb: int = 4  # width of the noise + label embedding, in multiples of model_channels
    channel_mult_noise: int = 1  # width of the positional noise-level encoding, in multiples of model_channels
    num_blocks: int = 4  # residual blocks per level
    attn_resolutions: tuple[int, ...] = (32, 16, 8)  # image sides at which blocks add self-attention
    dropout: float = 0.1  # dropout probability inside residual blocks while training

    def __post_init__(self) -> None:
        # YAML gives lists; keep tuples so configs stay hashable (jit static arguments).
        object.__setattr__(self, "channel_mult", tuple(self.channel_mult))
        object.__setattr__(self, "attn_resolutions", tuple(self.attn_resolutions))
        downsample = 2 ** (len(self.channel_mult) - 1)
        if self.img_resolution % downsample:
            raise ValueError(
                f"img_resolution {self.img_resolution} must be a multiple of {downsample} "
                f"for {len(self.channel_mult)} levels"
            )


@dataclasses.dataclass(frozen=True)
class FrameTransformerConfig:
    """Hyper-parameters of the frame transformer (`nn/frames.py`), the embedded tier's network.

    The shared names (img_resolution, in_channels, out_channels, label_dim, model_channels,
    num_blocks, dropout) mean what they mean for the SongUNet, so the denoiser and samplers serve both.
    """

    network: ClassVar[str] = "frames"
    img_resolution: int = 64  # latent channels per frame (the codec's); any number of frames works
    in_channels: int = 4  # values per latent cell: noisy target, context, known target, known-column mask
    out_channels: int = 1  # the denoised target
    label_dim: int = 4  # one-hot stem labels
    model_channels: int = 256  # token width
    num_blocks: int = 4  # transformer blocks
    num_heads: int = 4  # attention heads per block
    mlp_ratio: int = 4  # MLP hidden width / token width
    dropout: float = 0.1  # on attention outputs and MLP hidden units while training

    def __post_init__(self) -> None:
        if self.model_channels % self.num_heads:
            raise ValueError(f"model_channels {self.model_channels} must be a multiple of num_heads {self.num_heads}")


NetConfig = UNetConfig | FrameTransformerConfig
NETWORKS: dict[str, type] = {cls.network: cls for cls in (UNetConfig, FrameTransformerConfig)}


@dataclasses.dataclass(frozen=True)
class DiffusionConfig:
    """EDM preconditioning, training noise distribution and the consistency-model floor."""

    sigma_data: float = 1.0  # the expected spread of clean latents, EDM's sigma_data
    sigma_min: float = 1e-4  # consistency parameterisation: identity at sigma_min
    p_mean: float = -1.2  # log-normal training sigma distribution
    p_std: float = 1.2


PRESETS: dict[str, NetConfig] = {
    # The reference system's network: 257,523,969 parameters.
    "paper": UNetConfig(),
    # The paper layout (4 levels, attention at 32/16/8) at CPU scale: benchmarks and embedded models.
    "small": UNetConfig(model_channels=32, num_blocks=2),
    # Fastest config that still exercises every block type: down/up, skip convs, attention, 3 levels.
    "tiny": UNetConfig(model_channels=16, channel_mult=(1, 2, 2), num_blocks=1, attn_resolutions=(32, 16)),
    # The embedded tier's network: 5.1 M parameters, conditioned on the known target columns.
    "frames": FrameTransformerConfig(),
    # The same family at test scale.
    "frames_tiny": FrameTransformerConfig(model_channels=32, num_blocks=2, num_heads=2, mlp_ratio=2),
}


def preset(name: str) -> NetConfig:
    """The named preset, or a one-line error listing the valid names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


def family_preset(network: str) -> str:
    """The first preset of a network family: what a run names when its network comes from a checkpoint."""
    return next(name for name, config in PRESETS.items() if config.network == network)


def network_config(network: str, data: dict[str, Any]) -> NetConfig:
    """The config of a named network family from plain data, or a one-line error."""
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; choose one of {', '.join(NETWORKS)}")
    return from_dict(NETWORKS[network], data)


def to_dict(config: Any) -> dict[str, Any]:
    """Plain data (lists, not tuples) for YAML/JSON."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build `cls` from plain data; unknown keys are an error, not silently dropped."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {', '.join(unknown)}")
    return cls(**data)
