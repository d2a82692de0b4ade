"""A part's make-up gain: the decibels a checkpoint says its parts come out below the real ones.

The embedded tier's student generates its parts quieter than the real parts they stand in for
(about 3 dB as generated, more once the clients' stop gate has turned them down where the band falls
quiet; docs/streaming.md, "A part's level"). A musician hears a quiet band-mate, and the evaluation, which
normalises loudness, cannot. A checkpoint may therefore recommend a gain per stem
(`"makeup_gain_db"` in its metadata's `sampling`), measured on development songs; the engine applies
it to every decoded part, so every front end plays the same level. A raised part's rare peaks
(a drum hit) then pass a soft limiter: unchanged up to KNEE, bent smoothly towards full scale above it,
one sample at a time, so two steps' renderings of the same samples still agree in the crossfade.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from jaxaccomp.constants import STEMS

KNEE = 0.9  # |sample| up to which a raised part is untouched; above it, it approaches 1 and never passes it


def check_gains(gains_db: Mapping[str, float]) -> None:
    """A one-line ValueError unless every key is a stem name and every value a finite number of decibels."""
    unknown = sorted(set(gains_db) - set(STEMS))
    if unknown:
        raise ValueError(f"make-up gains are per stem ({', '.join(STEMS)}), got {', '.join(unknown)}")
    bad = [stem for stem, db in gains_db.items() if not np.isfinite(db)]
    if bad:
        raise ValueError(f"the make-up gain of {', '.join(bad)} is not a finite number of dB")


def linear_gains(gains_db: Mapping[str, float], stems: Sequence[str]) -> np.ndarray:
    """[stems] float32 amplitude factors (1 where no gain is given)."""
    return np.array([10.0 ** (gains_db.get(stem, 0.0) / 20.0) for stem in stems], np.float32)


def soft_limit(audio: np.ndarray) -> np.ndarray:
    """`audio` with every |sample| above KNEE bent towards 1: KNEE + (1 - KNEE) tanh(excess / (1 - KNEE)),
    continuous in value and slope at the knee."""
    span = 1.0 - KNEE
    magnitude = np.abs(audio)
    bent = KNEE + span * np.tanh((magnitude - KNEE) / span)
    return np.where(magnitude > KNEE, np.sign(audio) * bent, audio).astype(np.float32)


def raise_parts(parts: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """[stems, L] parts times their gains, the raised ones through `soft_limit`; the others untouched."""
    out = parts.copy()
    raised = gains != 1.0
    if raised.any():
        out[raised] = soft_limit(parts[raised] * gains[raised, None])
    return out
