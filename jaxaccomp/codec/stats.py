"""Per-channel latent normalisation statistics, tied to the codec that produced them.

The diffusion model assumes roughly unit-variance latents (sigma_data = 1). Each codec's latents
have their own scale, so statistics are measured per codec over a dataset and refuse to be applied
to another codec's latents.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from jaxaccomp.codec.base import Codec


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
