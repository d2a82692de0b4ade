"""The training loop shared by train.py (EDM) and distill.py (consistency distillation): latent-cache
batches -> sharded jitted steps -> logs, validation, checkpoints, exports. A `Program` supplies the
state, the compiled steps and the parameterisation of the export.

A run directory holds:
  config.yaml          the resolved config (program keys, resolved U-Net, diffusion, codec)
  metrics.csv          step, epoch, loss (+ the program's loss terms), val_loss, lr, steps/s, examples/s, wall seconds
  tensorboard/         the same scalars as TensorBoard events
  checkpoints/last/    the newest full train states (orbax; `--resume` continues from the latest)
  checkpoints/best/    the full train state with the lowest validation loss
  model/ best_model/   exported denoisers (nn.checkpoint format: what serve/convert load)

Latents are used raw, as the codec gives them (Music2Latent's are already divided by 0.06; the
reference trains on them unnormalised with sigma_data = 1).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from jaxaccomp.config import DiffusionConfig
from jaxaccomp.data.pipeline import epoch_dataset, iterate, run_dataset
from jaxaccomp.provenance import checkpoint_hash, provenance
from jaxaccomp.training import config as train_config
from jaxaccomp.training.config import TrainConfig

if TYPE_CHECKING:
    import jax
    from jax.sharding import Mesh

State = dict[str, Any]

log = logging.getLogger("jaxaccomp.training")


def checkpoint_dir(out: str | Path) -> Path:
    return Path(out).absolute() / "checkpoints"


def saved_config(out: str | Path, base: TrainConfig | None = None) -> TrainConfig:
    """The resolved config stored with the latest checkpoint of the run in `out` (over `base`'s type)."""
    from jaxaccomp.training.manager import TrainCheckpoints

    directory = checkpoint_dir(out)
    if not (directory / "last").is_dir():
        raise FileNotFoundError(f"--resume: no checkpoints in {directory}")
    ckpts = TrainCheckpoints(directory)
    try:
        if ckpts.latest_step() is None:
            raise FileNotFoundError(f"--resume: no checkpoints in {directory}")
        return train_config.from_data(ckpts.read_meta()["config"], base or TrainConfig())
    finally:
        ckpts.close()


# ---------------------------------------------------------------------------------------------
# Data


def _open_cache(directory: str, split: str, cfg: TrainConfig, expected: str | None):
    from jaxaccomp.data.latent_cache import INDEX, LatentCache, build_cache

    path = Path(directory)
    if not (path / INDEX).is_file():
        if cfg.data is None:
            raise FileNotFoundError(
                f"no latent cache at {path}: build it with `python -m jaxaccomp.data.latent_cache --data ROOT "
                f"--split {split} --out {path} --codec {cfg.codec}`, or pass --data ROOT to build it here")
        from jaxaccomp.codec.factory import get_codec
        from jaxaccomp.data.slakh import load_split

        codec = get_codec(expected or cfg.codec, cfg.codec_checkpoint)
        log.warning("building the %s latent cache %s with codec %s", split, path, codec.name)
        build_cache(load_split(cfg.data, split), codec, path)
    return LatentCache(path, expected)


def open_data(cfg: TrainConfig):
    """(train cache, validation cache or None, codec name); every cache must hold the same codec's latents."""
    if cfg.train_cache is None:
        raise ValueError("no training data: pass --train-cache DIR (a latent cache), with --data ROOT to build it")
    from jaxaccomp.codec.factory import latent_space

    expected = latent_space(cfg.codec)
    train = _open_cache(cfg.train_cache, "train", cfg, expected)
    val = _open_cache(cfg.val_cache, "validation", cfg, train.codec) if cfg.val_cache else None
    return train, val, train.codec


def epoch_data(source, epoch: int, local_batch: int, seed: int):
    import jax

    return epoch_dataset(source, epoch=epoch, batch_size=local_batch, seed=seed,
                         shard_index=jax.process_index(), shard_count=jax.process_count())


# ---------------------------------------------------------------------------------------------
# Programs and exports


class Program(Protocol):
    """What a training program (train.py, distill.py) plugs into the shared loop."""

    name: str  # provenance of exports
    metrics: tuple[str, ...]  # per-step metrics the train step returns; "loss" first
    mode: str  # parameterisation of the exported denoiser
    diffusion: DiffusionConfig
    cfg: TrainConfig

    def init_state(self) -> State: ...

    def train_step(self, mesh: Mesh) -> Callable[[State, dict], tuple[State, dict]]: ...

    def eval_step(self, mesh: Mesh) -> Callable[[State, dict, jax.Array], jax.Array]: ...


def export_model(path: Path, program: Program, state: State, codec: str, source: str) -> None:
    """Replace the denoiser export at `path` (written beside it, then renamed). A fine-tune (--init-from)
    keeps the sampling its start model recommends (guidance, continuation): served like the model it came
    from, not silently unguided."""
    from jaxaccomp.nn.checkpoint import read_meta, save_denoiser
    from jaxaccomp.training.state import export_denoiser, exported_params

    partial, old = path.with_name(path.name + ".partial"), path.with_name(path.name + ".old")
    shutil.rmtree(partial, ignore_errors=True)
    model = export_denoiser(exported_params(state), program.cfg.unet_config(), program.mode, program.diffusion)
    start = program.cfg.init_from
    save_denoiser(partial, model, codec=codec, source=f"{program.name} {source}",
                  sampling=read_meta(start).get("sampling") if start else None)
    if path.exists():
        path.rename(old)
    partial.rename(path)
    shutil.rmtree(old, ignore_errors=True)


def _mean_metrics(pending: list[dict]) -> dict[str, float]:
    import jax

    values = jax.device_get(pending)
    return {name: float(np.mean([v[name] for v in values])) for name in values[0]} if values else {}


# ---------------------------------------------------------------------------------------------
# The loop


def train(cfg: TrainConfig, program_type: type | None = None, *, resume: bool = False, mesh=None,
          progress: bool | None = None) -> dict[str, Any]:
    """Run the program (default: EDM training) as `cfg` says; returns a summary (final step, losses,
    throughput, paths)."""
    import jax

    if cfg.distributed:
        from jaxaccomp.training.sharding import initialize_distributed

        initialize_distributed()
    jax.config.update("jax_default_prng_impl", cfg.prng_impl)
    from tqdm import tqdm

    from jaxaccomp.data.pipeline import LatentWindows
    from jaxaccomp.training import sharding
    from jaxaccomp.training.edm import EDMProgram
    from jaxaccomp.training.manager import TrainCheckpoints
    from jaxaccomp.training.metrics import FIELDS, RunLog
    from jaxaccomp.training.state import learning_rate, state_layout

    program_type = program_type or EDMProgram
    cfg = program_type.resolve(cfg)
    out = Path(cfg.out).absolute()
    lead = jax.process_index() == 0
    ckpts = TrainCheckpoints(checkpoint_dir(out), cfg.keep)
    latest = ckpts.latest_step()
    if resume and latest is None:
        raise FileNotFoundError(f"--resume: no checkpoints in {checkpoint_dir(out)}")
    if not resume and latest is not None:
        raise ValueError(f"{out} already holds checkpoints (up to step {latest}); pass --resume or choose a new --out")
    if resume:
        saved = train_config.from_data(ckpts.read_meta(latest)["config"], type(cfg)())
        changed = train_config.trajectory_changes(saved, cfg)
        if changed:
            raise ValueError(f"cannot resume {out} with a different {', '.join(changed)} "
                             f"(checkpoint: {', '.join(f'{k}={getattr(saved, k)!r}' for k in changed)})")

    train_cache, val_cache, codec = open_data(cfg)
    cfg = dataclasses.replace(cfg, codec=codec)  # record the resolved codec, never "auto"
    program = program_type(cfg)
    source = LatentWindows(train_cache, cfg.window, min_rms=cfg.min_rms, rollouts=cfg.known_rollout > 0)
    val_source = LatentWindows(val_cache, cfg.window, shift=False) if val_cache is not None else None

    mesh = sharding.make_mesh() if mesh is None else mesh
    local_batch = sharding.local_batch_size(cfg.batch_size, mesh)
    if lead:
        out.mkdir(parents=True, exist_ok=True)
        train_config.save(out / "config.yaml", cfg, codec=codec, devices=mesh.size, processes=jax.process_count(),
                          diffusion=dataclasses.asdict(program.diffusion), produced_by=provenance(),
                          models={name: checkpoint_hash(Path(path)) for name in ("init_from", "teacher")
                                  if (path := getattr(cfg, name, None))})
    log.info("%s: %s on %d device(s), codec %s, %d training windows", program.name, cfg.preset, mesh.size, codec, len(source))

    # State: fresh, or restored from the latest checkpoint.
    layout = state_layout(program.init_state, mesh, cfg.shard_params)
    if resume:
        abstract = jax.tree.map(lambda s, l: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=l),
                                jax.eval_shape(program.init_state), layout)
        state, meta = ckpts.restore(abstract, latest)
        epoch, batch_index, best_val = meta["epoch"], meta["batch_index"], meta["best_val_loss"]
    else:
        state = sharding.put_state(program.init_state(), layout)
        epoch, batch_index, best_val = 0, 0, None
    step = int(state["step"])
    train_step, eval_step = program.train_step(mesh), program.eval_step(mesh)
    lr = learning_rate(cfg)

    # Validation: fixed windows (no shift), fixed noise per batch, no dropout.
    val_batches: list = []
    if val_source is not None:
        val_data = epoch_data(val_source, 0, local_batch, cfg.seed)
        count = len(val_data) if cfg.val_batches == 0 else min(cfg.val_batches, len(val_data))
        if not count:
            raise ValueError(f"the validation cache {cfg.val_cache} holds fewer than {cfg.batch_size} windows of {cfg.window} frames")
        val_batches = [sharding.global_batch(val_data[i], mesh) for i in range(count)]
    val_key = jax.random.key(cfg.seed + 1)

    def validate(st) -> float | None:
        if not val_batches:
            return None
        losses = [eval_step(st, b, jax.random.fold_in(val_key, i)) for i, b in enumerate(val_batches)]
        return float(np.mean(jax.device_get(losses)))

    def meta() -> dict[str, Any]:
        return {"step": step, "epoch": epoch, "batch_index": batch_index, "best_val_loss": best_val, "codec": codec,
                "config": train_config.to_data(cfg)}

    fields = (*FIELDS[:2], *program.metrics, *FIELDS[3:])
    run_log = RunLog(out, fields, resume_step=step if resume else None, enabled=lead)
    bar = tqdm(total=cfg.steps, initial=step, unit="step", desc=program.name, dynamic_ncols=True,
               disable=(not lead) if progress is None else not progress)
    pending: list = []
    t_start = t_last = time.perf_counter()
    steps_last, first_step_s, last_metrics, last_val, rates = step, None, {}, None, []
    try:
        epoch_len = len(epoch_data(source, epoch, local_batch, cfg.seed))
        if not epoch_len:
            raise ValueError(f"the training cache {cfg.train_cache} holds fewer than {cfg.batch_size} windows "
                             f"of {cfg.window} frames (per process)")
        # One dataset from here to the last step: grain's workers start once, not once per epoch.
        remaining = max(cfg.steps - step, 0)
        run = run_dataset(source, first_epoch=epoch, epochs=-(-(batch_index + remaining) // epoch_len),
                          batch_size=local_batch, seed=cfg.seed)  # this process's shard
        batches = iterate(run[batch_index:batch_index + remaining], num_workers=cfg.num_workers)
        for local in batches:
            state, metrics = train_step(state, sharding.global_batch(local, mesh))
            step += 1
            batch_index += 1
            if batch_index == epoch_len:
                epoch, batch_index = epoch + 1, 0
            pending.append(metrics)
            if first_step_s is None:
                jax.block_until_ready(metrics)
                first_step_s = time.perf_counter() - t_start
                log.info("first step (including compilation): %.1f s", first_step_s)
                t_last, steps_last = time.perf_counter(), step
            bar.update()
            val_loss = None
            if step % cfg.val_every == 0 or step == cfg.steps:
                val_loss = validate(state)
                if val_loss is not None:
                    last_val = val_loss
                    if best_val is None or val_loss < best_val:
                        best_val = val_loss
                        ckpts.save(step, state, meta(), best=True)
                        if lead:
                            export_model(out / "best_model", program, state, codec, f"step {step} (best val_loss {val_loss:.6g})")
            if step % cfg.log_every == 0 or val_loss is not None or step == cfg.steps:
                last_metrics, pending = _mean_metrics(pending), []
                now = time.perf_counter()
                rate = (step - steps_last) / (now - t_last) if step > steps_last else None
                if rate:
                    rates.append(rate)
                t_last, steps_last = now, step
                run_log.write(step=step, epoch=epoch, **last_metrics, val_loss=val_loss,
                              lr=float(lr(step)) if callable(lr) else lr, steps_per_s=rate,
                              examples_per_s=rate * cfg.batch_size if rate else None, wall_s=now - t_start)
                bar.set_postfix(loss=f"{last_metrics['loss']:.4f}" if last_metrics else "-",
                                val=f"{last_val:.4f}" if last_val is not None else "-",
                                ex_s=f"{rate * cfg.batch_size:.1f}" if rate else "-")
            if step % cfg.ckpt_every == 0 or step == cfg.steps:
                ckpts.save(step, state, meta())
        del batches
        if ckpts.latest_step() != step:
            ckpts.save(step, state, meta())
    finally:
        bar.close()
        run_log.close()
        ckpts.close()
    if lead:
        export_model(out / "model", program, state, codec, f"step {step}")
    steady = float(np.median(rates)) if rates else None
    return {"step": step, "epoch": epoch, "batch_index": batch_index, "loss": last_metrics.get("loss"),
            "metrics": last_metrics, "val_loss": last_val, "best_val_loss": best_val, "codec": codec,
            "first_step_s": first_step_s, "steps_per_s": steady, "examples_per_s": steady * cfg.batch_size if steady else None,
            "out": str(out), "params": state["params"]}
