"""get_codec: one place that decides which codec a program uses, and says why."""

from __future__ import annotations

import logging
from pathlib import Path

from jaxaccomp.codec.base import Codec

log = logging.getLogger("jaxaccomp.codec")
CODEC_NAMES = ("auto", "music2latent", "embedded")


def latent_spaces() -> dict[str, str]:
    """--codec choice -> the codec name its latents carry in caches and checkpoints. The embedded
    codec's name says which design made it, so models trained on an earlier one are refused."""
    from jaxaccomp.codec.embedded import EmbeddedCodec

    return {"music2latent": "music2latent", "embedded": EmbeddedCodec.name}


def latent_space(choice: str) -> str | None:
    """The codec name a --codec choice's latents are recorded under; None for `auto` (whatever is there)."""
    if choice == "auto":
        return None
    spaces = latent_spaces()
    if choice in spaces.values():  # a run's resolved config records the latent space itself
        return choice
    if choice not in spaces:
        raise ValueError(f"unknown codec {choice!r}; choose one of {', '.join(CODEC_NAMES)}")
    return spaces[choice]


def embedded_codec() -> Codec:
    """The embedded tier's codec: the DSP codec with its shipped per-channel standardisation."""
    from jaxaccomp.codec.embedded import EmbeddedCodec
    from jaxaccomp.codec.stats import EMBEDDED_STATS, LatentStats, Standardised

    return Standardised(EmbeddedCodec(), LatentStats.load(EMBEDDED_STATS, expected_codec=EmbeddedCodec.name))


def check_device(name: str, device: str | None) -> None:
    """A torch device for a codec that has none is a mistake, said before anything loads."""
    if device not in (None, "cpu") and name in ("embedded", latent_spaces()["embedded"]):
        raise ValueError(f"codec device {device}: the embedded codec is numpy and runs on the CPU")


def get_codec(name: str = "auto", checkpoint: str | Path | None = None, device: str | None = None) -> Codec:
    """The named codec (a choice, or the name its latents carry); `auto` is Music2Latent when its
    checkpoint resolves, else the embedded codec."""
    name = {space: choice for choice, space in latent_spaces().items()}.get(name, name)
    if name not in CODEC_NAMES:
        raise ValueError(f"unknown codec {name!r}; choose one of {', '.join(CODEC_NAMES)}")
    check_device(name, device)
    if name == "embedded":
        return embedded_codec()
    if name == "music2latent":
        from jaxaccomp.codec.music2latent import Music2LatentCodec

        return Music2LatentCodec(checkpoint, device)
    try:
        from jaxaccomp.codec.music2latent import Music2LatentCodec, resolve_checkpoint

        path = resolve_checkpoint(checkpoint)
    except (ImportError, FileNotFoundError) as exc:
        log.warning("codec: embedded (Music2Latent unavailable: %s)", exc)
        return embedded_codec()
    log.warning("codec: music2latent (checkpoint %s)", path)
    return Music2LatentCodec(path, device)
