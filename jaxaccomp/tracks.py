"""Audio files and track buffers shared by offline accompaniment (`accompany`) and the network client.

Kept free of JAX so that the client starts in a blink. Input is a mixture (1 or 2 channels, averaged
to mono) or one channel per stem in the order bass, drums, guitar, piano; then the context is the
sum of the channels that are not generated (the Max external's send_mode 0). Other sample rates are
resampled to 44.1 kHz.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from jaxaccomp.constants import SAMPLE_RATE, STEMS


def resample(audio: np.ndarray, sample_rate: int, to: int = SAMPLE_RATE) -> np.ndarray:
    """`audio` ([L] or [L, C]) at `to` Hz (default 44.1 kHz): an exact rational-ratio polyphase resampling."""
    if sample_rate == to:
        return audio
    from scipy.signal import resample_poly

    ratio = Fraction(to, sample_rate)
    return resample_poly(audio, ratio.numerator, ratio.denominator, axis=0).astype(np.float32)


def steps_to_cover(length: int, step: int, w: int) -> int:
    """Steps a stream of `length` samples takes, the first at playback position `step` (the Max
    external's first step after a reset), until a write window reaches the end."""
    return max(1, math.ceil(length / step) - w - 1)


def crossfade_into(track: np.ndarray, start: int, audio: np.ndarray, fade: int, origin: int | None = None,
                   pre_ramped: bool = False) -> None:
    """Write `audio` into `track` at `start` as the Max external writes a reply: a sample o samples after
    `origin` (default `start`, where the reply's lead-in begins) is old (1 - o/fade) + new o/fade while
    o < fade, then new alone. A reply may arrive in chunks: each is written with the reply's origin.
    `pre_ramped`: the sender already multiplied the lead-in by the reference server's ramp
    t = o/(fade - 1), so only the old audio is faded, by 1 - t (Max would ramp the new one twice).
    Samples outside the track are dropped."""
    origin = start if origin is None else origin
    offsets = np.arange(start - origin, start - origin + audio.shape[0])
    span = fade - 1 if pre_ramped else fade
    weight = np.clip(offsets / span, 0.0, 1.0).astype(np.float32) if span > 0 else np.ones(audio.shape[0], np.float32)
    lo, hi = max(start, 0), min(start + audio.shape[0], track.shape[0])
    if lo < hi:
        new, t = audio[lo - start:hi - start], weight[lo - start:hi - start]
        track[lo:hi] = track[lo:hi] * (1 - t) + (new if pre_ramped else new * t)


def read_context(path: Path, stems: Sequence[str]) -> tuple[np.ndarray, int]:
    """(mono context, sample rate) of an input file; see the module docstring for the channel layouts."""
    if not path.is_file():
        raise FileNotFoundError(f"no such audio file: {path}")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except sf.LibsndfileError as exc:
        raise ValueError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    if not audio.shape[0]:
        raise ValueError(f"{path} holds no audio (0 samples)")
    bad = np.flatnonzero(~np.isfinite(audio).all(axis=1))
    if bad.size:
        raise ValueError(f"{path}: the sample at {bad[0] / rate:.3f} s (frame {bad[0]}) is NaN or infinite")
    channels = audio.shape[1]
    if channels in (1, 2):
        return audio.mean(axis=1), rate
    if channels == len(STEMS):
        others = [i for i, stem in enumerate(STEMS) if stem not in stems]
        return audio[:, others].sum(axis=1), rate
    raise ValueError(f"{path} has {channels} channels: expected 1 or 2 (a mixture) or {len(STEMS)} "
                     f"(one per stem: {', '.join(STEMS)})")


def check_output(path: Path, inputs: Sequence[Path] = (), force: bool = False) -> tuple[str, str]:
    """Check an audio file to write before any work is done; returns the (format, subtype) to write it with.

    Refused: a folder that does not exist, an extension that names no format soundfile writes, an
    existing file without `force`, and one of `inputs` (never overwritten, `force` or not). Float
    samples where the format holds them, else the format's default (e.g. 16-bit FLAC)."""
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder of {path} does not exist")
    extension = path.suffix[1:].upper()
    kind = {"AIF": "AIFF", "OGA": "OGG"}.get(extension, extension)
    if kind not in sf.available_formats():
        raise ValueError(f"{path}: name the output with an audio extension soundfile writes "
                         f"(.wav, .flac, .ogg, .aiff, .mp3, ...), got {path.suffix or 'none'}")
    if any(path.resolve() == Path(other).resolve() for other in inputs):
        raise ValueError(f"{path} is an input: write the output to another file")
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to replace it")
    return kind, "FLOAT" if sf.check_format(kind, "FLOAT") else sf.default_subtype(kind)


def write_audio(path: Path, audio: np.ndarray, rate: int, kind: tuple[str, str], note: dict) -> None:
    """Write `audio` ([L] or [L, C]) as `kind` (format, subtype from `check_output`), with `note` as JSON
    in the file's comment where the format holds text (WAV, FLAC, OGG, AIFF, MP3, ...): the settings
    that produced it travel with the audio."""
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    with sf.SoundFile(str(path), "w", rate, channels, subtype=kind[1], format=kind[0]) as out:
        try:
            out.comment = json.dumps(note)
            out.software = f"jaxaccomp {note.get('jaxaccomp') or ''}".strip()
        except sf.LibsndfileError:  # e.g. W64 and RAW carry no text
            pass
        out.write(audio)
