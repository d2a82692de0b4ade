"""Our model checkpoint: orbax parameters plus a JSON record of config, codec and provenance.

A checkpoint always says which codec its latents came from; loading it for another codec is an
error, because a model trained on one latent space produces noise in another. It also names its
network family ("songunet" when absent: the checkpoints written before the frame transformer), and
its config must be one of that family's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from flax import nnx

from jaxaccomp.config import DiffusionConfig, UNetConfig, from_dict, network_config, to_dict
from jaxaccomp.nn.networks import abstract_network
from jaxaccomp.nn.precond import Denoiser

FORMAT = "jaxaccomp-unet-1"
META_FILE = "meta.json"
PARAMS_DIR = "params"


class CheckpointError(ValueError):
    """A checkpoint that is missing, malformed or made for another codec."""


def save_denoiser(path: str | Path, denoiser: Denoiser, *, codec: str, source: str | None = None,
                  sampling: dict[str, Any] | None = None) -> Path:
    """Write the denoiser's network and parameterisation (and the sampling it recommends, if any) to a new
    directory `path`."""
    path = Path(path).absolute()
    if path.exists():
        raise CheckpointError(f"{path} already exists; choose a new output directory")
    params = nnx.to_pure_dict(nnx.state(denoiser.net, nnx.Param))
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(path / PARAMS_DIR, params)
    checkpointer.wait_until_finished()
    meta = {
        "format": FORMAT,
        "codec": codec,
        "mode": denoiser.mode,
        "network": denoiser.net.config.network,
        "unet": to_dict(denoiser.net.config),  # the network's config (any family; named for compatibility)
        "diffusion": to_dict(denoiser.diffusion),
        "source": source,
    }
    if sampling:
        meta["sampling"] = sampling
    write_meta(path, meta)
    return path


def write_meta(path: str | Path, meta: dict[str, Any]) -> None:
    """Write a checkpoint's metadata beside the old file, then rename it over it: a failure leaves the
    old file whole."""
    meta_path = Path(path) / META_FILE
    partial = meta_path.with_name(f".{META_FILE}.partial")
    partial.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(partial, meta_path)


def read_meta(path: str | Path) -> dict[str, Any]:
    meta_path = Path(path) / META_FILE
    if not meta_path.is_file():
        raise CheckpointError(f"{path} is not a jaxaccomp checkpoint (no {META_FILE})")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} has checkpoint format {meta.get('format')!r}, expected {FORMAT!r}")
    return meta


def load_denoiser(
    path: str | Path, *, expected_codec: str | None = None, dtype: jnp.dtype = jnp.float32
) -> tuple[Denoiser, dict[str, Any]]:
    """The denoiser stored at `path` and the checkpoint's metadata."""
    path = Path(path).absolute()
    meta = read_meta(path)
    if expected_codec is not None and meta["codec"] != expected_codec:
        raise CheckpointError(
            f"{path} was trained on codec {meta['codec']!r} but codec {expected_codec!r} is configured"
        )
    try:
        config = network_config(meta.get("network", UNetConfig.network), meta["unet"])
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    graphdef, abstract_params = nnx.split(abstract_network(config, dtype), nnx.Param)
    # Placed on this process's default device: a checkpoint saved on another machine's devices (a GPU
    # export loaded on a CPU) is otherwise refused by orbax as a topology mismatch.
    here = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    target = jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=here),
                          nnx.to_pure_dict(abstract_params))
    params = ocp.StandardCheckpointer().restore(path / PARAMS_DIR, target)
    nnx.replace_by_pure_dict(abstract_params, params)
    net = nnx.merge(graphdef, abstract_params)
    return Denoiser(net, from_dict(DiffusionConfig, meta["diffusion"]), meta["mode"]), meta
