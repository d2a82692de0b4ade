"""train.py's program: the EDM denoiser trained with DSM and look-ahead context masking."""

from __future__ import annotations

import functools

import jax
import numpy as np
from jax.sharding import Mesh

from jaxaccomp.config import DiffusionConfig
from jaxaccomp.diffusion.loss import balanced_channel_weights, dsm_loss
from jaxaccomp.training import state as st
from jaxaccomp.training.config import TrainConfig
from jaxaccomp.training.state import State



def diffusion_config(cfg: TrainConfig) -> DiffusionConfig:
    """The parameterisation the model is trained (and exported) with: EDM with the run's noise distribution."""
    return DiffusionConfig(p_mean=cfg.p_mean, p_std=cfg.p_std)


def init_state(cfg: TrainConfig, params: dict | None = None) -> State:
    """Step 0 from `params`, or from random parameters (which also give every layout its shapes)."""
    return st.new_state(cfg, st.init_params(cfg.unet_config(), cfg.seed) if params is None else params)


def channel_weights(cfg: TrainConfig) -> np.ndarray | None:
    """The DSM loss's latent channel weights: None (uniform), or each embedded-codec group an equal share."""
    if cfg.loss_channels == "uniform":
        return None
    from jaxaccomp.codec.embedded import CHANNEL_GROUPS, EmbeddedCodec

    if cfg.codec not in ("embedded", EmbeddedCodec.name):
        raise ValueError(f"loss_channels groups needs the embedded codec's latents, not {cfg.codec}")
    return balanced_channel_weights(list(CHANNEL_GROUPS.values()), cfg.unet_config().img_resolution)


def make_train_step(cfg: TrainConfig, mesh: Mesh, donate: bool = True):
    """step(state, batch) -> (new state, {"loss"}); batch = {"target", "context": [B, 64, W], "label": [B, 4]}."""
    return _train_step(st.cache_key(cfg), mesh, donate, st.compile_options())


@functools.lru_cache(maxsize=8)  # one compilation per configuration and mesh within a process
def _train_step(key: tuple, mesh: Mesh, donate: bool, options: tuple):
    cfg = st.config_of(key)
    weights = channel_weights(cfg)

    def loss_fn(params, batch, rng):
        loss = dsm_loss(st.denoiser(params, cfg, diffusion=diffusion_config(cfg)), batch["target"], batch["context"],
                        batch["label"], rng, cfg.mask_context, cfg.known_hide, cfg.known_noise, weights,
                        batch.get("rollout"), cfg.known_rollout, cfg.context_drop)
        return loss, {}

    def step(state: State, batch: dict) -> tuple[State, dict]:
        metrics, grads = st.accumulated_gradients(loss_fn, state["params"], batch, st.step_key(state), cfg.accumulate)
        return st.apply_gradients(state, grads, cfg), metrics

    layout = st.state_layout(lambda: init_state(cfg), mesh, cfg.shard_params)
    return st.jit_train_step(step, layout, mesh, options, donate)


def make_eval_step(cfg: TrainConfig, mesh: Mesh):
    """loss(state, batch, key): the DSM loss of the exported parameters, context masked as trained, no dropout."""
    return _eval_step(st.cache_key(cfg), mesh, st.compile_options())


@functools.lru_cache(maxsize=8)
def _eval_step(key: tuple, mesh: Mesh, options: tuple):
    cfg = st.config_of(key)

    def loss(state: State, batch: dict, rng: jax.Array) -> jax.Array:
        denoiser = st.WithoutDropout(st.denoiser(st.exported_params(state), cfg, diffusion=diffusion_config(cfg)))
        return dsm_loss(denoiser, batch["target"], batch["context"], batch["label"], rng, cfg.mask_context)

    layout = st.state_layout(lambda: init_state(cfg), mesh, cfg.shard_params)
    return st.jit_eval_step(loss, layout, mesh, options)


class EDMProgram:
    """What train.py plugs into the shared loop."""

    name = "train.py"
    metrics = ("loss",)
    mode = "diffusion"

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.diffusion = diffusion_config(cfg)
        # Fine-tuning starts from an export, read here once (never inside a traced function).
        self.initial = st.load_params(cfg.init_from, cfg.unet_config()) if cfg.init_from else None

    @staticmethod
    def resolve(cfg: TrainConfig) -> TrainConfig:
        return cfg

    def init_state(self) -> State:
        return init_state(self.cfg, self.initial)

    def train_step(self, mesh: Mesh):
        return make_train_step(self.cfg, mesh)

    def eval_step(self, mesh: Mesh):
        return make_eval_step(self.cfg, mesh)
