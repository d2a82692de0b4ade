"""Stop with the band, and fall with it: a playback gate on the accompaniment, keyed by the musician's audio.

In look-ahead the accompaniment for the next step is generated before the musician plays it, so
when the band stops (the end of a song, a stop-time break) the generated part plays on into the
silence for one to two steps (1.5-3 s at r = 1/4), and when the band falls away (a song's last
chord ringing out, a break) it plays on at full level. A musician stops within a beat and plays
softer with the band. The client, though, hears the band at the moment it plays each sample: this
gate fades the generated part out once the band has been silent for `HOLD_S`, turns it down
`FOLLOW_SLOPE` dB for every dB the band has fallen more than `FOLLOW_DB` below its recent loudest,
and brings it back when the band does. Its gain depends on the musician's audio alone, up to the
sample before the block it acts on, so it is the same whether a client applies it live (the Pd
external, the Max object, the browser page, the Python client) or a file is rendered offline
(`accompany`, the evaluation).

Per 512-sample block b of the musician's audio x (the context, at the client's sample rate):
  level[b]  = 10 log10(mean(x^2) + 1e-12) dB
  recent[b] = the loudest level of the last HOLD_S;  loudest[b] = the loudest of the last REFERENCE_S
  open[b]   = recent[b] > max(loudest[b] - DROP_DB, FLOOR_DB)
  target[b] = 10^(-FOLLOW_SLOPE max(0, loudest[b] - recent[b] - FOLLOW_DB) / 20) if open[b], else 0
  gain[b]   = target[b] if target[b] >= gain[b - 1], else max(target[b], gain[b - 1] - 512 / (RELEASE_S sr))
              (gain[-1] = 0: it rises at once and falls at most from full level to silence in RELEASE_S)
and over output block k the gain ramps linearly from gain[k - 2] to gain[k - 1]: a block of the band
is heard before the gate acts, and every change is a ramp (no click). Relative to the band's own
recent level, so it does not depend on how loud the musician plays; the absolute floor keeps a
stream that was silent from the start closed. The constants are mirrored in max/core
(stop_gate.h) and jaxaccomp/web/worklet.js and tested against this definition.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.ndimage import maximum_filter1d

BLOCK = 512  # samples per decision (11.6 ms at 44.1 kHz)
DROP_DB = 30.0  # the band counts as stopped this far below its loudest block of the last REFERENCE_S
FLOOR_DB = -70.0  # dBFS: below this the band is silent whatever its recent level
HOLD_S = 0.25  # how long the band must stay down: an eighth note at 120 bpm, longer than a rest between notes
REFERENCE_S = 5.0  # how far back the band's recent loudest level is taken
RELEASE_S = 0.1  # fade-out time from full level to silence
FOLLOW_DB = 6.0  # the band may fall this far below its recent loudest before the part follows it down
FOLLOW_SLOPE = 3.0  # dB the part falls per dB the band falls beyond FOLLOW_DB (docs/streaming.md: measured)
MEAN_SQUARE_FLOOR = 1e-12  # added to each block's mean square: digital silence reads as -120 dB


def blocks_in(seconds: float, sample_rate: int) -> int:
    """Whole blocks (at least 1) closest to `seconds` at `sample_rate` (halves round up, as in C++ and JS)."""
    return max(1, int(seconds * sample_rate / BLOCK + 0.5))


def block_gains(context: np.ndarray, sample_rate: int) -> np.ndarray:
    """[complete blocks] gate gain decided after each 512-sample block of the musician's audio."""
    context = np.asarray(context, np.float64)
    count = context.shape[0] // BLOCK
    squares = np.square(context[:count * BLOCK]).reshape(count, BLOCK)
    level = 10.0 * np.log10(squares.mean(axis=1) + MEAN_SQUARE_FLOOR)
    hold, reference = blocks_in(HOLD_S, sample_rate), blocks_in(REFERENCE_S, sample_rate)
    recent, loudest = _trailing_max(level, hold), _trailing_max(level, reference)
    is_open = recent > np.maximum(loudest - DROP_DB, FLOOR_DB)
    follow = 10.0 ** (-FOLLOW_SLOPE * np.maximum(0.0, loudest - recent - FOLLOW_DB) / 20.0)
    targets = np.where(is_open, follow, 0.0)
    release = BLOCK / (RELEASE_S * sample_rate)  # the most gain lost per block
    gains = np.empty(count)
    gain = 0.0
    for b in range(count):
        gain = targets[b] if targets[b] >= gain else max(targets[b], gain - release)
        gains[b] = gain
    return gains


def _trailing_max(values: np.ndarray, span: int) -> np.ndarray:
    """values[b] -> max(values[max(0, b - span + 1) : b + 1])."""
    if values.shape[0] == 0:
        return values
    return maximum_filter1d(values, span, origin=(span - 1) // 2, mode="nearest")


def sample_gains(context: np.ndarray, sample_rate: int, length: int) -> np.ndarray:
    """[length] float32 gain for each output sample: over block k a ramp from gain[k - 2] to gain[k - 1]."""
    decided = np.concatenate([[0.0, 0.0], block_gains(context, sample_rate)])  # gain[-2], gain[-1], gain[0], ...
    blocks = -(-length // BLOCK)
    if decided.shape[0] < blocks + 1:  # output past the musician's audio: the last decision holds
        decided = np.concatenate([decided, np.full(blocks + 1 - decided.shape[0], decided[-1])])
    start, end = decided[:blocks, None], decided[1:blocks + 1, None]
    fraction = np.arange(1, BLOCK + 1) / BLOCK
    return (start + (end - start) * fraction).reshape(-1)[:length].astype(np.float32)


def apply(tracks: np.ndarray, context: np.ndarray, sample_rate: int) -> np.ndarray:
    """`tracks` [..., L] (the generated parts on the musician's timeline) with the gate applied."""
    return (tracks * sample_gains(context, sample_rate, tracks.shape[-1])).astype(tracks.dtype)


def add_argument(parser: argparse.ArgumentParser) -> None:
    """--stop-gate on|off, as every command that renders or plays accompaniment takes it."""
    parser.add_argument("--stop-gate", choices=("on", "off"), default="on",
                        help=f"fade the accompaniment out when the band has been silent for {HOLD_S:g} s "
                             f"({DROP_DB:g} dB below its recent loudest), turn it down {FOLLOW_SLOPE:g} dB per dB "
                             f"the band falls beyond {FOLLOW_DB:g} dB, and back up with the band (default: on)")
