"""The sliding-window streaming engine: audio in, one step ahead of playback; accompaniment out.

Each `step` takes the newest block of the mixture the musician played (ending at the playback
position P), plans the step on the absolute timeline (`timeline.plan_step`), encodes the model
window's context (samples not yet played are zeros, and masked; or, for a generator that
`continues_context`, the song's periodic continuation, shown as visible), predicts every requested stem in
one batched call, puts the pitched stems' notes on the band's semitone grid or chords (as the generator's
`tuning` asks; `codec.intonation`), stores the newly generated columns, decodes only the columns the returned audio
needs (all stems in one codec call), cuts exactly [W0 - fade, W1) and raises each part by the
generator's make-up gain (`level`).

State, all indexed by absolute position so nothing drifts:
  audio            the samples kept before P: the next window's context, and where the
                   song's repetition is found (the longer of a window and `continuation.MEMORY_S`);
  analyses         what the codec found in the audio already played (`codec.stream_encoding`), so
                   a step analyses only its new audio and the part not yet played;
  target latents   one [stems, channels] vector per absolute column ever generated, kept while a
                   later window or decode can reach it. A column never generated reads as the
                   codec's silence latent (encode of zeros), as in the reference server, so the
                   first step is conditioned on a silent past rather than run unconditionally
                   (a generator may withhold the known target from its network at small steps:
                   `Generator.withholds`).

The engine applies no fade. The client crossfades the lead-in into what it already holds. The
reference server also ramps the lead-in 0 -> 1 before sending, and the Max external ramps it again,
so the new audio enters at about t^2 against 1 - t for the old: a level dip mid-fade. Our output is
unramped; `ramp_lead_in=True` reproduces the server's pre-ramp for clients that expect it.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import numpy as np

from jaxaccomp.codec.base import Codec, HeardBand
from jaxaccomp.codec.stream_encoding import stream_encoder
from jaxaccomp.constants import PITCHED_STEMS, STEMS
from jaxaccomp.streaming.continuation import MEMORY_S, PeriodicContinuation
from jaxaccomp.streaming.generator import Predictor
from jaxaccomp.streaming.level import linear_gains, raise_parts
from jaxaccomp.stream_settings import StreamSettings
from jaxaccomp.streaming.timeline import StepPlan, plan_step


@dataclass(frozen=True)
class StepResult:
    """One step's output: `audio[stem]` holds samples [write_start, write_start + plan.length)."""

    write_start: int  # absolute sample of audio[stem][0]: W0 - fade
    audio: dict[str, np.ndarray]  # float32, fade lead-in then the content window
    timings: dict[str, float]  # encode_ms, sample_ms, decode_ms
    plan: StepPlan
    decode_seed: int  # the stream's codec seed (with plan's decode columns, enough to reproduce the audio)


@functools.lru_cache(maxsize=8)
def silence_latent(codec: Codec, width: int) -> np.ndarray:
    """The codec's latent column of silence (from the middle of a window, away from edge effects).
    Cached, so that a server rebuilding its engine on a client's control message encodes nothing."""
    silent = np.zeros((1, width * codec.hop + codec.pad), np.float32)
    middle = codec.encode(silent)[0, :, width // 2]
    middle.setflags(write=False)
    return middle


def _overlay(dst: np.ndarray, dst_start: int, src: np.ndarray, src_start: int) -> None:
    """Copy the part of `src` (samples from src_start) that falls inside `dst` (samples from dst_start)."""
    lo = max(dst_start, src_start)
    hi = min(dst_start + dst.shape[-1], src_start + src.shape[-1])
    if lo < hi:
        dst[..., lo - dst_start:hi - dst_start] = src[..., lo - src_start:hi - src_start]


class StreamingEngine:
    """Rolling context and target latents on one sample-accurate timeline; see the module docstring."""

    def __init__(self, codec: Codec, generator: Predictor, stems: Sequence[str],
                 settings: StreamSettings = StreamSettings(), seed: int = 0, ramp_lead_in: bool = False):
        unknown = [s for s in stems if s not in STEMS]
        if not stems or unknown or len(set(stems)) != len(stems):
            raise ValueError(f"stems must be distinct names from {', '.join(STEMS)}, got {', '.join(stems) or 'none'}")
        self.codec, self.generator = codec, generator
        self.stems = tuple(stems)
        self.width = generator.width
        settings.check_fits(self.width, codec.hop)
        self.settings, self.step_size = settings, settings.step
        self.seed, self.ramp_lead_in = seed, ramp_lead_in
        self._kept = max(self.width * codec.hop, int(MEMORY_S * codec.sample_rate))  # samples of audio kept before P
        self._labels = np.eye(len(STEMS), dtype=np.float32)[[STEMS.index(s) for s in stems]]
        self._pitched = [i for i, s in enumerate(stems) if s in PITCHED_STEMS]  # drums have no grid to be put on
        self._roots = [self.stems[i] == "bass" for i in self._pitched]  # a bass plays its chords' roots
        self._voicing = [generator.voicing_stretch.get(self.stems[i], 1.0) for i in self._pitched]
        self._gains = linear_gains(generator.makeup_gain_db, self.stems)
        self._key = jax.random.key(seed)
        # One decode seed per stream: each step decodes its columns at their place in the stream
        # (`Codec.decode`'s start_column), so its lead-in plays the samples the client already holds.
        self._decode_seed = int(np.random.SeedSequence([seed]).generate_state(1)[0])
        middle = silence_latent(codec, self.width)
        self._silence = np.broadcast_to(middle, (len(stems), middle.shape[0]))
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next step starts a new stream at sample 0."""
        self.position = 0  # P of the last step (0 before the first)
        self.steps_taken = 0
        self._audio = np.zeros(0, np.float32)  # samples [P - its length, P) of the stream
        self._continuation = PeriodicContinuation(self.codec.sample_rate)
        self._encoder = stream_encoder(self.codec)  # keeps the analysis of what was played
        self._latents: dict[int, np.ndarray] = {}

    def step(self, audio: np.ndarray, end: int | None = None) -> StepResult:
        """Advance to playback position `end` (default: one step on) given the `step_size` samples
        before it, and return the accompaniment for [W0 - fade, W1). Bad input is a one-line
        ValueError and leaves the engine unchanged."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.shape != (self.step_size,):
            raise ValueError(f"a step takes {self.step_size} mono samples, got an array of shape {audio.shape}")
        if not np.all(np.isfinite(audio)):
            raise ValueError("the step's audio contains NaN or infinite samples")
        end = self.position + self.step_size if end is None else int(end)
        if end < self.position:
            raise ValueError(f"the playback position cannot go back from {self.position} to {end}; reset() first")
        plan = plan_step(end, self.step_size, self.settings.w, self.settings.fade_samples, self.width, self.codec.hop)

        start = time.perf_counter()
        history = np.zeros(min(end, self._kept), np.float32)
        _overlay(history, end - history.shape[0], self._audio, self.position - self._audio.shape[0])
        _overlay(history, end - history.shape[0], audio, end - self.step_size)
        context_audio = np.zeros(plan.playback - plan.window_start, np.float32)
        _overlay(context_audio, plan.window_start, history, end - history.shape[0])
        encoded = np.zeros(self.width * self.codec.hop + self.codec.pad, np.float32)
        encoded[:context_audio.shape[0]] = context_audio
        model_plan = plan
        if self.generator.continues_context:
            guess = self._continuation(history, end, encoded.shape[0] - context_audio.shape[0])
            if guess is not None:
                encoded[context_audio.shape[0]:] = guess
                model_plan = dataclasses.replace(plan, first_masked=self.width)
        self._encoder.forget_from(end - self.step_size)  # a step may deliver samples again, changed
        context = self._encoder(encoded, plan.window_start, context_audio.shape[0])
        encoded_at = time.perf_counter()

        source = self._columns(self._latents, plan.window_column, plan.window_column + self.width)
        window = self.generator(model_plan, source, context, self._labels,
                                jax.random.fold_in(self._key, self.steps_taken))
        sampled_at = time.perf_counter()
        if self.generator.tuning != "off" and self._pitched:
            window = np.array(window)
            band = None if self.generator.tuning != "chord" else HeardBand(  # a partly heard column counts as heard
                encoded, -(-context_audio.shape[0] // self.codec.hop), self._continuation.song(history, end))
            window[self._pitched] = self.codec.in_tune(window[self._pitched], context, band, self._roots, self._voicing)

        oldest = min(plan.window_column, plan.decode_start_column)  # later steps reach no further back
        latents = {c: v for c, v in self._latents.items() if c >= oldest}
        for j in range(plan.first_generated, self.width):
            latents[plan.window_column + j] = window[:, :, j]
        decoded = self.codec.decode(self._columns(latents, plan.decode_start_column, plan.decode_end_column),
                                    seed=self._decode_seed, start_column=plan.decode_start_column)
        out = raise_parts(decoded[:, plan.cut:plan.cut + plan.length], self._gains)
        if self.ramp_lead_in:
            fade = self.settings.fade_samples
            out[:, :fade] *= np.linspace(0.0, 1.0, fade, dtype=np.float32)
        decoded_at = time.perf_counter()

        self._audio = history
        self._latents = latents
        self.position = end
        self.steps_taken += 1
        timings = {"encode_ms": 1e3 * (encoded_at - start), "sample_ms": 1e3 * (sampled_at - encoded_at),
                   "decode_ms": 1e3 * (decoded_at - sampled_at)}
        return StepResult(plan.write_start, dict(zip(self.stems, out)), timings, plan, self._decode_seed)

    def _columns(self, latents: dict[int, np.ndarray], start: int, end: int) -> np.ndarray:
        """[stems, channels, end - start] latents of absolute columns [start, end), silence where none."""
        return np.stack([latents.get(c, self._silence) for c in range(start, end)], axis=-1)
