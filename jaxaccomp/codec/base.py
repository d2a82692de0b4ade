"""The codec contract shared by every codec: the latent grid and numpy at the boundary.

A latent frame is 64 channels for every 4096 samples at 44.1 kHz. A clip of L samples is cropped to
4096 T + 1536 samples (T = (L - 1536) // 4096 frames): the 1536 extra samples are the STFT context
(window 2048, hop 512, no centring) around the 8 T analysis frames. Decoding T frames gives back
exactly 4096 T + 1536 samples. These are Music2Latent's rules; our own codecs follow them too, so
every codec serves the same model shapes and the same timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from jaxaccomp.constants import HOP, SAMPLE_RATE

LATENT_CHANNELS = 64
PAD = 1536


def num_frames(n_samples: int) -> int:
    """Latent frames of a clip of `n_samples` (the tail beyond 4096 T + 1536 is dropped)."""
    return max((n_samples - PAD) // HOP, 0)


def decoded_length(frames: int) -> int:
    return HOP * frames + PAD


@dataclass(frozen=True)
class HeardBand:
    """What the engine has heard of the band, for putting generated notes on its chords (`Codec.in_tune`)."""

    audio: np.ndarray  # [4096 W + 1536] the window's audio the context was encoded from
    heard: int  # the window's first columns the band was heard over, up to playback (a partly heard one too)
    past: np.ndarray  # the song's audio before the playback position (its key)


@runtime_checkable
class Codec(Protocol):
    """What the model, engine and tools need of a codec. Arrays are float32 numpy."""

    name: str
    is_pretrained: bool
    sample_rate: int
    latent_channels: int
    hop: int
    pad: int

    def encode(self, audio: np.ndarray) -> np.ndarray:
        """[B, L] audio -> [B, 64, num_frames(L)] latents (deterministic)."""
        ...

    def decode(self, latents: np.ndarray, seed: int = 0, start_column: int = 0) -> np.ndarray:
        """[B, 64, T] latents -> [B, 4096 T + 1536] audio; the same seed gives the same audio. `start_column`
        is where the latents begin in a longer stream: a codec that can (embedded) then decodes overlapping
        windows of one stream and seed to the same samples, so that a crossfade between them does not dip."""
        ...

    def in_tune(self, target: np.ndarray, context: np.ndarray, band: HeardBand | None = None,
                roots: Sequence[bool] = (), voicing: Sequence[float] = ()) -> np.ndarray:
        """[S, 64, W] generated latents with their notes on the semitone grid of the [64, W] context
        they accompany; given what was heard of the `band`, also on its chords, heard or predicted,
        the parts that `roots` marks (a bass) on the chords' roots, and each part's notes voiced
        `voicing` times more decisively (1 or none given: as generated; latents that hold no explicit
        pitch come back unchanged)."""
        ...


def check_audio(audio: np.ndarray) -> np.ndarray:
    """Validated [B, L] float32 audio cropped to the codec grid, or a one-line ValueError."""
    audio = np.asarray(audio)
    if audio.ndim != 2:
        raise ValueError(f"audio must be [batch, samples], got shape {audio.shape}")
    frames = num_frames(audio.shape[1])
    if frames < 1:
        raise ValueError(f"audio of {audio.shape[1]} samples is too short: the codec needs at least {decoded_length(1)}")
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio contains NaN or infinite samples")
    return np.array(audio[:, : decoded_length(frames)], dtype=np.float32, order="C")  # a writable copy


def check_latents(latents: np.ndarray) -> np.ndarray:
    """Validated [B, 64, T] float32 latents, or a one-line ValueError."""
    latents = np.asarray(latents)
    if latents.ndim != 3 or latents.shape[1] != LATENT_CHANNELS or latents.shape[2] < 1:
        raise ValueError(f"latents must be [batch, {LATENT_CHANNELS}, frames >= 1], got shape {latents.shape}")
    if not np.all(np.isfinite(latents)):
        raise ValueError("latents contain NaN or infinite values")
    return np.array(latents, dtype=np.float32, order="C")  # a writable copy (torch needs one)


class GridConstants:
    """Mixin holding the grid constants every codec shares."""

    sample_rate = SAMPLE_RATE
    latent_channels = LATENT_CHANNELS
    hop = HOP
    pad = PAD
