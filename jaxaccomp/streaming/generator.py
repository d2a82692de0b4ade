"""One compiled, fixed-shape prediction of a model window: what the streaming engine asks a model for.

The engine talks to a `Predictor`: given a step's plan, the source latent (known target columns),
the context latent and one label per stem, return the whole target window. `Generator` is the real
one around a Denoiser; tests substitute oracles with the same call.

Every step of a stream has the same shapes, and the two mask columns and the PRNG key are traced
arguments, so a Generator compiles once per number of stems and never again while serving: a
compilation would stall the stream for seconds. `compilations` counts traces (each trace is one XLA
compilation) so a server can prove it after `warm_up`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Protocol

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxaccomp.constants import PITCHED_STEMS, SAMPLE_RATE
from jaxaccomp.diffusion.guidance import context_guided
from jaxaccomp.diffusion.masks import column_mask, known_target_context, mask_future_context
from jaxaccomp.diffusion.samplers import (SERVER_ADPM2, SERVER_RESAMPLES, adpm2_inpaint, consistency_sample,
                                          consistency_sigmas, karras_sigmas)
from jaxaccomp.nn.precond import Denoiser, Mode
from jaxaccomp.streaming.level import check_gains
from jaxaccomp.streaming.timeline import StepPlan

# Where the engine puts the generated notes (codec.intonation; 'off': nowhere), and how start-up lines say it.
TUNING_NAMES = {"chord": "in tune with the band, on its chords", "band": "in tune with the band"}
# The reference servers' settings: 5 Karras levels for ADPM2 (server.py), 2 consistency steps (server_CD.py).
DEFAULT_STEPS: dict[str, int] = {"diffusion": SERVER_ADPM2["num_steps"], "consistency": 2}


class Predictor(Protocol):
    """What the engine needs of a model: one window per stem, all stems in one call."""

    width: int  # columns of the model window
    continues_context: bool  # the engine shows it the song's periodic continuation (streaming.continuation)
    tuning: str  # where the engine puts its notes (codec.intonation): 'chord', 'band' (its semitone grid) or 'off'
    makeup_gain_db: Mapping[str, float]  # dB the engine raises each stem's decoded part by (streaming.level)
    voicing_stretch: Mapping[str, float]  # how much more decisively the engine voices each stem's notes (codec.in_tune)

    def __call__(self, plan: StepPlan, source: np.ndarray, context: np.ndarray, labels: np.ndarray,
                 key: jax.Array) -> np.ndarray:
        """source [S, H, W] (columns >= plan.first_generated are ignored), context [H, W] (not yet
        masked), one-hot labels [S, L] -> the target window [S, H, W] as float32 numpy."""
        ...


def check_voicing_stretch(stretch: Mapping[str, float]) -> None:
    """A one-line ValueError unless every key is a pitched stem and every value a finite factor of at least 1."""
    unknown = sorted(set(stretch) - set(PITCHED_STEMS))
    if unknown:
        raise ValueError(f"voicing stretches are per pitched stem ({', '.join(PITCHED_STEMS)}), got {', '.join(unknown)}")
    bad = [stem for stem, factor in stretch.items() if not (np.isfinite(factor) and factor >= 1)]
    if bad:
        raise ValueError(f"the voicing stretch of {', '.join(bad)} must be a finite factor of at least 1 (1: as generated)")


def sigma_schedule(mode: Mode, steps: int) -> np.ndarray:
    """The server's schedule with `steps` levels: Karras (ADPM2, `steps` - 1 iterations) or consistency."""
    if mode == "diffusion":
        if steps < 2:
            raise ValueError(f"diffusion sampling needs at least 2 steps (noise levels), got {steps}")
        return karras_sigmas(**{**SERVER_ADPM2, "num_steps": steps})
    if steps < 1:
        raise ValueError(f"consistency sampling needs at least 1 step, got {steps}")
    return consistency_sigmas(steps)


class Generator:
    """A Denoiser behind one jitted sampler: ADPM2 inpainting for "diffusion", multistep consistency otherwise.

    `steps` counts noise levels for ADPM2 (the server's 5 give 4 iterations x 2 resamples x 2 network
    calls) and network calls for consistency sampling (the server's 2). A network that sees the known
    target columns gets them as conditioning, and ADPM2 then needs no RePaint resampling (1 pass).
    `guidance` > 0 guides every call towards the context (`diffusion.guidance`; each call then runs the
    network on twice the batch), on the output rows `guided_channels` [lo, hi) (None: all), with
    `guidance_cap` no guided value above the largest the plain conditional estimate gives its row.
    `continues_context` asks the engine to fill the context the musician
    has not played yet with the song's periodic continuation (`streaming.continuation`);
    `tuning` asks it to put the generated notes on the band's semitone grid ('band'), there and on the
    band's strongest pitch classes ('chord'), or leave them ('off'; `codec.intonation`).
    A network that sees the known target is shown none of it at steps of at most
    `withhold_target_max_step_s` seconds (0: never), as in its training examples with the target hidden;
    the sampler still keeps the known columns in place. At such small steps nearly the whole target is
    the network's own earlier output (or a stream's starting silence), and a network shown it continues
    it, drifting from notes to noise (docs/training.md, "Withholding the known target at small steps").
    `makeup_gain_db` (stem -> dB) asks the engine to raise those stems' decoded parts (`streaming.level`);
    `voicing_stretch` (stem -> factor of at least 1) to voice those stems' notes more decisively as it
    puts them in tune (`codec.in_tune`; only where `tuning` is not 'off').
    """

    def __init__(self, denoiser: Denoiser, steps: int | None = None, guidance: float = 0.0,
                 continues_context: bool = False, guided_channels: tuple[int, int] | None = None,
                 guidance_cap: bool = False, tuning: str = "chord", withhold_target_max_step_s: float = 0.0,
                 makeup_gain_db: Mapping[str, float] | None = None,
                 voicing_stretch: Mapping[str, float] | None = None):
        if guidance < 0:
            raise ValueError(f"context guidance must be 0 (off) or more, got {guidance:g}")
        height = denoiser.net.config.img_resolution  # the latent image is square: channels x columns
        if not withhold_target_max_step_s >= 0:
            raise ValueError(f"the longest step to withhold the known target at must be 0 (never) or more, "
                             f"got {withhold_target_max_step_s:g} s")
        check_gains(makeup_gain_db or {})
        check_voicing_stretch(voicing_stretch or {})
        if guided_channels is not None and not 0 <= guided_channels[0] < guided_channels[1] <= height:
            raise ValueError(f"guided channels must be a range [lo, hi) within the latent's {height} rows, "
                             f"got {list(guided_channels)}")
        self.mode: Mode = denoiser.mode
        self.steps = DEFAULT_STEPS[self.mode] if steps is None else steps
        self.guidance, self.guided_channels, self.guidance_cap = guidance, guided_channels, guidance_cap
        self.continues_context, self.tuning = continues_context, tuning
        self.makeup_gain_db = dict(makeup_gain_db or {})
        self.voicing_stretch = dict(voicing_stretch or {})
        sees_target = denoiser.conditions_on_target
        self.withhold_target_max_step_s = withhold_target_max_step_s if sees_target else 0.0
        sigmas = jnp.asarray(sigma_schedule(self.mode, self.steps), jnp.float32)
        config = denoiser.net.config
        self.dtype = denoiser.net.dtype  # the network's compute precision (runtime.Runtime.dtype)
        self.width = config.img_resolution
        self.label_dim = config.label_dim
        self.compilations = 0
        graphdef, self._state = nnx.split(denoiser)
        if self.mode == "diffusion":
            resamples = 1 if sees_target else SERVER_RESAMPLES
            sampler = functools.partial(adpm2_inpaint, num_resamples=resamples)
        else:
            sampler = consistency_sample

        def predict(state: nnx.State, source: jax.Array, context: jax.Array, labels: jax.Array,
                    first_generated: jax.Array, first_masked: jax.Array, first_shown: jax.Array,
                    key: jax.Array) -> jax.Array:
            self.compilations += 1  # runs only while tracing
            known = jnp.broadcast_to(column_mask(first_generated, self.width), (source.shape[0], self.width))
            masked = mask_future_context(jnp.broadcast_to(context, source.shape), first_masked)
            if sees_target:  # the known columns before `first_shown` condition the network (0: none)
                masked = known_target_context(masked, source, first_shown)
            denoiser = nnx.merge(graphdef, state)
            denoise = (context_guided(denoiser, guidance, self.width, guided_channels, guidance_cap)
                       if guidance else denoiser)
            return sampler(denoise, key, source, known, masked, labels, sigmas)

        self._jitted = jax.jit(predict)
        self._programs: dict[int, jax.stages.Compiled] = {}  # one compiled prediction per number of stems

    def describe(self) -> str:
        """Where and in what precision it runs, for a start-up line: "cpu, float32 weights", or e.g. "NVIDIA H200
        (gpu), bfloat16 compute, float32 weights" (`--device cpu` chooses the CPU where a GPU is present)."""
        device = jax.devices()[0]
        where = device.device_kind if device.device_kind == device.platform else f"{device.device_kind} ({device.platform})"
        weights = "/".join(sorted({str(leaf.dtype) for leaf in jax.tree.leaves(self._state)}))
        compute = str(jnp.dtype(self.dtype))
        return f"{where}, {weights} weights" if compute == weights else f"{where}, {compute} compute, {weights} weights"

    def sampler_name(self) -> str:
        """What samples, for a start-up line: "diffusion sampler (5 steps, context guidance 3, periodic continuation)"."""
        continuation = "periodic continuation" if self.continues_context else "no continuation"
        continuation += f", {TUNING_NAMES[self.tuning]}" if self.tuning in TUNING_NAMES else ""
        rows = "" if self.guided_channels is None or not self.guidance else " on channels {}-{}".format(
            self.guided_channels[0], self.guided_channels[1] - 1)
        rows += ", capped" if self.guidance and self.guidance_cap else ""
        extras = (f", known target withheld at steps up to {self.withhold_target_max_step_s:g} s"
                  if self.withhold_target_max_step_s else "")
        gains = ", ".join(f"{stem} {db:+g} dB" for stem, db in self.makeup_gain_db.items() if db)
        extras += f", parts raised: {gains}" if gains else ""
        stretched = ", ".join(f"{stem} x{factor:g}" for stem, factor in self.voicing_stretch.items() if factor != 1)
        extras += f", notes voiced decisively: {stretched}" if stretched and self.tuning != "off" else ""
        return f"{self.mode} sampler ({self.steps} steps, context guidance {self.guidance:g}{rows}, {continuation}{extras})"

    def _program(self, num_stems: int) -> jax.stages.Compiled:
        """The compiled prediction for `num_stems` stems, compiled ahead of time on first use.

        Compiled explicitly rather than on a first call, so that warming up costs a compilation (or,
        with the persistent compilation cache, a read from disk) and not a whole prediction; a call
        with other shapes or dtypes is then an error instead of a silent recompilation."""
        if num_stems not in self._programs:
            shape = (num_stems, self.width, self.width)  # the latent image is square: 64 channels x 64 columns
            self._programs[num_stems] = self._jitted.lower(
                self._state, jax.ShapeDtypeStruct(shape, jnp.float32), jax.ShapeDtypeStruct(shape[1:], jnp.float32),
                jax.ShapeDtypeStruct((num_stems, self.label_dim), jnp.float32), jax.ShapeDtypeStruct((), jnp.int32),
                jax.ShapeDtypeStruct((), jnp.int32), jax.ShapeDtypeStruct((), jnp.int32),
                jax.eval_shape(lambda: jax.random.key(0))).compile()
        return self._programs[num_stems]

    def __call__(self, plan: StepPlan, source: np.ndarray, context: np.ndarray, labels: np.ndarray,
                 key: jax.Array) -> np.ndarray:
        out = self._program(source.shape[0])(self._state, np.asarray(source, np.float32),
                                             np.asarray(context, np.float32), np.asarray(labels, np.float32),
                                             np.int32(plan.first_generated), np.int32(plan.first_masked),
                                             np.int32(0 if self.withholds(plan) else plan.first_generated), key)
        return np.asarray(out, dtype=np.float32)

    def withholds(self, plan: StepPlan) -> bool:
        """Whether this step's known target is withheld from the network (see the class docstring)."""
        step_s = (plan.content_end - plan.content_start) / SAMPLE_RATE
        return step_s <= self.withhold_target_max_step_s

    def warm_up(self, num_stems: int) -> float:
        """Compile the prediction for `num_stems` stems (nothing runs); returns the seconds it took."""
        start = time.perf_counter()
        self._program(num_stems)
        return time.perf_counter() - start
