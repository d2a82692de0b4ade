"""Synthetic latent caches for the training tests: structured (learnable) per-stem patterns plus noise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from jaxaccomp.codec.embedded import EmbeddedCodec


def write_cache(directory: Path, tracks: int, frames: int, seed: int, codec: str = EmbeddedCodec.name) -> Path:
    """A latent cache of structured (learnable) synthetic latents: per stem a smooth pattern, plus noise."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True)
    t = np.arange(frames) / 8.0
    channels = np.linspace(-1.5, 1.5, 64)[:, None]
    entries = []
    for n in range(tracks):
        stems = np.stack([np.sin((k + 1) * t + n) * channels + 0.1 * rng.standard_normal((64, frames)) for k in range(4)])
        context = np.stack([stems.sum(0) - stems[k] for k in range(4)])
        np.save(directory / f"T{n}.latents.npy", np.stack([stems, context]).astype(np.float16))
        np.save(directory / f"T{n}.energy.npy", np.full((2, 4, frames), 0.01, np.float32))
        entries.append({"id": f"T{n}", "frames": frames, "samples": 4096 * frames + 1536})
    header = {"format": "jaxaccomp-latent-cache", "version": 1, "codec": codec, "is_pretrained": False, "dtype": "float16",
              "source": {"root": "synthetic"}, "complete": True, "tracks": entries}
    (directory / "index.json").write_text(json.dumps(header))
    return directory
