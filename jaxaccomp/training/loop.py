"""The EDM training loop: latent-cache batches -> sharded jitted steps -> CSV log, validation, checkpoints, exports.

A run directory holds:
  config.yaml          the resolved config (train keys, resolved U-Net, diffusion, codec)
  metrics.csv          step, epoch, loss, val_loss, lr, steps/s, examples/s, wall seconds
  checkpoints/last/    the newest full train states (orbax; `--resume` continues from the latest)
  checkpoints/best/    the full train state with the lowest validation loss
  model/ best_model/   exported denoisers (training.checkpoint format: what serve/convert load)

Latents are used raw, as the codec gives them (Music2Latent's are already divided by 0.06; the
reference trains on them unnormalised with sigma_data = 1).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from jaxaccomp.data.pipeline import epoch_dataset, iterate
from jaxaccomp.training import config as train_config
from jaxaccomp.training.config import TrainConfig

log = logging.getLogger("jaxaccomp.training")


def checkpoint_dir(out: str | Path) -> Path:
    return Path(out).absolute() / "checkpoints"


def saved_config(out: str | Path) -> TrainConfig:
    """The resolved config stored with the latest checkpoint of the run in `out`."""
    from jaxaccomp.training.manager import TrainCheckpoints

    directory = checkpoint_dir(out)
    if not (directory / "last").is_dir():
        raise FileNotFoundError(f"--resume: no checkpoints in {directory}")
    ckpts = TrainCheckpoints(directory)
    try:
        if ckpts.latest_step() is None:
            raise FileNotFoundError(f"--resume: no checkpoints in {directory}")
        return train_config.from_data(ckpts.read_meta()["config"])
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
    expected = None if cfg.codec == "auto" else cfg.codec
    train = _open_cache(cfg.train_cache, "train", cfg, expected)
    val = _open_cache(cfg.val_cache, "validation", cfg, train.codec) if cfg.val_cache else None
    return train, val, train.codec


def _epoch(source, cfg: TrainConfig, epoch: int, local_batch: int, seed: int):
    import jax

    return epoch_dataset(source, epoch=epoch, batch_size=local_batch, seed=seed,
                         shard_index=jax.process_index(), shard_count=jax.process_count())


# ---------------------------------------------------------------------------------------------
# Exports


def _export(path: Path, params: Any, cfg: TrainConfig, codec: str, source: str) -> None:
    """Replace the denoiser export at `path` (written beside it, then renamed)."""
    from jaxaccomp.training.checkpoint import save_denoiser
    from jaxaccomp.training.state import export_denoiser

    partial, old = path.with_name(path.name + ".partial"), path.with_name(path.name + ".old")
    shutil.rmtree(partial, ignore_errors=True)
    save_denoiser(partial, export_denoiser(params, cfg.unet_config()), codec=codec, source=source)
    if path.exists():
        path.rename(old)
    partial.rename(path)
    shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The loop


def train(cfg: TrainConfig, *, resume: bool = False, mesh=None, progress: bool | None = None) -> dict[str, Any]:
    """Train as `cfg` says; returns a summary (final step, losses, throughput, paths)."""
    import jax

    if cfg.distributed:
        from jaxaccomp.training.sharding import initialize_distributed

        initialize_distributed()
    jax.config.update("jax_default_prng_impl", cfg.prng_impl)
    import jax.numpy as jnp
    from tqdm import tqdm

    from jaxaccomp.data.pipeline import LatentWindows
    from jaxaccomp.training import sharding, state as train_state
    from jaxaccomp.training.manager import TrainCheckpoints
    from jaxaccomp.training.metrics import CSVLog

    out = Path(cfg.out).absolute()
    lead = jax.process_index() == 0
    ckpts = TrainCheckpoints(checkpoint_dir(out), cfg.keep)
    latest = ckpts.latest_step()
    if resume and latest is None:
        raise FileNotFoundError(f"--resume: no checkpoints in {checkpoint_dir(out)}")
    if not resume and latest is not None:
        raise ValueError(f"{out} already holds checkpoints (up to step {latest}); pass --resume or choose a new --out")
    if resume:
        saved = train_config.from_data(ckpts.read_meta(latest)["config"])
        changed = train_config.trajectory_changes(saved, cfg)
        if changed:
            raise ValueError(f"cannot resume {out} with a different {', '.join(changed)} "
                             f"(checkpoint: {', '.join(f'{k}={getattr(saved, k)!r}' for k in changed)})")

    train_cache, val_cache, codec = open_data(cfg)
    cfg = dataclasses.replace(cfg, codec=codec)  # record the resolved codec, never "auto"
    source = LatentWindows(train_cache, cfg.window, min_rms=cfg.min_rms)
    val_source = LatentWindows(val_cache, cfg.window, shift=False) if val_cache is not None else None

    mesh = sharding.make_mesh() if mesh is None else mesh
    local_batch = sharding.local_batch_size(cfg.batch_size, mesh)
    if lead:
        out.mkdir(parents=True, exist_ok=True)
        train_config.save(out / "config.yaml", cfg, codec=codec, devices=mesh.size, processes=jax.process_count(),
                          diffusion=dataclasses.asdict(train_state.DiffusionConfig()))
    log.info("training %s on %d device(s), codec %s, %d training windows", cfg.preset, mesh.size, codec, len(source))

    # State: fresh, or restored from the latest checkpoint.
    if resume:
        state, meta = ckpts.restore(train_state.abstract_state(cfg, mesh), latest)
        epoch, batch_index, best_val = meta["epoch"], meta["batch_index"], meta["best_val_loss"]
    else:
        state = sharding.put_replicated(train_state.init_state(cfg), mesh)
        epoch, batch_index, best_val = 0, 0, None
    step = int(state["step"])
    train_step = train_state.make_train_step(cfg, mesh)
    eval_step = train_state.make_eval_step(cfg, mesh)
    lr = train_state.learning_rate(cfg)

    # Validation: fixed windows (no shift), fixed noise per batch, no dropout.
    val_batches: list = []
    if val_source is not None:
        val_data = _epoch(val_source, cfg, 0, local_batch, cfg.seed)
        count = len(val_data) if cfg.val_batches == 0 else min(cfg.val_batches, len(val_data))
        if not count:
            raise ValueError(f"the validation cache {cfg.val_cache} holds fewer than {cfg.batch_size} windows of {cfg.window} frames")
        val_batches = [sharding.global_batch(val_data[i], mesh) for i in range(count)]
    val_key = jax.random.key(cfg.seed + 1)

    def validate(params) -> float | None:
        if not val_batches:
            return None
        losses = [eval_step(params, b, jax.random.fold_in(val_key, i)) for i, b in enumerate(val_batches)]
        return float(np.mean(jax.device_get(losses)))

    def exported(st):
        return st["ema"] if cfg.ema_decay else st["params"]

    def meta() -> dict[str, Any]:
        return {"step": step, "epoch": epoch, "batch_index": batch_index, "best_val_loss": best_val, "codec": codec,
                "config": train_config.to_data(cfg)}

    csv_log = CSVLog(out / "metrics.csv", resume_step=step if resume else None, enabled=lead)
    bar = tqdm(total=cfg.steps, initial=step, unit="step", desc="training", disable=(not lead) if progress is None else not progress,
               dynamic_ncols=True)
    pending: list = []
    t_start = t_last = time.perf_counter()
    steps_last, first_step_s, last_loss, last_val, rates = step, None, None, None, []
    try:
        while step < cfg.steps:
            dataset = _epoch(source, cfg, epoch, local_batch, cfg.seed)
            if not len(dataset):
                raise ValueError(f"the training cache {cfg.train_cache} holds fewer than {cfg.batch_size} windows "
                                 f"of {cfg.window} frames (per process)")
            epoch_len = len(dataset)
            batches = iterate(dataset, start=batch_index, num_workers=cfg.num_workers)
            for local in batches:
                state, loss = train_step(state, sharding.global_batch(local, mesh))
                step += 1
                batch_index += 1
                if batch_index == epoch_len:
                    epoch, batch_index = epoch + 1, 0
                pending.append(loss)
                if first_step_s is None:
                    jax.block_until_ready(loss)
                    first_step_s = time.perf_counter() - t_start
                    log.info("first step (including compilation): %.1f s", first_step_s)
                    t_last, steps_last = time.perf_counter(), step
                bar.update()
                val_loss = None
                if step % cfg.val_every == 0 or step == cfg.steps:
                    val_loss = validate(exported(state))
                    if val_loss is not None:
                        last_val = val_loss
                        if best_val is None or val_loss < best_val:
                            best_val = val_loss
                            ckpts.save(step, state, meta(), best=True)
                            if lead:
                                _export(out / "best_model", exported(state), cfg, codec, f"train.py step {step} (best val_loss {val_loss:.6g})")
                if step % cfg.log_every == 0 or val_loss is not None or step == cfg.steps:
                    last_loss = float(np.mean(jax.device_get(pending))) if pending else None
                    pending = []
                    now = time.perf_counter()
                    rate = (step - steps_last) / (now - t_last) if step > steps_last else None
                    if rate:
                        rates.append(rate)
                    t_last, steps_last = now, step
                    csv_log.write(step=step, epoch=epoch, loss=last_loss, val_loss=val_loss,
                                  lr=float(lr(step)) if callable(lr) else lr, steps_per_s=rate,
                                  examples_per_s=rate * cfg.batch_size if rate else None, wall_s=now - t_start)
                    bar.set_postfix(loss=f"{last_loss:.4f}" if last_loss is not None else "-",
                                    val=f"{last_val:.4f}" if last_val is not None else "-")
                if step % cfg.ckpt_every == 0 or step == cfg.steps:
                    ckpts.save(step, state, meta())
                if step >= cfg.steps:
                    break
            del batches
        if ckpts.latest_step() != step:
            ckpts.save(step, state, meta())
    finally:
        bar.close()
        ckpts.close()
    if lead:
        _export(out / "model", exported(state), cfg, codec, f"train.py step {step}")
    steady = float(np.median(rates)) if rates else None
    return {"step": step, "epoch": epoch, "batch_index": batch_index, "loss": last_loss, "val_loss": last_val,
            "best_val_loss": best_val, "codec": codec, "first_step_s": first_step_s,
            "steps_per_s": steady, "examples_per_s": steady * cfg.batch_size if steady else None,
            "out": str(out), "params": state["params"]}
