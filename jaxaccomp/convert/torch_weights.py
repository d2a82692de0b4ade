"""SongUNet weights between torch state_dicts (physicsnemo / EDM names, OIHW) and Flax (NHWC, HWIO).

Mapping is by name: every Flax parameter path has exactly one torch key. Buffers that torch keeps
in its state_dict (positional-embedding freqs, resample filters) carry no learned values and are
skipped; any other key without a Flax counterpart is an error, as is a missing or mis-shaped one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxaccomp.config import UNetConfig
from jaxaccomp.nn.songunet import SongUNet, abstract_unet

TorchStyle = Literal["physicsnemo", "edm"]

_LEAF_TO_TORCH = {"kernel": "weight", "scale": "weight", "bias": "bias"}
_BUFFER = re.compile(r"(^|\.)(resample_filter|freqs|device_buffer)$")
# NVlabs/edm and the reference keep attention layers on the block (norm2/qkv/proj);
# physicsnemo nests them under `attn` (norm/qkv/proj).
_EDM_ATTN = re.compile(r"^(.*)\.(norm2|qkv|proj)\.(weight|bias)$")
_NEMO_ATTN = re.compile(r"^(.*)\.attn\.(norm|qkv|proj)\.(weight|bias)$")


class WeightMismatchError(ValueError):
    """A state_dict that does not fit the configured SongUNet (names every offending key)."""


def _torch_key(path: tuple[Any, ...], torch_names: Mapping[str, str]) -> str:
    """('enc', 3, 'attn', 'qkv', 'kernel') -> 'enc.32x32_block0.attn.qkv.weight'."""
    split = 2 if path[0] in ("enc", "dec") else 1
    module = ".".join(str(p) for p in path[:split])
    inner = [str(p) for p in path[split:-1]]
    return ".".join([torch_names.get(module, module), *inner, _LEAF_TO_TORCH[path[-1]]])


def _to_torch_layout(value: np.ndarray) -> np.ndarray:
    if value.ndim == 4:  # conv HWIO -> OIHW
        return value.transpose(3, 2, 0, 1)
    if value.ndim == 2:  # linear (in, out) -> (out, in)
        return value.T
    return value


def _from_torch_layout(value: np.ndarray) -> np.ndarray:
    if value.ndim == 4:
        return value.transpose(2, 3, 1, 0)
    if value.ndim == 2:
        return value.T
    return value


def _to_physicsnemo_names(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Rename EDM-style attention keys to physicsnemo's; drop buffers."""
    out = {}
    for key, value in state_dict.items():
        if _BUFFER.search(key):
            continue
        m = _EDM_ATTN.match(key)
        if m and ".attn." not in key:
            part = "norm" if m[2] == "norm2" else m[2]
            key = f"{m[1]}.attn.{part}.{m[3]}"
        out[key] = value
    return out


def _to_edm_names(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in state_dict.items():
        m = _NEMO_ATTN.match(key)
        if m:
            part = "norm2" if m[2] == "norm" else m[2]
            key = f"{m[1]}.{part}.{m[3]}"
        out[key] = value
    return out


def _as_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, without importing torch here
        value = value.detach().cpu().float().numpy()
    return np.asarray(value, dtype=np.float32)


def _summarise(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def import_state_dict(config: UNetConfig, state_dict: Mapping[str, Any], dtype: jnp.dtype = jnp.float32) -> SongUNet:
    """Build the Flax SongUNet for `config` holding the weights of a torch SongUNet state_dict."""
    weights = _to_physicsnemo_names(state_dict)
    abstract = abstract_unet(config, dtype)
    graphdef, params = nnx.split(abstract, nnx.Param)
    flat = nnx.to_flat_state(params)
    missing, misshaped, filled = [], [], []
    for path, variable in flat:
        key = _torch_key(path, abstract.torch_names)
        if key not in weights:
            missing.append(key)
            continue
        value = _from_torch_layout(_as_numpy(weights.pop(key)))
        if value.shape != variable.get_value().shape:
            misshaped.append(f"{key} {value.shape} != {variable.get_value().shape}")
            continue
        filled.append((path, variable.replace(jnp.asarray(value))))
    problems = []
    if missing:
        problems.append(f"missing keys: {_summarise(missing)}")
    if weights:
        problems.append(f"unexpected keys: {_summarise(sorted(weights))}")
    if misshaped:
        problems.append(f"shape mismatches: {_summarise(misshaped)}")
    if problems:
        raise WeightMismatchError("state_dict does not fit the SongUNet config: " + "; ".join(problems))
    return nnx.merge(graphdef, nnx.from_flat_state(filled))


def export_state_dict(model: SongUNet, style: TorchStyle = "physicsnemo") -> dict[str, np.ndarray]:
    """The model's weights as a torch-layout state_dict of float32 numpy arrays (no buffers)."""
    params = nnx.to_flat_state(nnx.state(model, nnx.Param))
    state = {_torch_key(path, model.torch_names): _to_torch_layout(np.asarray(v.get_value(), np.float32)) for path, v in params}
    return _to_edm_names(state) if style == "edm" else state
