"""The paper's metrics, scored with trained weights the user brings (nothing is downloaded).

  cocola      COCOLA (EfficientNet-B0 on HPSS log-mels, bilinear score) from the COCOLA_HP_v1
              checkpoint: `cocola.py`.
  vggish      FAD on VGGish embeddings from the torchvggish state dict: `vggish.py`.
  beat_this   beat F1 with beats tracked by Beat This from its final0 checkpoint: `beat_this.py`.

Each module builds the published architecture, loads the file with `read_checkpoint`, and refuses
a missing, unreadable or mismatched file in one line. The offline substitutes (`beat_f1`,
`fd_logmel`, `coherence_ours`) keep their own names; these carry the paper's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

# flag name -> what the file is (shown in --help and in every refusal)
PAPER_WEIGHTS = {
    "cocola": "the COCOLA_HP_v1 checkpoint (checkpoint-epoch=87-val_loss=0.00.ckpt, COCOLA authors' Google Drive)",
    "vggish": "the torchvggish VGGish state dict (vggish-10086976.pth, harritaylor/torchvggish release v0.1)",
    "beat_this": "the Beat This checkpoint (final0.ckpt, cloud.cp.jku.at)",
}


def load(name: str, path: str | Path) -> Any:
    """Build paper metric `name`'s network from the file at `path` now, so a wrong file is refused
    before any clip is scored (the loaded network stays cached for this process)."""
    import importlib

    return importlib.import_module(f"{__name__}.{name}").load(path)


class WeightsError(ValueError):
    """A weights file that is missing, unreadable, or not the one the metric needs."""


def flag(name: str) -> str:
    """The command-line flag of a paper metric: 'beat_this' -> '--beat-this'."""
    return "--" + name.replace("_", "-")


def read_checkpoint(path: str | Path, name: str, stand_ins: Iterable[str] = ()) -> dict[str, Any]:
    """The dict a torch checkpoint at `path` holds: a plain state dict, or a Lightning checkpoint
    ("state_dict", "hyper_parameters", ...).

    The file is unpickled with weights_only=True (never arbitrary code); `stand_ins` names the
    globals ("module.Class") a checkpoint's hyper-parameters reference that are not importable here,
    each mapped to an inert placeholder so the tensors can be read without the training code.
    """
    import torch

    path, what = Path(path), PAPER_WEIGHTS[name]
    if not path.is_file():
        raise WeightsError(f"{flag(name)} {path}: no such file; it must be {what}, which you download yourself")
    placeholders = [(type(qualname.rsplit(".", 1)[1], (_StandIn,), {}), qualname) for qualname in stand_ins]
    try:
        with torch.serialization.safe_globals(placeholders):
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many kinds for a file that is not its format
        first = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
        raise WeightsError(f"{flag(name)} {path}: not a readable torch checkpoint ({first}); "
                           f"it must be {what}") from None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("state_dict", loaded), dict):
        raise WeightsError(f"{flag(name)} {path}: holds no state dict; it must be {what}")
    return loaded


def state_dict(checkpoint: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The tensors of a checkpoint read by `read_checkpoint` (a Lightning checkpoint's "state_dict"
    when present) whose names start with `prefix`, with the prefix stripped."""
    state = checkpoint.get("state_dict", checkpoint)
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}


def read_state_dict(path: str | Path, name: str, prefix: str = "", stand_ins: Iterable[str] = ()) -> dict[str, Any]:
    """`state_dict(read_checkpoint(path, name, stand_ins), prefix)`."""
    return state_dict(read_checkpoint(path, name, stand_ins), prefix)


def check_names(state: dict[str, Any], expected: dict[str, Any], name: str, path: str | Path) -> None:
    """Refuse a state dict whose tensor names or shapes differ from the architecture's, naming the first."""
    missing = [key for key in expected if key not in state]
    extra = [key for key in state if key not in expected]
    wrong = [key for key in expected if key in state
             and tuple(getattr(state[key], "shape", ())) != tuple(expected[key].shape)]
    problem = (f"lacks {missing[0]!r}" if missing else f"has an unexpected tensor {extra[0]!r}" if extra
               else f"{wrong[0]!r} has shape {tuple(getattr(state[wrong[0]], 'shape', ()))}, expected "
                    f"{tuple(expected[wrong[0]].shape)}" if wrong else None)
    if problem:
        raise WeightsError(f"{flag(name)} {path}: {problem} ({len(missing)} missing, {len(extra)} unexpected, "
                           f"{len(wrong)} misshapen); it must be {PAPER_WEIGHTS[name]}")


class _StandIn:
    """Accepts whatever a pickled object is rebuilt with; holds nothing used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass
