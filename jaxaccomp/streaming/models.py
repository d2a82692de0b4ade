"""Loading a model to serve: a checkpoint's codec and compiled generator, or a shipped demo model.

Every front end (the server, `accompany`, the evaluation, the demo) loads models here, so the
default models and the checks of mode and codec are one definition.
"""

from __future__ import annotations

from pathlib import Path

from jaxaccomp.codec.base import Codec
from jaxaccomp.runtime import Runtime
from jaxaccomp.streaming.generator import Generator

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
# The shipped embedded-tier model of each sampling mode (folders of MODELS_DIR).
DEMO_MODELS = {"diffusion": "frames_edm", "consistency": "frames_cd"}
MODES = tuple(DEMO_MODELS)  # "diffusion" (ADPM2) or "consistency": the name checkpoints record


def default_checkpoint(mode: str | None) -> Path:
    """The shipped model of `mode` (default: diffusion)."""
    checkpoint = MODELS_DIR / DEMO_MODELS[mode or "diffusion"]
    if not checkpoint.is_dir():
        raise FileNotFoundError(f"no --checkpoint given and the demo model {checkpoint} is not there; "
                                "pass --checkpoint DIR (a model saved by train.py or distill.py)")
    return checkpoint


def load_model(checkpoint: Path | None, mode: str | None, codec_name: str | None,
               steps: int | None, runtime: Runtime = Runtime()) -> tuple[Codec, Generator]:
    """The codec and generator of a checkpoint (default: the shipped demo model of `mode`), the network
    computing in `runtime.dtype` and the codec on `runtime.codec_device`."""
    from jaxaccomp.codec.factory import get_codec
    from jaxaccomp.nn.checkpoint import load_denoiser, read_meta

    checkpoint = default_checkpoint(mode) if checkpoint is None else checkpoint
    meta = read_meta(checkpoint)
    if mode is not None and mode != meta["mode"]:
        raise ValueError(f"{checkpoint} holds a {meta['mode']!r} model but --mode is {mode}; "
                         "drop --mode to use the checkpoint's")
    codec = get_codec(codec_name or meta["codec"], device=runtime.codec_device)
    denoiser, _ = load_denoiser(checkpoint, expected_codec=codec.name, dtype=runtime.jax_dtype)
    return codec, Generator(denoiser, steps)
