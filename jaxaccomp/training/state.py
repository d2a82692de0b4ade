"""What every training program shares: the train-state pytree, optimisers, gradient accumulation, EMA
and how steps are compiled.

A state is a plain pytree: {"params", "opt_state", "step", "key"} (+ "ema" when EMA is on, + whatever
the program adds, e.g. distillation's "target"). Parameters are nnx pure dicts (nested dicts of
arrays), so checkpoints do not depend on class names; the networks have no state beyond their
parameters (dropout takes an explicit key), so a step is `jax.jit` over `nnx.merge(graphdef, params)`
with no RNG counters to thread through. The random draws of step s come from fold_in(key, s): the
same state and batch always give the same update, which makes resuming exact.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh

from jaxaccomp.config import DiffusionConfig, NetConfig
from jaxaccomp.nn.networks import abstract_network, build_network
from jaxaccomp.nn.precond import Denoiser, Mode
from jaxaccomp.training import config as train_config
from jaxaccomp.training.config import TrainConfig
from jaxaccomp.training.sharding import batch_sharded, replicated, state_shardings

State = dict[str, Any]
Metrics = dict[str, jax.Array]
# loss_fn(params, batch, key) -> (loss, {other metric: value})
LossFn = Callable[[dict, dict, jax.Array], tuple[jax.Array, Metrics]]

# XLA options for the compiled steps. Tests set {"xla_backend_optimization_level": 0}: a tiny
# train step then compiles in ~8 s instead of ~25 s on a 2-core CPU and runs about 2x slower.
COMPILER_OPTIONS: dict[str, Any] = {}


@functools.lru_cache(maxsize=16)
def graphdef_of(net: NetConfig, dtype: str) -> Any:
    return nnx.graphdef(abstract_network(net, jnp.dtype(dtype)))


def init_params(net: NetConfig, seed: int) -> dict:
    """Random parameters (pure dict, float32) of a fresh network."""
    return nnx.to_pure_dict(nnx.state(build_network(net, rngs=nnx.Rngs(seed)), nnx.Param))


def load_params(path: str, net: NetConfig) -> dict:
    """The float32 parameters (pure dict) of a model export, whose network must be `net`."""
    from jaxaccomp.nn.checkpoint import CheckpointError, load_denoiser

    model, _ = load_denoiser(path)
    if model.net.config != net:
        raise CheckpointError(f"{path} holds a {model.net.config} network, not the configured {net}")
    return nnx.to_pure_dict(nnx.state(model.net, nnx.Param))


def denoiser(params: dict, cfg: TrainConfig, mode: Mode = "diffusion", diffusion: DiffusionConfig = DiffusionConfig()) -> Denoiser:
    """The denoiser of `params` computing in the config's dtype (inside a traced step; parameters stay
    float32 and are cast by the layers)."""
    return Denoiser(nnx.merge(graphdef_of(cfg.unet_config(), cfg.dtype), params), diffusion, mode)


def learning_rate(cfg: TrainConfig) -> float | optax.Schedule:
    if not cfg.warmup_steps and not cfg.cosine_steps:
        return cfg.lr
    if not cfg.cosine_steps:
        return optax.linear_schedule(0.0, cfg.lr, cfg.warmup_steps)
    return optax.warmup_cosine_decay_schedule(0.0, cfg.lr, cfg.warmup_steps, cfg.warmup_steps + cfg.cosine_steps, cfg.lr_end)


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """Adam or RAdam (lr, b1, b2, eps); optional warm-up + cosine schedule and global-norm clipping."""
    make = {"adam": optax.adam, "radam": optax.radam}[cfg.optimizer]
    opt = make(learning_rate(cfg), b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
    return optax.chain(optax.clip_by_global_norm(cfg.grad_clip), opt) if cfg.grad_clip else opt


def new_state(cfg: TrainConfig, params: dict, **extra: Any) -> State:
    """Step 0: optimiser state for `params`, the PRNG key of the seed, EMA and the program's extras."""
    state = {
        "params": params,
        "opt_state": make_optimizer(cfg).init(params),
        "step": jnp.zeros((), jnp.int32),
        "key": jax.random.key_data(jax.random.key(cfg.seed)),
        **extra,
    }
    if cfg.ema_decay:
        state["ema"] = jax.tree.map(jnp.copy, params)
    return state


def exported_params(state: State) -> dict:
    """What a run exports as its model: the EMA when one is kept, else the trained parameters."""
    return state.get("ema", state["params"])


def step_key(state: State) -> jax.Array:
    return jax.random.fold_in(jax.random.wrap_key_data(state["key"]), state["step"])


def ema(average: dict, params: dict, decay: float) -> dict:
    return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, average, params)


def accumulated_gradients(loss_fn: LossFn, params: dict, batch: dict, key: jax.Array,
                          count: int) -> tuple[Metrics, dict]:
    """({"loss", ...} and gradients) averaged over `count` micro-batches, computed one after another so
    only one micro-batch's activations are alive. Micro-batch j takes rows j, j + count, ... (each
    device keeps its own rows) and the key fold_in(key, j); count 1 is the plain step."""
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def metrics_and_grads(micro: dict, micro_key: jax.Array) -> tuple[Metrics, dict]:
        (loss, metrics), grads = grad_fn(params, micro, micro_key)
        return {"loss": loss, **metrics}, grads

    if count == 1:
        return metrics_and_grads(batch, key)
    micro = jax.tree.map(lambda x: jnp.swapaxes(x.reshape(x.shape[0] // count, count, *x.shape[1:]), 0, 1), batch)

    def add(total, inputs):
        index, rows = inputs
        result = metrics_and_grads(rows, jax.random.fold_in(key, index))
        return jax.tree.map(jnp.add, total, result), None

    first = jax.tree.map(lambda x: x[0], micro)
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(metrics_and_grads, first, key))
    # XLA:CPU runs convolutions inside a loop body 5-25x slower than outside (measured on the tiny
    # step), so on CPU the loop is unrolled; elsewhere it stays rolled, which bounds memory to one micro-batch.
    total, _ = jax.lax.scan(add, zeros, (jnp.arange(count), micro), unroll=jax.default_backend() == "cpu")
    return jax.tree.map(lambda x: x / count, total)


def apply_gradients(state: State, grads: dict, cfg: TrainConfig) -> State:
    """One optimiser update of state["params"], the step counter and the EMA."""
    updates, opt_state = make_optimizer(cfg).update(grads, state["opt_state"], state["params"])
    params = optax.apply_updates(state["params"], updates)
    new = {**state, "params": params, "opt_state": opt_state, "step": state["step"] + 1}
    if cfg.ema_decay:
        new["ema"] = ema(state["ema"], params, ema_warmup(cfg.ema_decay, new["step"]))
    return new


def ema_warmup(decay: float, step: jax.Array) -> jax.Array:
    """min(decay, (1 + n) / (10 + n)): without it a 0.999 EMA after 1,000 steps is still 37 % initialisation."""
    return jnp.minimum(decay, (1.0 + step) / (10.0 + step))


def cache_key(cfg: TrainConfig) -> tuple[type, str]:
    """The settings a compiled step depends on, hashable (TrainConfig holds a dict): bookkeeping such
    as `steps` or `out` does not cost a recompilation."""
    data = train_config.to_data(cfg)
    keys = (*train_config.trajectory_keys(cfg), "shard_params")  # the layout is compiled in, not the trajectory
    return type(cfg), json.dumps({k: data[k] for k in keys}, sort_keys=True)


def config_of(key: tuple[type, str]) -> TrainConfig:
    cls, data = key
    return train_config.from_data(json.loads(data), cls())


def compile_options() -> tuple:
    return tuple(sorted(COMPILER_OPTIONS.items()))


def state_layout(init: Callable[..., State], mesh: Mesh, shard_params: bool, *args: Any) -> Any:
    """The shardings of the state `init(*args)` builds (replicated, or ZeRO-style sharded), without building it."""
    return state_shardings(jax.eval_shape(init, *args), mesh, shard_params)


def jit_train_step(step: Callable, layout: Any, mesh: Mesh, options: tuple, donate: bool = True,
                   constants: tuple = ()):
    """jit step(*constants, state, batch) -> (state, metrics): state laid out as `layout`, batch sharded
    over the data axis, metrics replicated. `constants` are the layouts of frozen inputs (a teacher)."""
    return jax.jit(step, in_shardings=(*constants, layout, batch_sharded(mesh)), out_shardings=(layout, replicated(mesh)),
                   donate_argnums=(len(constants),) if donate else (), compiler_options=dict(options) or None)


def jit_eval_step(loss: Callable, layout: Any, mesh: Mesh, options: tuple, constants: tuple = ()):
    """jit loss(*constants, state, batch, key) -> scalar."""
    repl = replicated(mesh)
    return jax.jit(loss, in_shardings=(*constants, layout, batch_sharded(mesh), repl), out_shardings=repl,
                   compiler_options=dict(options) or None)


class WithoutDropout:
    """A denoiser view that ignores the dropout key the losses pass: evaluation."""

    def __init__(self, denoiser: Denoiser) -> None:
        self.denoiser, self.diffusion = denoiser, denoiser.diffusion
        self.conditions_on_target = denoiser.conditions_on_target

    def __call__(self, x, sigma, context, labels, dropout_key=None):
        return self.denoiser(x, sigma, context, labels)


def export_denoiser(params: dict, unet: NetConfig, mode: Mode = "diffusion",
                    diffusion: DiffusionConfig = DiffusionConfig()) -> Denoiser:
    """A float32 Denoiser holding `params` (host copies), for `nn.checkpoint.save_denoiser`."""
    host = jax.tree.map(lambda x: jnp.asarray(jax.device_get(x)), params)
    return Denoiser(nnx.merge(graphdef_of(unet, "float32"), host), diffusion, mode)
