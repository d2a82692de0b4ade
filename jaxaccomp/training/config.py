"""Training configuration: one flat frozen dataclass, named presets, YAML files and flag overrides.

Precedence (lowest first): the dataclass defaults, the preset/YAML file (`--config`), then command
line flags. On `--resume` the run's saved config is the base instead, and changing anything that
alters the training trajectory is refused (see `TRAJECTORY_KEYS`).
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import yaml

from jaxaccomp.config import NetConfig, UNetConfig, preset

DTYPES = ("float32", "bfloat16")
OPTIMIZERS = ("adam", "radam")
PRNG_IMPLS = ("threefry2x32", "rbg", "unsafe_rbg")
LOSS_CHANNELS = ("uniform", "groups")
CONFIG_DIR = resources.files("jaxaccomp") / "configs"  # inside the package, so an installed wheel has them


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    program: ClassVar[str] = "train"  # names the YAML section and configs/<program>_<preset>.yaml

    # model
    preset: str = "small"
    unet: dict = dataclasses.field(default_factory=dict)  # UNetConfig overrides over the preset
    dtype: str = "float32"
    # data
    train_cache: str | None = None
    val_cache: str | None = None
    data: str | None = None
    codec: str = "auto"
    codec_checkpoint: str | None = None
    window: int = 64
    min_rms: float | None = None
    num_workers: int = 0
    # optimisation (defaults = the reference: Adam 1e-4, (0.9, 0.99), no schedule, clipping or EMA)
    batch_size: int = 64
    accumulate: int = 1
    steps: int = 100_000
    optimizer: str = "adam"
    lr: float = 1e-4
    b1: float = 0.9
    b2: float = 0.99
    eps: float = 1e-8
    warmup_steps: int = 0
    cosine_steps: int = 0
    lr_end: float = 0.0
    grad_clip: float = 0.0
    ema_decay: float = 0.0
    mask_context: bool = True
    p_mean: float = -1.2  # EDM's log-normal training noise (the reference's); the embedded tier trains higher
    p_std: float = 1.2
    known_hide: float = 0.0
    known_noise: float = 0.0
    loss_channels: str = "uniform"
    known_rollout: float = 0.0
    context_drop: float = 0.0
    init_from: str | None = None
    seed: int = 0
    prng_impl: str = "threefry2x32"
    # bookkeeping
    out: str = "runs/train"
    log_every: int = 50
    val_every: int = 1000
    val_batches: int = 8
    ckpt_every: int = 1000
    keep: int = 3
    distributed: bool = False
    shard_params: bool = False

    def __post_init__(self) -> None:
        preset(self.preset)
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; choose one of {', '.join(DTYPES)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.prng_impl not in PRNG_IMPLS:
            raise ValueError(f"unknown PRNG implementation {self.prng_impl!r}; choose one of {', '.join(PRNG_IMPLS)}")
        for name in ("batch_size", "accumulate", "steps", "window", "log_every", "val_every", "ckpt_every", "keep"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "cosine_steps", "num_workers", "val_batches", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.batch_size % self.accumulate:
            raise ValueError(f"batch_size {self.batch_size} must be a multiple of accumulate {self.accumulate}")
        if self.grad_clip < 0 or self.lr <= 0:
            raise ValueError("grad_clip must be >= 0 and lr > 0")
        if not 0.0 <= self.known_hide <= 1.0 or self.known_noise < 0:
            raise ValueError("known_hide must be in [0, 1] and known_noise >= 0")
        if not 0.0 <= self.known_rollout <= 1.0:
            raise ValueError(f"known_rollout must be in [0, 1], got {self.known_rollout}")
        if not 0.0 <= self.context_drop < 1.0:
            raise ValueError(f"context_drop must be in [0, 1), got {self.context_drop}")
        if self.loss_channels not in LOSS_CHANNELS:
            raise ValueError(f"unknown loss_channels {self.loss_channels!r}; choose one of {', '.join(LOSS_CHANNELS)}")
        net = self.unet_config()
        if isinstance(net, UNetConfig):
            levels = 2 ** (len(net.channel_mult) - 1)
            if self.window % levels:
                raise ValueError(f"window {self.window} frames must be a multiple of {levels} "
                                 f"for the {len(net.channel_mult)}-level U-Net of preset {self.preset!r}")
        if net.img_resolution != 64:
            raise ValueError("unet.img_resolution must be 64: the codec's latent channels are the image height")

    def unet_config(self) -> NetConfig:
        """The preset's network config with the `unet` overrides applied."""
        base = preset(self.preset)
        fields = dataclasses.asdict(base)
        unknown = sorted(set(self.unet) - set(fields))
        if unknown:
            raise ValueError(f"unknown unet keys: {', '.join(unknown)}")
        return type(base)(**{**fields, **self.unet})


# Keys whose change would alter the sequence of parameters; a resumed run must keep them.
RESUME_FREE = {"steps", "out", "log_every", "val_every", "val_batches", "ckpt_every", "keep", "num_workers",
               "train_cache", "val_cache", "data", "codec_checkpoint", "distributed", "shard_params", "teacher"}


@dataclasses.dataclass(frozen=True)
class DistillConfig(TrainConfig):
    """distill.py: the TrainConfig keys (defaults = the reference's CD run: RAdam 1e-5, (0.9, 0.999),
    batch 32 x 4 accumulated) plus the teacher and the EMA target. The U-Net is the teacher's."""

    program: ClassVar[str] = "distill"

    batch_size: int = 32
    accumulate: int = 4
    optimizer: str = "radam"
    lr: float = 1e-5
    b2: float = 0.999
    out: str = "runs/distill"
    teacher: str | None = None
    target_decay: float = 0.999
    target_dropout: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.target_decay < 1.0:
            raise ValueError(f"target_decay must be in [0, 1), got {self.target_decay}")
        if self.known_rollout or self.loss_channels != "uniform" or self.context_drop:
            raise ValueError("known_rollout, loss_channels and context_drop are train.py's; distillation does not "
                             "use them")


def trajectory_keys(config: TrainConfig) -> tuple[str, ...]:
    """The keys whose change would alter the sequence of parameters; a resumed run must keep them."""
    return tuple(f.name for f in dataclasses.fields(config) if f.name not in RESUME_FREE)


TRAJECTORY_KEYS = trajectory_keys(TrainConfig())

# Help text for every key (the CLI's --help is generated from it).
HELP: dict[str, str] = {
    "preset": "network preset: SongUNet paper (257M params), small (2.6M), tiny (0.3M); frame transformer frames (5.1M), frames_tiny",
    "unet": "network config overrides over the preset (YAML mapping only, e.g. {dropout: 0.0})",
    "dtype": "compute dtype of the U-Net (parameters, gradients and Adam stay float32)",
    "train_cache": "latent cache of the training split (python -m jaxaccomp.data.latent_cache); built here from --data if absent",
    "val_cache": "latent cache of the held-out split for validation loss (built from --data's validation split if absent); none = no validation",
    "data": "Slakh2100-layout root (train/ validation/) used only to build missing caches with --codec",
    "codec": "codec of the latents: auto (whatever the cache holds), music2latent or embedded (a cache of another codec is an error)",
    "codec_checkpoint": "Music2Latent weights (music2latent.pt), only needed to build a cache",
    "window": "latent frames per training window (64 = 6 s, the paper); a multiple of the U-Net's downsampling",
    "min_rms": "redraw windows whose target or context RMS is below this (off by default, like the reference)",
    "num_workers": "grain worker processes for batches (0 = threads in this process)",
    "batch_size": "global batch size per optimiser step (split over all devices and processes)",
    "accumulate": "micro-batches per optimiser step: gradients of batch_size/accumulate rows at a time are averaged",
    "steps": "total optimiser steps (a resumed run continues up to this number)",
    "optimizer": "adam (the LDM reference) or radam (the CD reference)",
    "lr": "learning rate (peak rate when a schedule is on)",
    "b1": "Adam/RAdam beta1",
    "b2": "Adam/RAdam beta2",
    "eps": "Adam/RAdam epsilon",
    "warmup_steps": "linear warm-up steps from 0 to lr (0 = none, the reference)",
    "cosine_steps": "cosine decay to lr_end over this many steps after warm-up (0 = constant lr, the reference)",
    "lr_end": "final learning rate of the cosine decay",
    "grad_clip": "clip gradients to this global norm (0 = off, the reference)",
    "ema_decay": "keep an EMA of the parameters with this decay, warmed up as min(decay, (1+n)/(10+n)), and export it (0 = off, the reference)",
    "mask_context": "zero the last 0/16/32 (of 64) context columns per example, as the reference's masked model",
    "p_mean": "mean of log sigma for training noise (EDM: -1.2); higher trains more where the conditioning decides",
    "p_std": "standard deviation of log sigma for training noise (EDM: 1.2)",
    "known_hide": "a network that sees the known target: share of examples where it is withheld (it must follow the context)",
    "known_noise": "a network that sees the known target: perturb it by Gaussian noise of a scale uniform in [0, this]",
    "known_rollout": "a network that sees the known target: share of examples whose known target is a model's own free-running output (python -m jaxaccomp.data.rollouts on the training cache first)",
    "context_drop": "share of examples trained without the song (whole context zeroed), so that context guidance's unconditional branch is trained (0 = off, the reference)",
    "loss_channels": "uniform (every latent channel alike) or groups (each embedded-codec channel group, e.g. the block energies, an equal share of the DSM loss)",
    "init_from": "start from the parameters of this model export and keep its recommended sampling (fine-tuning; its network must be the config's)",
    "seed": "seed of initialisation, data order and training noise",
    "prng_impl": "JAX PRNG implementation (rbg is faster for dropout on CPU; streams differ)",
    "out": "run directory: config.yaml, metrics.csv, checkpoints/, model/ and best_model/",
    "log_every": "steps between CSV rows (training loss averaged over them)",
    "val_every": "steps between validation losses (and best-model updates)",
    "val_batches": "validation batches per evaluation (fixed windows, fixed noise, no dropout); 0 = all",
    "ckpt_every": "steps between full train-state checkpoints",
    "keep": "most recent checkpoints to keep (the best-by-validation one is kept separately)",
    "distributed": "call jax.distributed.initialize() first (multi-host; one process per host)",
    "shard_params": "shard parameters, optimiser state and EMA over the devices (ZeRO-style; for large presets)",
    "teacher": "the frozen EDM teacher: a train.py model/ export or a converted reference checkpoint",
    "target_decay": "EMA rate of the consistency target network per optimiser step (0.999, the reference)",
    "target_dropout": "run the EMA target with dropout, as the reference does by accident (off: a deterministic target)",
}
assert set(HELP) == {f.name for f in dataclasses.fields(DistillConfig)}


def to_data(config: TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def from_data(data: dict[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """`base` (TrainConfig defaults if None) with the keys of `data` replaced; unknown keys are an error."""
    base = base or TrainConfig()
    names = {f.name for f in dataclasses.fields(base)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown {base.program} config keys: {', '.join(unknown)}")
    return dataclasses.replace(base, **data)


def config_names() -> list[str]:
    """The named configs shipped in jaxaccomp/configs/ (train_<name>.yaml)."""
    return sorted(path.name.removeprefix("train_").removesuffix(".yaml") for path in CONFIG_DIR.iterdir()
                  if path.name.startswith("train_") and path.name.endswith(".yaml"))


def load(path_or_name: str, base: TrainConfig | None = None) -> TrainConfig:
    """A YAML file, or a preset name (`config_names()`) meaning configs/<program>_<name>.yaml."""
    base = base or TrainConfig()
    path = Path(path_or_name)
    named = CONFIG_DIR / f"{base.program}_{path_or_name}.yaml"
    if not path.is_file() and named.is_file():
        path = named
    if not path.is_file():
        raise FileNotFoundError(f"config {path_or_name!r} not found (a YAML file or one of {', '.join(config_names())})")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping of {base.program} config keys")
    return from_data(data.get(base.program, data), base)


def save(path: str | Path, config: TrainConfig, **extra: Any) -> None:
    """The resolved config (plus e.g. the resolved unet, diffusion and codec) as YAML."""
    from jaxaccomp.config import to_dict

    data = {config.program: to_data(config), "unet_resolved": to_dict(config.unet_config()), **extra}
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False))


def trajectory_changes(old: TrainConfig, new: TrainConfig) -> list[str]:
    return [k for k in trajectory_keys(new) if getattr(old, k) != getattr(new, k)]
