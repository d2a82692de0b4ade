"""Offline accompaniment: the streaming engine run over a whole file, as fast as the machine allows.

Each step sees exactly what a live client would have sent by then (the last `step` samples of the
context, nothing later) and its output is written the way the Max external writes a reply: a
linear crossfade over the lead-in from what the track already holds, then the content window. So a
file rendered here is what a live session with the same settings would have recorded. As in the
live system, the first step comes at playback position `step` (the Max external's first step after
a reset), so the accompaniment is silent until the first step's lead-in at (1 + w) step - fade.
Played back, the parts then go through the clients' stop gate (`jaxaccomp.stop_gate`): silent while
the band is, unless `stop_gate=False`.

Input is a mixture (1 or 2 channels, averaged to mono) or one channel per stem in the order bass,
drums, guitar, piano; then the context is the sum of the channels that are not generated (the Max
external's send_mode 0), and the generated stems' own channels are ignored. Other sample rates are
resampled to 44.1 kHz (see `jaxaccomp.tracks`); the output is always 44.1 kHz, one channel per requested stem.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from jaxaccomp import stop_gate as gate
from jaxaccomp.cli import interruptible
from jaxaccomp.codec.base import Codec
from jaxaccomp.compile_cache import enable_compile_cache
from jaxaccomp.constants import SAMPLE_RATE, STEMS
from jaxaccomp.provenance import checkpoint_hash, provenance
from jaxaccomp.runtime import Runtime
from jaxaccomp.stream_settings import StreamSettings
from jaxaccomp.streaming.engine import StreamingEngine
from jaxaccomp.streaming.generator import DEFAULT_STEPS, Predictor
from jaxaccomp.streaming.models import (DEFAULT_MODE, DEMO_MODELS, MODELS_DIR, MODES, add_sampling_arguments, default_checkpoint,
                                        load_model)
from jaxaccomp.tracks import check_output, crossfade_into, read_context, resample, steps_to_cover, write_audio

MIX_PEAK = 0.99  # the loudest sample a --mix may hold


def accompany(context: np.ndarray, sample_rate: int, codec: Codec, generator: Predictor, stems: Sequence[str], *,
              settings: StreamSettings = StreamSettings(), seed: int = 0, stop_gate: bool = True,
              progress: bool = False) -> np.ndarray:
    """[len(stems), L] float32 accompaniment at 44.1 kHz for the mono `context` (L = its length at 44.1 kHz).

    `settings` and `seed` are the engine's (`StreamingEngine`); `stop_gate` applies the clients' playback
    gate (`jaxaccomp.stop_gate`); `progress` shows a tqdm bar.
    """
    context = np.asarray(context, np.float32)
    if context.ndim != 1:
        raise ValueError(f"the context must be mono [samples], got shape {context.shape}")
    if not np.all(np.isfinite(context)):
        raise ValueError("the context contains NaN or infinite samples")
    context = resample(context, sample_rate)
    engine = StreamingEngine(codec, generator, stems, settings, seed)
    step, length = engine.step_size, context.shape[0]
    steps = steps_to_cover(length, step, settings.w)
    played = np.zeros(steps * step, np.float32)
    played[:min(length, played.shape[0])] = context[:played.shape[0]]
    out = np.zeros((len(stems), length), np.float32)
    for k in tqdm(range(steps), desc="accompany", unit="step", disable=not progress):
        result = engine.step(played[k * step:(k + 1) * step])
        for track, stem in zip(out, stems):
            crossfade_into(track, result.write_start, result.audio[stem], settings.fade_samples)
    return gate.apply(out, context, SAMPLE_RATE) if stop_gate else out


def seed_number(text: str) -> int:
    """argparse type: a seed, 0 to 2^32 - 1 (what JAX keys and numpy seed sequences take alike)."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= seed < 2**32:
        raise argparse.ArgumentTypeError(f"a seed is 0 to 2^32 - 1, got {seed}")
    return seed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jaxaccomp.accompany", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, help="audio file: a mixture (1-2 channels) or 4 channels, one per stem")
    parser.add_argument("--stem", action="append", required=True, choices=STEMS, dest="stems",
                        help="instrument to generate; repeat for several (each is one batch item)")
    parser.add_argument("--out", type=Path, required=True,
                        help="output audio file at 44.1 kHz, one channel per --stem in the order given; the "
                             "extension picks the format (.wav: float)")
    parser.add_argument("--mix", type=Path, help="also write the context plus every generated stem (mono), scaled "
                                                 "down if it would clip")
    parser.add_argument("--force", action="store_true", help="replace an existing --out or --mix")
    parser.add_argument("--model-rate", action="store_true",
                        help="write at 44.1 kHz, the rate the model hears, instead of the input's rate")
    parser.add_argument("--checkpoint", type=Path,
                        help=f"model directory (default: the demo model of --mode in {MODELS_DIR}: "
                             f"{DEMO_MODELS['consistency']} for consistency, {DEMO_MODELS['diffusion']} for diffusion)")
    parser.add_argument("--codec", choices=("auto", "embedded", "music2latent"),
                        help="codec (default: the one the checkpoint was trained with)")
    parser.add_argument("--mode", choices=MODES,
                        help="diffusion (ADPM2) or consistency sampling; must match the checkpoint "
                             f"(default: the checkpoint's; {DEFAULT_MODE} for the demo model)")
    parser.add_argument("--steps", type=int, help="sampling steps (default: what the checkpoint recommends, else "
                                                  f"{DEFAULT_STEPS['diffusion']} noise levels for diffusion, "
                                                  f"{DEFAULT_STEPS['consistency']} for consistency)")
    add_sampling_arguments(parser)
    Runtime.add_arguments(parser)
    StreamSettings.add_arguments(parser)
    gate.add_argument(parser)
    parser.add_argument("--seed", type=seed_number, default=0, help="seed of the sampler and the decoder (default: 0)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = StreamSettings.from_args(args)  # refused before the slow part (loading and compiling)
    if len(set(args.stems)) != len(args.stems):
        raise ValueError(f"each --stem may be given once, got {', '.join(args.stems)}")
    out_format = check_output(args.out, [args.input], args.force)
    mix_format = None if args.mix is None else check_output(args.mix, [args.input, args.out], args.force)
    context, rate = read_context(args.input, args.stems)
    if sf.info(str(args.input)).channels == 2:
        print(f"{args.input}: stereo, averaged to mono (the model hears one channel)", file=sys.stderr)
    out_rate = SAMPLE_RATE if args.model_rate else rate
    runtime = Runtime.from_args(args)
    runtime.apply()
    enable_compile_cache()
    with interruptible("accompanying (nothing was written)"):
        codec, generator = load_model(args.checkpoint, args.mode, args.codec, args.steps, runtime, args.guidance,
                                      args.continuation, args.tuning)
        peak = float(np.abs(context).max())  # said once every error has had its say
        if peak > 1.0:
            print(f"warning: {args.input} peaks at {peak:.2f}, above full scale (1.0): the models learned from audio "
                  "within it, so scale it down for a faithful accompaniment", file=sys.stderr)
        print(f"running on {generator.describe()}", file=sys.stderr)
        print(f"compiling the {generator.sampler_name()} for {len(args.stems)} stem(s)...",
              file=sys.stderr)
        generator.warm_up(len(args.stems))
        out = accompany(context, rate, codec, generator, args.stems, settings=settings, seed=args.seed,
                        stop_gate=args.stop_gate == "on", progress=True)
    if out_rate != SAMPLE_RATE:  # back to the input's rate, sample for sample as long as the input
        out = np.ascontiguousarray(resample(out.T, SAMPLE_RATE, to=out_rate)[:context.shape[0]].T)
    checkpoint = args.checkpoint or default_checkpoint(args.mode)
    note = {"input": str(args.input), "stems": args.stems, "checkpoint": str(checkpoint),
            "checkpoint_sha256": checkpoint_hash(checkpoint), "mode": generator.mode, "steps": generator.steps,
            "guidance": generator.guidance, "continues_context": generator.continues_context,
            "tuning": generator.tuning, "makeup_gain_db": generator.makeup_gain_db,
            "voicing_stretch": generator.voicing_stretch,
            "withhold_target_max_step_s": generator.withhold_target_max_step_s, "dtype": runtime.dtype,
            "codec": codec.name, "seed": args.seed,
            "stream": asdict(settings), "stop_gate": args.stop_gate, **provenance()}
    write_audio(args.out, out.T, out_rate, out_format, note)
    if mix_format is not None:
        mix = resample(context, rate, to=out_rate) + out.sum(axis=0)
        peak = float(np.abs(mix).max(initial=0.0))
        if peak > MIX_PEAK:  # a mix must not clip: scaled down as a whole, and said so
            mix *= MIX_PEAK / peak
            print(f"{args.mix}: scaled by {20 * np.log10(MIX_PEAK / peak):.1f} dB so that it does not clip",
                  file=sys.stderr)
        write_audio(args.mix, mix, out_rate, mix_format, note)
    print(f"{args.out}: {', '.join(args.stems)}, {out.shape[1] / out_rate:.1f} s at {out_rate} Hz; the first "
          f"{settings.first_written / SAMPLE_RATE:.2f} s are silent (the first step's reply starts there)",
          file=sys.stderr)
    if not np.any(out):
        print(f"warning: {args.out} is silent: the song is shorter than the first step's reply, or the model "
              "generated silence", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from jaxaccomp.cli import run

    run(main)
