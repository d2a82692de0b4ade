"""Loading a model to serve: a checkpoint's codec and compiled generator, or a shipped demo model.

Every front end (the server, `accompany`, the evaluation, the demo) loads models here, so the
default models and the checks of mode and codec are one definition.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jaxaccomp.codec.base import Codec
from jaxaccomp.runtime import Runtime
from jaxaccomp.streaming.continuation import REPEAT_AFTER_S
from jaxaccomp.streaming.generator import DEFAULT_STEPS, TUNING_NAMES, Generator, check_voicing_stretch
from jaxaccomp.streaming.level import check_gains

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
# The shipped embedded-tier model of each sampling mode (folders of MODELS_DIR).
DEMO_MODELS = {"diffusion": "frames_edm", "consistency": "frames_cd"}
MODES = tuple(DEMO_MODELS)  # "diffusion" (ADPM2) or "consistency": the name checkpoints record
# The shipped student plays as well as its teacher in two thirds of the time (docs/quality.md).
DEFAULT_MODE = "consistency"


def guidance_scale(text: str) -> float:
    """argparse type: a context guidance scale, 0 or more."""
    try:
        scale = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not scale >= 0:
        raise argparse.ArgumentTypeError(f"context guidance is 0 (off) or more, got {text}")
    return scale


CONTINUATIONS = ("periodic", "off")  # what fills the context the musician has not played yet
TUNINGS = (*TUNING_NAMES, "off")  # where the generated notes' pitches go (codec.intonation)


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """--guidance, --continuation and --tuning, as every front end that samples takes them."""
    parser.add_argument("--guidance", type=guidance_scale, metavar="G",
                        help="context guidance: how much harder than trained to follow the song (0: off, the "
                             "reference's sampling; default: what the checkpoint recommends, 0 if it says nothing)")
    parser.add_argument("--continuation", choices=CONTINUATIONS,
                        help="what the model sees where the song is not played yet: 'periodic', the song's last "
                             f"repetition period continued (after {REPEAT_AFTER_S:g} s of sound: what followed the last time the song "
                             "sounded as it does now); 'off', nothing (masked, the reference's sampling); "
                             "default: what the checkpoint recommends, off if it says nothing")
    parser.add_argument("--tuning", choices=TUNINGS, default="chord",
                        help="'chord' (default): every generated note one steady pitch on the band's semitone grid "
                             "and on one of the band's two strongest pitch classes over the note (a bass on the chord's "
                             "root where it is one of them); 'band': on the grid "
                             "only, the note the model chose; "
                             "'off': the pitch as the model samples it, tens of cents off and wavering "
                             "(the embedded codec's parts; Music2Latent's latents hold no pitch to move)")


def recommended_guidance(meta: dict) -> float:
    """The context guidance a checkpoint's metadata recommends (0: none)."""
    return float(meta.get("sampling", {}).get("guidance", 0.0))


def sampling_steps(meta: dict, steps: int | None) -> int:
    """The steps a checkpoint samples with: `steps` if given, else what its metadata recommends, else
    the reference server's (DEFAULT_STEPS of its mode)."""
    if steps is not None:
        return steps
    recommended = meta.get("sampling", {}).get("steps")
    return DEFAULT_STEPS[meta["mode"]] if recommended is None else int(recommended)


def recommended_guided_channels(meta: dict) -> tuple[int, int] | None:
    """The latent rows [lo, hi) a checkpoint's metadata says guidance should act on (None: all)."""
    channels = meta.get("sampling", {}).get("guided_channels")
    return None if channels is None else (int(channels[0]), int(channels[1]))


def recommended_guidance_cap(meta: dict) -> bool:
    """Whether a checkpoint's metadata caps each guided row at the conditional estimate's largest value in it."""
    return bool(meta.get("sampling", {}).get("guidance_cap", False))


def recommended_withhold_target(meta: dict) -> float:
    """The longest step (s) at which a checkpoint's metadata recommends withholding the known target
    from the network (0: never; `Generator`)."""
    return float(meta.get("sampling", {}).get("withhold_target_max_step_s", 0.0))


MAKEUP_GAIN_KEY = "makeup_gain_db"  # in a checkpoint's meta.json "sampling": dB per stem (streaming.level)


def recommended_makeup_gain(meta: dict) -> dict[str, float]:
    """The dB a checkpoint's metadata says to raise each stem's part by (`streaming.level`; none: 0),
    checked: a one-line ValueError for a stem that does not exist or a gain that is not a number."""
    gains = {stem: float(db) for stem, db in meta.get("sampling", {}).get(MAKEUP_GAIN_KEY, {}).items()}
    check_gains(gains)
    return gains


VOICING_KEY = "voicing_stretch"  # in a checkpoint's meta.json "sampling": factor per pitched stem (codec.in_tune)


def recommended_voicing_stretch(meta: dict) -> dict[str, float]:
    """How much more decisively a checkpoint's metadata says to voice each pitched stem's notes (none: 1),
    checked: a one-line ValueError for a stem without notes or a factor below 1."""
    stretch = {stem: float(factor) for stem, factor in meta.get("sampling", {}).get(VOICING_KEY, {}).items()}
    check_voicing_stretch(stretch)
    return stretch


def recommended_continuation(meta: dict) -> str:
    """The context continuation a checkpoint's metadata recommends ("off": none)."""
    return str(meta.get("sampling", {}).get("continuation", "off"))


def default_checkpoint(mode: str | None) -> Path:
    """The shipped model of `mode` (default: DEFAULT_MODE)."""
    checkpoint = MODELS_DIR / DEMO_MODELS[mode or DEFAULT_MODE]
    if not checkpoint.is_dir():
        raise FileNotFoundError(f"no --checkpoint given and the demo model {checkpoint} is not there; "
                                "pass --checkpoint DIR (a model saved by train.py or distill.py)")
    return checkpoint


def load_model(checkpoint: Path | None, mode: str | None, codec_name: str | None,
               steps: int | None, runtime: Runtime = Runtime(), guidance: float | None = None,
               continuation: str | None = None, tuning: str = "chord") -> tuple[Codec, Generator]:
    """The codec and generator of a checkpoint (default: the shipped demo model of `mode`), the network
    computing in `runtime.dtype` and the codec on `runtime.codec_device`. `steps`, `guidance` and
    `continuation` None take what the checkpoint recommends (`sampling` in its metadata; if it says
    nothing, the reference server's steps, no guidance, no continuation); `tuning` "band" puts the generated notes on the band's semitone grid, "chord" there and on its chords (`codec.intonation`)."""
    from jaxaccomp.codec.factory import get_codec
    from jaxaccomp.nn.checkpoint import load_denoiser, read_meta

    checkpoint = default_checkpoint(mode) if checkpoint is None else checkpoint
    meta = read_meta(checkpoint)
    if mode is not None and mode != meta["mode"]:
        raise ValueError(f"{checkpoint} holds a {meta['mode']!r} model but --mode is {mode}; "
                         "drop --mode to use the checkpoint's")
    steps = sampling_steps(meta, steps)
    guidance = recommended_guidance(meta) if guidance is None else guidance
    continuation = recommended_continuation(meta) if continuation is None else continuation
    makeup_gain_db = recommended_makeup_gain(meta)  # checked before anything is loaded
    voicing_stretch = recommended_voicing_stretch(meta)
    if tuning not in TUNINGS:
        raise ValueError(f"tuning must be one of {', '.join(TUNINGS)}, got {tuning!r}")
    if continuation not in CONTINUATIONS:
        raise ValueError(f"{checkpoint} recommends the unknown context continuation {continuation!r}; "
                         f"pass --continuation ({' or '.join(CONTINUATIONS)})")
    codec = get_codec(codec_name or meta["codec"], device=runtime.codec_device)
    denoiser, _ = load_denoiser(checkpoint, expected_codec=codec.name, dtype=runtime.jax_dtype)
    return codec, Generator(denoiser, steps, guidance, continues_context=continuation == "periodic",
                            tuning=tuning,
                            guided_channels=recommended_guided_channels(meta),
                            guidance_cap=recommended_guidance_cap(meta),
                            withhold_target_max_step_s=recommended_withhold_target(meta),
                            makeup_gain_db=makeup_gain_db, voicing_stretch=voicing_stretch)
