"""Encoding a stream window after window without analysing the same audio twice.

The streaming engine encodes a whole model window (64 frames) every step, though only a step's worth
of it is new audio: one frame of 64 at r = 1/64. The embedded codec's analysis is local (a frame's
bands, blocks and chroma read its own 5,632 samples, a quarter frame's pitch about 3,700 around it),
so what it found in the musician's past, which no later step changes, can be kept and only the rest
analysed. The latents are those of encoding the window whole, to the bit (tests/test_stream_encoding.py).
Music2Latent's encoder is a network that sees the whole window: it encodes every window whole.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from jaxaccomp.codec.base import Codec, check_audio, num_frames
from jaxaccomp.codec.embedded import QUARTERS, EmbeddedCodec, column_reach, quarter_pitch, quarter_reach
from jaxaccomp.codec.stats import Standardised


class StreamEncoder(Protocol):
    """Encodes the windows of one stream, in order."""

    def __call__(self, audio: np.ndarray, start: int, final: int) -> np.ndarray:
        """[64, T] latents of the window `audio` ([4096 T + 1536] samples from the stream's sample `start`,
        a multiple of 4096), whose first `final` samples are the stream's own and will not change."""
        ...

    def forget_from(self, sample: int) -> None:
        """Forget what was analysed from the stream's samples at or after `sample`: they are replaced."""
        ...


def stream_encoder(codec: Codec) -> StreamEncoder:
    """The encoder of one stream for `codec`: kept analyses where its analysis is local, else whole windows."""
    if isinstance(codec, Standardised):
        return _Standardising(stream_encoder(codec.raw), codec)
    if isinstance(codec, EmbeddedCodec):
        return _KeptAnalyses(codec)
    return _WholeWindows(codec)


class _WholeWindows:
    def __init__(self, codec: Codec) -> None:
        self.codec = codec

    def __call__(self, audio: np.ndarray, start: int, final: int) -> np.ndarray:
        return self.codec.encode(audio[None])[0]

    def forget_from(self, sample: int) -> None:
        pass


class _Standardising:
    def __init__(self, raw: StreamEncoder, codec: Standardised) -> None:
        self.raw, self.stats = raw, codec.stats

    def __call__(self, audio: np.ndarray, start: int, final: int) -> np.ndarray:
        return self.stats.normalize(self.raw(audio, start, final)[None])[0]

    def forget_from(self, sample: int) -> None:
        self.raw.forget_from(sample)


class _KeptAnalyses:
    """The embedded codec's frame features and quarter-frame pitch estimates of final audio, kept by
    their absolute frame and quarter in the stream. A window's first quarter is never kept: its pitch
    segment reaches before the window, where the window reads zeros."""

    def __init__(self, codec: EmbeddedCodec) -> None:
        self.codec = codec
        self._frames: dict[int, np.ndarray] = {}  # absolute frame -> [56] column features
        self._quarters: dict[int, tuple[float, float]] = {}  # absolute quarter -> (lag, aperiodicity)

    def forget_from(self, sample: int) -> None:
        self._frames = {f: v for f, v in self._frames.items() if column_reach(f, 1)[1] <= sample}
        self._quarters = {q: v for q, v in self._quarters.items() if quarter_reach(q, 1)[1] <= sample}

    def __call__(self, audio: np.ndarray, start: int, final: int) -> np.ndarray:
        clip = check_audio(audio[None]).astype(np.float64)
        hop = self.codec.hop
        if start % hop:
            raise ValueError(f"a window starts on the frame grid (a multiple of {hop}), not at sample {start}")
        first_frame, frames = start // hop, num_frames(clip.shape[1])
        first_quarter, quarters = first_frame * QUARTERS, frames * QUARTERS
        self._frames = {f: v for f, v in self._frames.items() if f >= first_frame}  # windows only move on
        self._quarters = {q: v for q, v in self._quarters.items() if q >= first_quarter}

        kept = _kept_run(self._frames, first_frame, 0, frames)
        fresh = self.codec.column_features(clip[:, column_reach(kept, 0)[0]:]) if kept < frames else None
        columns = np.stack([self._frames[first_frame + f] for f in range(kept)]
                           + ([] if fresh is None else list(fresh[0])))
        for f in range(kept, frames):
            if column_reach(f, 1)[1] <= final:
                self._frames[first_frame + f] = columns[f]

        lag, aperiodicity = np.empty(quarters), np.empty(quarters)
        first_lag, first_aperiodicity = quarter_pitch(clip, 0, 1)
        lag[0], aperiodicity[0] = first_lag[0, 0], first_aperiodicity[0, 0]
        kept = _kept_run(self._quarters, first_quarter, 1, quarters)
        for q in range(1, kept):
            lag[q], aperiodicity[q] = self._quarters[first_quarter + q]
        if kept < quarters:
            fresh_lag, fresh_aperiodicity = quarter_pitch(clip, kept, quarters - kept)
            lag[kept:], aperiodicity[kept:] = fresh_lag[0], fresh_aperiodicity[0]
            for q in range(kept, quarters):
                if quarter_reach(q, 1)[1] <= final:
                    self._quarters[first_quarter + q] = (lag[q], aperiodicity[q])
        return self.codec.latents(columns[None], lag[None], aperiodicity[None])[0]


def _kept_run(kept: dict[int, object], first: int, begin: int, end: int) -> int:
    """The first index from `begin` whose absolute entry `first + index` is not kept (`end` if all are)."""
    index = begin
    while index < end and first + index in kept:
        index += 1
    return index
