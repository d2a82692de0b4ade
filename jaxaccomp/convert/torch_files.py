"""Reading SongUNet weights out of torch files: reference Lightning `.ckpt`s and plain state_dicts.

Files are unpickled with torch's weights-only loader. Lightning checkpoints also pickle objects of
the reference code base (hyper-parameters, callbacks); those are replaced by inert placeholders,
so no third-party code is imported or run, and only tensors are used.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch

Which = Literal["auto", "ldm", "student", "target", "teacher", "plain"]

# Where the SongUNet lives inside the reference's Lightning state_dicts.
PREFIXES: dict[str, str] = {
    "ldm": "model.unet.",  # Audio_LDM_Model (its copy under model.diffusion.net.* is the same tensors)
    "student": "net.model.unet.",  # CD online student: what the reference server samples with
    "target": "target_model.model.unet.",  # CD EMA target
    "teacher": "teacher_model.model.unet.",  # CD frozen teacher
    "plain": "",  # a bare SongUNet state_dict (physicsnemo / EDM names)
}


class Placeholder:
    """Stands in for any non-torch object pickled in a checkpoint; keeps its state, runs nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _placeholder_for(qualified_name: str) -> tuple[type, str]:
    return type(qualified_name.rsplit(".", 1)[-1], (Placeholder,), {}), qualified_name


def load_torch_file(path: str | Path) -> Any:
    """Unpickle a torch file weights-only, with placeholders for foreign classes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such checkpoint file: {path}")
    foreign = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    with torch.serialization.safe_globals([_placeholder_for(name) for name in foreign]):
        return torch.load(str(path), map_location="cpu", weights_only=True)


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
