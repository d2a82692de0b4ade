"""`python -m jaxaccomp.eval.step_pulse RESULTS`: how strongly each streamed part pulses at the step rate.

Each engine step hands the part over to a new sample of the model. Where the new sample differs from
the audio the client already plays (another timbre, level or note), the part changes at once: an
onset the song did not play, at the step rate whatever the song's tempo (2.7 Hz at r = 1/16, 0.67 Hz
at r = 1/4). A beat tracker hears it, and so does a listener. Here the kept audio of every model clip
of a finished evaluation (`python -m jaxaccomp.eval`, without --no-audio) is read back, its onset
strength (librosa's spectral flux) folded on the step grid, and `step_pulse` is the mean onset
strength over the first eighth of each step against the whole step's mean: 1 when the part ignores
the step grid, as a real part does. Per source, regime and stem: the mean ± standard error over
clips and the folded profile.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from jaxaccomp.cli import add_json_output, check_json_output, run
from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.stream_settings import StreamSettings

BINS = 16  # phases of one step the onset strength is folded into
PULSE_BINS = BINS // 8  # the step's first eighth: where a handed-over part changes
ONSET_HOP = 256  # samples per onset-strength frame (5.8 ms)


def folded_onsets(audio: np.ndarray, first_sample: int, step: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """[BINS] mean onset strength of mono `audio` (whose sample 0 is absolute sample `first_sample` of the
    stream) per phase of the step grid, bin 0 starting where a step's content starts; over its mean."""
    strength = librosa.onset.onset_strength(y=np.asarray(audio, np.float32), sr=sample_rate, hop_length=ONSET_HOP)
    centres = first_sample + np.arange(strength.shape[0]) * ONSET_HOP + ONSET_HOP // 2
    phase = np.minimum((centres % step) * BINS // step, BINS - 1)
    counts = np.bincount(phase, minlength=BINS)
    if counts.min() == 0 or not np.any(strength):
        raise ValueError(f"{audio.shape[0]} samples of audio do not fold on a {step}-sample step (too short or silent)")
    profile = np.bincount(phase, weights=strength, minlength=BINS) / counts
    return profile / profile.mean()


def step_pulse(profile: np.ndarray) -> float:
    """Onset strength over the first eighth of a step against the step's mean (1: no pulse)."""
    return float(np.mean(profile[:PULSE_BINS]))


def pulses(folder: Path) -> list[dict]:
    """One row per (source, regime, stem) of the model clips in a finished results folder."""
    settings_path, results_path = folder / "settings.json", folder / "results.json"
    for path in (settings_path, results_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: give a results folder of a finished `python -m jaxaccomp.eval` run")
    settings = json.loads(settings_path.read_text())
    skip = round(settings["skip_s"] * SAMPLE_RATE)
    groups: dict[tuple[str, str, str], list[np.ndarray]] = {}
    for row in json.loads(results_path.read_text()):
        if row.get("r") is None:
            continue  # a reference row: no stream, no kept audio
        audio_path = folder / "clips" / row["source"] / row["regime"] / f"{row['track']}-{row['stem']}.flac"
        if not audio_path.is_file():
            raise FileNotFoundError(f"{audio_path} not found: the run kept no audio (--no-audio); evaluate again with it")
        step = StreamSettings(settings["window"], row["r"], row["w"], settings["fade"]).step
        audio = sf.read(str(audio_path), dtype="float32")[0]
        groups.setdefault((row["source"], row["regime"], row["stem"]), []).append(folded_onsets(audio, skip, step))
    if not groups:
        raise ValueError(f"{folder} holds no model clips")
    rows = []
    for (source, regime, stem), profiles in sorted(groups.items()):
        values = [step_pulse(p) for p in profiles]
        error = float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
        rows.append({"source": source, "regime": regime, "stem": stem, "clips": len(values),
                     "step_pulse": float(np.mean(values)), "step_pulse_se": error,
                     "profile": [round(float(x), 4) for x in np.mean(profiles, axis=0)]})
    return rows


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jaxaccomp.eval.step_pulse", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", type=Path, help="results folder of a finished evaluation that kept its audio")
    add_json_output(p, "the rows")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_json_output(args)
    rows = pulses(args.results)
    print("source\tregime\tstem\tclips\tstep pulse ± SE\tprofile (bin 0: a step's content starts)")
    for row in rows:
        print(f"{row['source']}\t{row['regime']}\t{row['stem']}\t{row['clips']}\t"
              f"{row['step_pulse']:.2f} ± {row['step_pulse_se']:.2f}\t" + " ".join(f"{x:.2f}" for x in row["profile"]))
    if args.json is not None:
        args.json.write_text(json.dumps({"results": str(args.results), "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    run(main)
