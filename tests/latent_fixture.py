"""Synthetic latent caches for the training tests: structured (learnable) per-stem patterns plus noise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from jaxaccomp.codec.embedded import EmbeddedCodec


PITCH, PERIODICITY = 56, 60  # the embedded codec's pitch (56-59) and periodicity (60-63) channels


def assert_window_latents(cached: np.ndarray, encoded: np.ndarray, atol: float = 1e-4) -> None:
    """A window cut from a cached track equals that window encoded alone ([..., 64, frames]).

    Except where the codec looks beyond a frame: periodicity looks ~40 ms past its quarter frame, so a
    window's first and last frames differ from the whole track's (its inner frames by < 3e-4); and
    the pitch of unvoiced quarters is filled from the voiced ones around them, as far away as they
    are, so a window without a note holds the default pitch where the whole track holds a distant
    note's. Pitch channels are therefore not compared (a known train/serve difference of the codec)."""
    np.testing.assert_allclose(cached[..., :PITCH, :], encoded[..., :PITCH, :], atol=atol)
    np.testing.assert_allclose(cached[..., PERIODICITY:, 1:-1], encoded[..., PERIODICITY:, 1:-1], atol=max(atol, 1e-3))


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
