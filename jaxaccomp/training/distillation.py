"""distill.py's program: CTM consistency distillation of a frozen EDM teacher (`training_mode: cd`).

The student starts as a copy of the teacher, re-parameterised with consistency scalings; the EMA
target starts as the same copy and follows the student at `target_decay` per optimiser step. The
teacher is a frozen input of the compiled step, not part of the train state: checkpoints hold the
student, its optimiser and the target, and `--resume` reloads the teacher from its path. The
exported model is the online student, which is what the reference's CD server samples with.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from flax import nnx
from jax.sharding import Mesh

from jaxaccomp.codec.factory import latent_space
from jaxaccomp.config import DiffusionConfig, family_preset, from_dict
from jaxaccomp.diffusion.consistency import consistency_distillation_loss, draw
from jaxaccomp.training import state as st
from jaxaccomp.nn.checkpoint import CheckpointError, load_denoiser, read_meta
from jaxaccomp.training.config import DistillConfig
from jaxaccomp.training.sharding import put_state, state_shardings
from jaxaccomp.training.state import State


def resolve(cfg: DistillConfig) -> DistillConfig:
    """The config with the teacher's network (the student's architecture is the teacher's)."""
    if cfg.teacher is None:
        raise ValueError("distill.py needs --teacher DIR (a train.py model/ export or a converted reference checkpoint)")
    meta = read_meta(cfg.teacher)
    if meta["mode"] != "diffusion":
        raise CheckpointError(f"the teacher {cfg.teacher} is a {meta['mode']!r} model; distillation needs an EDM model")
    return dataclasses.replace(cfg, preset=family_preset(meta.get("network", "songunet")), unet=dict(meta["unet"]))


def load_teacher(cfg: DistillConfig) -> tuple[dict, DiffusionConfig]:
    """The teacher's float32 parameters (pure dict) and parameterisation; its codec must be the data's."""
    teacher, meta = load_denoiser(cfg.teacher, expected_codec=latent_space(cfg.codec))
    return nnx.to_pure_dict(nnx.state(teacher.net, nnx.Param)), from_dict(DiffusionConfig, meta["diffusion"])


def init_state(cfg: DistillConfig, start: dict) -> State:
    """Student and EMA target both start as copies of `start`: the teacher, or the --init-from model."""
    copy = functools.partial(jax.tree.map, jnp.copy)
    return st.new_state(cfg, copy(start), target=copy(start))


def _loss(cfg: DistillConfig, diffusion: DiffusionConfig, teacher: dict, student: dict, target: dict, batch: dict,
          key: jax.Array, dropout: bool) -> tuple[jax.Array, dict]:
    known_target = cfg.unet_config().in_channels == 4
    draws = draw(key, batch["target"].shape, cfg.mask_context, known_target, cfg.p_mean, cfg.p_std,
                 cfg.known_hide, cfg.known_noise)
    student_fn = st.denoiser(student, cfg, "consistency", diffusion)
    return consistency_distillation_loss(
        student_fn if dropout else st.WithoutDropout(student_fn),
        st.denoiser(target, cfg, "consistency", diffusion),
        st.WithoutDropout(st.denoiser(teacher, cfg, "diffusion", diffusion)),
        batch["target"], batch["context"], batch["label"], draws,
        target_dropout=dropout and cfg.target_dropout, sigma_data=diffusion.sigma_data, known_target=known_target)


@functools.lru_cache(maxsize=8)
def _train_step(key: tuple, diffusion: DiffusionConfig, mesh: Mesh, options: tuple):
    cfg = st.config_of(key)

    def step(teacher: dict, state: State, batch: dict) -> tuple[State, dict]:
        def loss_fn(params, rows, rng):
            return _loss(cfg, diffusion, teacher, params, state["target"], rows, rng, dropout=True)

        metrics, grads = st.accumulated_gradients(loss_fn, state["params"], batch, st.step_key(state), cfg.accumulate)
        new = st.apply_gradients(state, grads, cfg)
        new["target"] = st.ema(state["target"], new["params"], cfg.target_decay)
        return new, metrics

    layout, teacher_layout = _layouts(cfg, mesh)
    return st.jit_train_step(step, layout, mesh, options, constants=(teacher_layout,))


@functools.lru_cache(maxsize=8)
def _eval_step(key: tuple, diffusion: DiffusionConfig, mesh: Mesh, options: tuple):
    cfg = st.config_of(key)

    def loss(teacher: dict, state: State, batch: dict, rng: jax.Array) -> jax.Array:
        return _loss(cfg, diffusion, teacher, st.exported_params(state), state["target"], batch, rng, dropout=False)[0]

    layout, teacher_layout = _layouts(cfg, mesh)
    return st.jit_eval_step(loss, layout, mesh, options, constants=(teacher_layout,))


def _layouts(cfg: DistillConfig, mesh: Mesh):
    params = jax.eval_shape(lambda: st.init_params(cfg.unet_config(), 0))
    return (st.state_layout(functools.partial(init_state, cfg), mesh, cfg.shard_params, params),
            state_shardings(params, mesh, cfg.shard_params))


class DistillProgram:
    """What distill.py plugs into the shared loop."""

    name = "distill.py"
    metrics = ("loss", "consistency", "dsm")
    mode = "consistency"
    resolve = staticmethod(resolve)

    def __init__(self, cfg: DistillConfig) -> None:
        self.cfg = cfg
        self.teacher, self.diffusion = load_teacher(cfg)
        # Fine-tuning a student (e.g. towards a longer-trained teacher) starts from its export, read here once.
        self.initial = st.load_params(cfg.init_from, cfg.unet_config()) if cfg.init_from else self.teacher
        self._placed: dict[Mesh, dict] = {}

    def init_state(self) -> State:
        return init_state(self.cfg, self.initial)

    def _on(self, mesh: Mesh) -> dict:
        """The teacher's parameters on the mesh's devices (placed once per mesh)."""
        if mesh not in self._placed:
            self._placed[mesh] = put_state(self.teacher, _layouts(self.cfg, mesh)[1])
        return self._placed[mesh]

    def train_step(self, mesh: Mesh):
        compiled, teacher = _train_step(st.cache_key(self.cfg), self.diffusion, mesh, st.compile_options()), self._on(mesh)
        return lambda state, batch: compiled(teacher, state, batch)

    def eval_step(self, mesh: Mesh):
        compiled, teacher = _eval_step(st.cache_key(self.cfg), self.diffusion, mesh, st.compile_options()), self._on(mesh)
        return lambda state, batch, key: compiled(teacher, state, batch, key)
