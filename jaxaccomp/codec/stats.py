"""Per-channel latent standardisation: statistics tied to the codec that produced them, and the
codec view that applies them.

The diffusion model assumes unit-variance latents (sigma_data = 1) and weighs every channel's error
alike. The embedded codec's raw channels differ in mean (-0.9 to +1.8) and spread (0.4 to 2.0):
unstandardised, its pitch channels would carry a few percent of the loss and drown first. So the
embedded tier's latent space is the standardised one: `Standardised` wraps the raw codec with the
statistics measured over rendered training stems and mixtures (shipped as `embedded_stats.json`,
made by `python -m jaxaccomp.data.latent_stats`). Every consumer (latent caches, training, the engine, the
server) gets latents through the codec, so one definition standardises them all alike. Music2Latent's
latents are used raw, as the reference does.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from jaxaccomp.codec.base import Codec, GridConstants, HeardBand, check_latents

EMBEDDED_STATS = Path(__file__).resolve().parent / "embedded_stats.json"


@dataclasses.dataclass(frozen=True)
class LatentStats:
    codec: str
    mean: np.ndarray  # [channels]
    std: np.ndarray  # [channels]
    frames: int  # how many latent frames they were measured on

    def normalize(self, latents: np.ndarray) -> np.ndarray:
        return ((latents - self.mean[:, None]) / self.std[:, None]).astype(np.float32)

    def denormalize(self, latents: np.ndarray) -> np.ndarray:
        return (latents * self.std[:, None] + self.mean[:, None]).astype(np.float32)

    def save(self, path: str | Path) -> None:
        data = {"codec": self.codec, "frames": self.frames, "mean": self.mean.tolist(), "std": self.std.tolist()}
        Path(path).write_text(json.dumps(data) + "\n")

    @classmethod
    def load(cls, path: str | Path, expected_codec: str) -> "LatentStats":
        data = json.loads(Path(path).read_text())
        if data["codec"] != expected_codec:
            raise ValueError(f"{path} holds latent statistics of codec {data['codec']!r}, not {expected_codec!r}")
        return cls(data["codec"], np.asarray(data["mean"], np.float32), np.asarray(data["std"], np.float32),
                   data["frames"])


def compute_stats(codec: Codec, clips: Iterable[np.ndarray], min_std: float = 1e-3) -> LatentStats:
    """Mean and std of every latent channel over all frames of `clips` ([B, L] audio batches)."""
    total = total_sq = None
    frames = 0
    for clip in clips:
        latents = codec.encode(clip).astype(np.float64)  # [B, C, T]
        channel_sum, channel_sq = latents.sum(axis=(0, 2)), np.square(latents).sum(axis=(0, 2))
        total = channel_sum if total is None else total + channel_sum
        total_sq = channel_sq if total_sq is None else total_sq + channel_sq
        frames += latents.shape[0] * latents.shape[2]
    if not frames:
        raise ValueError("no audio to measure latent statistics on")
    mean = total / frames
    std = np.sqrt(np.maximum(total_sq / frames - mean**2, 0.0))
    return LatentStats(codec.name, mean.astype(np.float32), np.maximum(std, min_std).astype(np.float32), frames)


class Standardised(GridConstants):
    """A codec whose latents are standardised per channel: (raw - mean) / std on the way out, and
    back before decoding. Its latents carry the raw codec's name: the statistics are part of it."""

    def __init__(self, codec: Codec, stats: LatentStats) -> None:
        if stats.codec != codec.name:
            raise ValueError(f"latent statistics of codec {stats.codec!r} cannot standardise codec {codec.name!r}")
        self.raw, self.stats = codec, stats
        self.name, self.is_pretrained = codec.name, codec.is_pretrained

    def encode(self, audio: np.ndarray) -> np.ndarray:
        return self.stats.normalize(self.raw.encode(audio))

    def decode(self, latents: np.ndarray, seed: int = 0, start_column: int = 0) -> np.ndarray:
        return self.raw.decode(self.stats.denormalize(check_latents(latents)), seed, start_column)

    def in_tune(self, target: np.ndarray, context: np.ndarray, band: HeardBand | None = None,
                roots: Sequence[bool] = (), voicing: Sequence[float] = ()) -> np.ndarray:
        raw = self.raw.in_tune(self.stats.denormalize(target), self.stats.denormalize(context), band, roots, voicing)
        return self.stats.normalize(raw)
