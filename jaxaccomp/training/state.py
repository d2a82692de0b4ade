"""Train state and the functional, jitted train and validation steps.

The state is a plain pytree: {"params", "opt_state", "step", "key"} (+ "ema" when EMA is on).
Parameters are nnx pure dicts (nested dicts of arrays), so checkpoints do not depend on class
names; the SongUNet has no state beyond its parameters (dropout takes an explicit key), so the
step is `jax.jit` over `nnx.merge(graphdef, params)` with no RNG counters to thread through.
The noise, sigma, context mask and dropout keys of step s come from fold_in(key, s): the same
state and batch always give the same update, which makes resuming exact.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh

from jaxaccomp.config import DiffusionConfig, UNetConfig
from jaxaccomp.diffusion.loss import dsm_loss
from jaxaccomp.nn.precond import Denoiser
from jaxaccomp.nn.songunet import SongUNet, abstract_unet
from jaxaccomp.training import config as train_config
from jaxaccomp.training.config import TrainConfig
from jaxaccomp.training.sharding import batch_sharded, replicated

State = dict[str, Any]

# XLA options for the compiled steps. Tests set {"xla_backend_optimization_level": 0}: a tiny
# train step then compiles in ~8 s instead of ~25 s on a 2-core CPU and runs about 2x slower.
COMPILER_OPTIONS: dict[str, Any] = {}


@functools.lru_cache(maxsize=16)
def graphdef_of(unet: UNetConfig, dtype: str) -> Any:
    return nnx.graphdef(abstract_unet(unet, jnp.dtype(dtype)))


def init_params(unet: UNetConfig, seed: int) -> dict:
    """Random parameters (pure dict, float32) of a fresh SongUNet."""
    return nnx.to_pure_dict(nnx.state(SongUNet(unet, rngs=nnx.Rngs(seed)), nnx.Param))


def learning_rate(cfg: TrainConfig) -> float | optax.Schedule:
    if not cfg.warmup_steps and not cfg.cosine_steps:
        return cfg.lr
    if not cfg.cosine_steps:
        return optax.linear_schedule(0.0, cfg.lr, cfg.warmup_steps)
    return optax.warmup_cosine_decay_schedule(0.0, cfg.lr, cfg.warmup_steps, cfg.warmup_steps + cfg.cosine_steps, cfg.lr_end)


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """Adam(lr, b1, b2, eps) as the reference; optional warm-up + cosine schedule and global-norm clipping."""
    adam = optax.adam(learning_rate(cfg), b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
    return optax.chain(optax.clip_by_global_norm(cfg.grad_clip), adam) if cfg.grad_clip else adam


def init_state(cfg: TrainConfig, params: dict | None = None) -> State:
    params = init_params(cfg.unet_config(), cfg.seed) if params is None else params
    state = {
        "params": params,
        "opt_state": make_optimizer(cfg).init(params),
        "step": jnp.zeros((), jnp.int32),
        "key": jax.random.key_data(jax.random.key(cfg.seed)),
    }
    if cfg.ema_decay:
        state["ema"] = jax.tree.map(jnp.copy, params)
    return state


def abstract_state(cfg: TrainConfig, mesh: Mesh) -> State:
    """Shapes, dtypes and (replicated) shardings of the state, for restoring a checkpoint into."""
    shapes = jax.eval_shape(lambda: init_state(cfg))
    sharding = replicated(mesh)
    return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), shapes)


class _NoDropout:
    """A denoiser view that ignores the dropout key (dsm_loss always passes one): evaluation."""

    def __init__(self, denoiser: Denoiser) -> None:
        self.denoiser, self.diffusion = denoiser, denoiser.diffusion

    def __call__(self, x, sigma, context, labels, dropout_key=None):
        return self.denoiser(x, sigma, context, labels)


def _step_key(state: State) -> jax.Array:
    return jax.random.fold_in(jax.random.wrap_key_data(state["key"]), state["step"])


def _hashable(cfg: TrainConfig) -> str:
    """The settings a compiled step depends on, as a cache key (TrainConfig holds a dict, so is not
    hashable): bookkeeping such as `steps` or `out` does not cost a recompilation."""
    data = train_config.to_data(cfg)
    return json.dumps({k: data[k] for k in train_config.TRAJECTORY_KEYS}, sort_keys=True)


def make_train_step(cfg: TrainConfig, mesh: Mesh, diffusion: DiffusionConfig = DiffusionConfig(),
                    donate: bool = True) -> Callable[[State, dict], tuple[State, jax.Array]]:
    """step(state, batch) -> (new state, loss); batch = {"target", "context": [B, 64, W], "label": [B, 4]}."""
    return _train_step(_hashable(cfg), mesh, diffusion, donate, tuple(sorted(COMPILER_OPTIONS.items())))


@functools.lru_cache(maxsize=8)  # one compilation per configuration and mesh within a process
def _train_step(cfg_json: str, mesh: Mesh, diffusion: DiffusionConfig, donate: bool, options: tuple = ()):
    cfg = train_config.from_data(json.loads(cfg_json))
    graphdef = graphdef_of(cfg.unet_config(), cfg.dtype)
    tx = make_optimizer(cfg)
    ema_decay, mask_context = cfg.ema_decay, cfg.mask_context

    def step(state: State, batch: dict) -> tuple[State, jax.Array]:
        key = _step_key(state)

        def loss_fn(params):
            denoiser = Denoiser(nnx.merge(graphdef, params), diffusion)
            return dsm_loss(denoiser, batch["target"], batch["context"], batch["label"], key, mask_context)

        loss, grads = jax.value_and_grad(loss_fn)(state["params"])
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        new = {**state, "params": params, "opt_state": opt_state, "step": state["step"] + 1}
        if ema_decay:
            new["ema"] = jax.tree.map(lambda e, p: ema_decay * e + (1.0 - ema_decay) * p, state["ema"], params)
        return new, loss

    repl, data = replicated(mesh), batch_sharded(mesh)
    return jax.jit(step, in_shardings=(repl, data), out_shardings=(repl, repl), donate_argnums=(0,) if donate else (),
                   compiler_options=dict(options) or None)


def make_eval_step(cfg: TrainConfig, mesh: Mesh, diffusion: DiffusionConfig = DiffusionConfig()):
    """loss(params, batch, key): the DSM loss with context masking as trained, no dropout, given noise."""
    return _eval_step(cfg.unet_config(), cfg.dtype, cfg.mask_context, mesh, diffusion, tuple(sorted(COMPILER_OPTIONS.items())))


@functools.lru_cache(maxsize=8)
def _eval_step(unet: UNetConfig, dtype: str, mask_context: bool, mesh: Mesh, diffusion: DiffusionConfig,
               options: tuple = ()):
    graphdef = graphdef_of(unet, dtype)

    def loss(params, batch, key):
        denoiser = _NoDropout(Denoiser(nnx.merge(graphdef, params), diffusion))
        return dsm_loss(denoiser, batch["target"], batch["context"], batch["label"], key, mask_context)

    repl, data = replicated(mesh), batch_sharded(mesh)
    return jax.jit(loss, in_shardings=(repl, data, repl), out_shardings=repl, compiler_options=dict(options) or None)


def export_denoiser(params: dict, unet: UNetConfig, diffusion: DiffusionConfig = DiffusionConfig()) -> Denoiser:
    """A float32 Denoiser holding `params` (host copies), for `training.checkpoint.save_denoiser`."""
    host = jax.tree.map(lambda x: jnp.asarray(jax.device_get(x)), params)
    return Denoiser(nnx.merge(graphdef_of(unet, "float32"), host), diffusion)
