"""Unpickling torch files safely: the weights-only loader, with inert placeholders for foreign classes.

Both the Music2Latent codec and `convert` read torch files users bring. Lightning checkpoints also
pickle objects of the reference code base (hyper-parameters, callbacks); those are replaced by
placeholders, so no third-party code is imported or run, and only tensors are used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


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
