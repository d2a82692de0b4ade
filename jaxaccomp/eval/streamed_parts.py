"""What the scenario evaluations share (`eval.events`, `eval.tempo_change`): each streams a stem's part
over audio it builds from a rendered or Slakh song, keeps every part under `<out>/parts/` so that a
rerun streams only what is missing, and refuses, before any model is loaded, a rerun whose parts came
from other settings or that would overwrite its tables without `--force`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxaccomp.constants import SAMPLE_RATE, STEMS
from jaxaccomp.data.slakh import SPLITS, accompaniment
from jaxaccomp.eval.follow import level_difference_db, onset_envelope, pearson
from jaxaccomp.stream_settings import VALID_W, StreamSettings, ratio

PARTS_DIR, SUMMARY_FILE, SETTINGS_FILE = "parts", "summary.json", "settings.json"


def seconds(value: float) -> int:
    return int(round(value * SAMPLE_RATE))


def window_figures(part: np.ndarray, truth: np.ndarray, span: slice) -> dict:
    """The part against the real part over one window: onset correlation, and level in dB."""
    return {"onset": pearson(onset_envelope(part[span]), onset_envelope(truth[span])),
            "level_db": level_difference_db(truth[span], part[span])}


class Streamer:
    """Streams a context for one stem, keeping every part under `folder` so that a rerun resumes."""

    def __init__(self, checkpoint: Path | None, settings: StreamSettings, seed: int, folder: Path):
        from jaxaccomp.streaming.models import load_model

        self.codec, self.generator = load_model(checkpoint, None, None, None)
        self.settings, self.seed, self.folder = settings, seed, folder
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str, stems: np.ndarray, stem: str) -> np.ndarray:
        from jaxaccomp.accompany import accompany

        path = self.folder / f"{name}_{stem}.npy"
        if path.exists():
            return np.load(path)
        part = accompany(accompaniment(stems, STEMS.index(stem)), SAMPLE_RATE, self.codec, self.generator, [stem],
                         settings=self.settings, seed=self.seed)[0]
        np.save(path.with_suffix(".partial.npy"), part)
        path.with_suffix(".partial.npy").replace(path)
        return part


def add_stream_arguments(p: argparse.ArgumentParser, rows_file: str) -> None:
    """The songs, the model and the stream (r, w, seed) a scenario streams, and where its results go."""
    p.add_argument("--split", choices=SPLITS, default="test", help="split (default: test)")
    p.add_argument("--out", type=Path, required=True, help="results folder (a rerun resumes in it)")
    p.add_argument("--checkpoint", type=Path, help="model directory (default: the shipped consistency model)")
    p.add_argument("--stems", nargs="+", choices=STEMS, default=list(STEMS), help="stems (default: all four)")
    p.add_argument("--r", type=ratio, default=ratio("1/4"), help="step ratio (default: 1/4)")
    p.add_argument("--w", type=int, choices=VALID_W, default=1, help="write window (default: 1, look-ahead)")
    p.add_argument("--seed", type=int, default=0, help="the engine's seed (default: 0)")
    p.add_argument("--force", action="store_true", help=f"replace {rows_file} and {SUMMARY_FILE} in --out")


def stream_settings(args: argparse.Namespace, scenario: dict) -> dict:
    """What the streamed parts depend on (the model, r, w, seed and the scenario's own settings): a rerun
    in the same --out must match it to reuse them."""
    from jaxaccomp.provenance import checkpoint_hash
    from jaxaccomp.streaming.models import default_checkpoint

    checkpoint = args.checkpoint if args.checkpoint is not None else default_checkpoint(None)
    return {"checkpoint": str(checkpoint), "sha256": checkpoint_hash(checkpoint), "r": args.r, "w": args.w,
            **scenario, "seed": args.seed}


def check_outputs(out: Path, settings: dict, rows_file: str, force: bool) -> None:
    """Refuse parts streamed with other settings, and tables that would be overwritten without --force."""
    kept = out / PARTS_DIR / SETTINGS_FILE
    if kept.exists() and json.loads(kept.read_text()) != settings:
        raise ValueError(f"the parts in {kept.parent} were streamed with other settings ({kept}); choose another --out")
    for name in (rows_file, SUMMARY_FILE):
        if (out / name).exists() and not force:
            raise FileExistsError(f"{out / name} exists: choose another --out or add --force (the streamed "
                                  f"parts in {out / PARTS_DIR} are reused either way)")


def open_streamer(args: argparse.Namespace, settings: dict) -> Streamer:
    """The model loaded and the parts folder marked with the settings its parts are streamed with."""
    stream = Streamer(args.checkpoint, StreamSettings(r=args.r, w=args.w), args.seed, args.out / PARTS_DIR)
    (args.out / PARTS_DIR / SETTINGS_FILE).write_text(json.dumps(settings, indent=1) + "\n")
    return stream


def write_results(args: argparse.Namespace, rows_file: str, rows: Sequence[dict], summary: dict, settings: dict,
                  songs: Sequence[str], stream: Streamer) -> None:
    """The per-clip rows and the summary, which records how it was made."""
    summary["settings"] = {**settings, "data": str(args.data), "split": args.split, "songs": list(songs),
                           "stems": args.stems, "windows": args.windows, "window_s": args.window,
                           "sampler": stream.generator.sampler_name()}
    (args.out / rows_file).write_text(json.dumps(list(rows), indent=1) + "\n")
    (args.out / SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n")
