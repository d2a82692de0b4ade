"""Reading SongUNet weights out of torch files: reference Lightning `.ckpt`s and plain state_dicts.

Files are unpickled by `codec.torch_pickle` (weights-only, foreign classes replaced by inert
placeholders), so no third-party code is imported or run, and only tensors are used.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from jaxaccomp.codec.torch_pickle import load_torch_file

Which = Literal["auto", "ldm", "student", "target", "teacher", "plain"]

# Where the SongUNet lives inside the reference's Lightning state_dicts.
PREFIXES: dict[str, str] = {
    "ldm": "model.unet.",  # Audio_LDM_Model (its copy under model.diffusion.net.* is the same tensors)
    "student": "net.model.unet.",  # CD online student: what the reference server samples with
    "target": "target_model.model.unet.",  # CD EMA target
    "teacher": "teacher_model.model.unet.",  # CD frozen teacher
    "plain": "",  # a bare SongUNet state_dict (physicsnemo / EDM names)
}


def _detect(state_dict: Mapping[str, Any]) -> str:
    for which in ("student", "ldm"):
        if any(k.startswith(PREFIXES[which] + "map_layer0.") for k in state_dict):
            return which
    if "map_layer0.weight" in state_dict:
        return "plain"
    raise ValueError("no SongUNet weights found (looked for model.unet.*, net.model.unet.* and bare SongUNet keys)")


def select_unet_weights(state_dict: Mapping[str, Any], which: Which = "auto") -> tuple[dict[str, Any], str]:
    """The SongUNet's tensors with their prefix removed, and which network they came from."""
    if which == "auto":
        which = _detect(state_dict)
    prefix = PREFIXES[which]
    if which == "plain":
        return dict(state_dict), which
    found = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not found:
        raise ValueError(f"no keys start with {prefix!r}: this checkpoint has no {which} network")
    return found, which


def read_unet_state_dict(path: str | Path, which: Which = "auto") -> tuple[dict[str, Any], str]:
    """SongUNet weights from a Lightning checkpoint (`state_dict` inside) or a plain state_dict file."""
    loaded = load_torch_file(path)
    if isinstance(loaded, Mapping) and isinstance(loaded.get("state_dict"), Mapping):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, Mapping):
        raise ValueError(f"{path} holds a {type(loaded).__name__}, not a state_dict or Lightning checkpoint")
    return select_unet_weights(loaded, which)
