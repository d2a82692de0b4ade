"""get_codec: one place that decides which codec a program uses, and says why."""

from __future__ import annotations

import logging
from pathlib import Path

from jaxaccomp.codec.base import Codec

log = logging.getLogger("jaxaccomp.codec")
CODEC_NAMES = ("auto", "music2latent", "embedded")
# The name each choice's latents carry in caches and checkpoints: the embedded codec's says which
# design made it, so models trained on an earlier embedded codec are refused instead of producing noise.
LATENT_SPACES = {"music2latent": "music2latent", "embedded": "embedded-2"}


def latent_space(choice: str) -> str | None:
    """The codec name a --codec choice's latents are recorded under; None for `auto` (whatever is there)."""
    if choice == "auto":
        return None
    if choice not in LATENT_SPACES:
        raise ValueError(f"unknown codec {choice!r}; choose one of {', '.join(CODEC_NAMES)}")
    return LATENT_SPACES[choice]


def get_codec(name: str = "auto", checkpoint: str | Path | None = None, device: str | None = None) -> Codec:
    """The named codec (a choice, or the name its latents carry); `auto` is Music2Latent when its
    checkpoint resolves, else the embedded codec."""
    name = {space: choice for choice, space in LATENT_SPACES.items()}.get(name, name)
    if name not in CODEC_NAMES:
        raise ValueError(f"unknown codec {name!r}; choose one of {', '.join(CODEC_NAMES)}")
    if name == "embedded":
        from jaxaccomp.codec.embedded import EmbeddedCodec

        return EmbeddedCodec()
    if name == "music2latent":
        from jaxaccomp.codec.music2latent import Music2LatentCodec

        return Music2LatentCodec(checkpoint, device)
    try:
        from jaxaccomp.codec.music2latent import Music2LatentCodec, resolve_checkpoint

        path = resolve_checkpoint(checkpoint)
    except (ImportError, FileNotFoundError) as exc:
        from jaxaccomp.codec.embedded import EmbeddedCodec

        log.warning("codec: embedded (Music2Latent unavailable: %s)", exc)
        return EmbeddedCodec()
    log.warning("codec: music2latent (checkpoint %s)", path)
    return Music2LatentCodec(path, device)
