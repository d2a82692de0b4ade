"""`python -m jaxaccomp.eval`: the streaming regime sweep over a test split, with reference rows.

Every song of the split is accompanied from start to end through the same streaming engine as the
server (`jaxaccomp.accompany`): for each model, each valid (r, w) regime and each stem, the context is
the sum of the other three stems, and the generated stem is scored against it. Five reference rows
per song and stem (ground truth, random pairing, silence, half-beat shift, codec round trip) go
through the same metric pipeline. The first --skip seconds of every song, before the latest
regime's first written sample, are left out of every metric; context and stems are each
loudness-normalised to -18 LUFS.

Results under --out: clips/ (per clip JSON, embeddings and the scored audio; a rerun skips finished
clips and only adds missing metrics), results.{csv,json} (per clip), summary.{csv,json}
(aggregated, with normalised scores and settings) and plots/<metric>.png. Data: a folder with
<split>/ holding Slakh2100 tracks or songs rendered by `python -m jaxaccomp.data.render`;
--render-songs renders that many procedural songs into it first.

--quick is the tuning mode (about 9 min on 2 cores with the shipped models): 6 rendered songs of 30 s,
the look-ahead regime r = 1/4, w = 1, all four stems, the cheap metrics and the reference rows that
anchor them (its defaults are listed under --quick; any flag given explicitly wins).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from jaxaccomp import stop_gate
from jaxaccomp.constants import SAMPLE_RATE, STEMS
from jaxaccomp.data.slakh import SPLITS, load_split
from jaxaccomp.eval import metrics, paper, plots, report, runner
from jaxaccomp.eval.clips import (ANCHORS, PARTNER_DRAWS, REFERENCES, Clip, Regime, check_source_name, grid,
                                  random_partners)
from jaxaccomp.runtime import Runtime
from jaxaccomp.stream_settings import VALID_W, StreamSettings, ratio
from jaxaccomp.streaming.generator import DEFAULT_STEPS, sigma_schedule
from jaxaccomp.streaming.models import (DEMO_MODELS, MODELS_DIR, add_sampling_arguments, recommended_continuation,
                                        recommended_guidance, sampling_steps)

DEFAULT_R = ("1/8", "1/4", "1/2", "1")
SETTINGS_FILE = "settings.json"
QUICK = ("--data", "eval-quick/data", "--out", "eval-quick/results", "--render-songs", "6", "--render-seconds", "30",
         "--songs", "6", "--r", "1/4", "--w", "1", "--metrics", "beat_f1", "coherence_ours", "onset_corr",
         "chroma_corr", "in_tune", "in_chord", "pitched", "--references", "ground_truth", "random_pairing", "codec_round_trip", "--workers", "2")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jaxaccomp.eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("data"), help="dataset folder holding <split>/ (default: data)")
    p.add_argument("--split", choices=SPLITS, default="test", help="split to evaluate (default: test)")
    p.add_argument("--songs", type=int, help="evaluate only the first N tracks of the split (default: all)")
    p.add_argument("--render-songs", type=int, metavar="N",
                   help="first render N procedural songs into --data/--split (finished ones are kept)")
    p.add_argument("--render-seconds", type=float, default=60.0, help="length of rendered songs (default: 60)")
    p.add_argument("--render-seed", type=int, default=0, help="dataset seed of rendered songs (default: 0)")
    p.add_argument("--checkpoint", type=Path, action="append", dest="checkpoints",
                   help="model directory to evaluate, named by its folder; repeat for several (default: the "
                        f"shipped {MODELS_DIR}/{DEMO_MODELS['diffusion']} and {DEMO_MODELS['consistency']})")
    p.add_argument("--codec", choices=("auto", "embedded", "music2latent"),
                   help="codec for every model and the codec_round_trip row (default: each checkpoint's own; "
                        "the row's is the one the models share)")
    p.add_argument("--diffusion-steps", type=int,
                   help=f"ADPM2 noise levels (default: the checkpoint's recommendation, else {DEFAULT_STEPS['diffusion']})")
    p.add_argument("--consistency-steps", type=int,
                   help="consistency sampling steps (default: the checkpoint's recommendation, else "
                        f"{DEFAULT_STEPS['consistency']})")
    add_sampling_arguments(p)
    Runtime.add_arguments(p)
    p.add_argument("--r", type=ratio, nargs="+", default=[ratio(r) for r in DEFAULT_R],
                   help="step ratios, fractions allowed (default: 1/8 1/4 1/2 1)")
    p.add_argument("--w", type=int, nargs="+", choices=VALID_W, default=list(VALID_W),
                   help="write windows (default: -1 0 1); r x w combinations the engine refuses are skipped")
    p.add_argument("--stems", nargs="+", choices=STEMS, default=list(STEMS), help="stems (default: all four)")
    p.add_argument("--metrics", nargs="+", default=None,
                   help=f"metrics (default: {', '.join(metrics.available())}, plus the paper's metrics of each "
                        f"weights file given below: {', '.join(metrics.PAPER_METRICS)})")
    StreamSettings.add_arguments(p, r_and_w=False)
    stop_gate.add_argument(p)
    p.add_argument("--skip", type=float, default=3.0,
                   help="seconds at the start of every song left out of every metric; at least the latest first "
                        "written sample of the grid, (1+w) r T (default: 3, enough for every default regime)")
    p.add_argument("--references", nargs="+", choices=REFERENCES, default=list(REFERENCES), metavar="NAME",
                   help=f"reference rows among {', '.join(REFERENCES)} (default: all); {' and '.join(ANCHORS)} are "
                        "always scored: normalised scores and set metrics are computed against them")
    p.add_argument("--seed", type=int, default=0, help="sampling and random-pairing seed (default: 0)")
    p.add_argument("--random-partners", choices=PARTNER_DRAWS, default="one",
                   help="the random pairing: 'one' other song's stem per song and stem (a seeded draw), or 'all' "
                        "the other songs' stems, scores averaged: steadier on few songs, (songs - 1) times the "
                        "reference's scoring (default: one)")
    p.add_argument("--workers", type=int, default=1, help="processes evaluating clips in parallel (default: 1)")
    p.add_argument("--out", type=Path, default=Path("eval-results"), help="results folder (default: eval-results)")
    p.add_argument("--no-audio", action="store_true",
                   help="do not keep generated audio (a metric added later then needs the clip generated again)")
    p.add_argument("--mixes", action="store_true",
                   help="also write listening mixes: context + stem at +5 dB over an average stem, -18 LUFS")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quick", action="store_true",
                   help=f"tuning mode, about 9 min on 2 cores; the defaults become: {' '.join(QUICK)}")
    for name, what in paper.PAPER_WEIGHTS.items():
        p.add_argument(paper.flag(name), type=Path, metavar="PATH",
                       help=f"also score the paper's {', '.join(metrics.paper_metrics([name]))} with {what}")
    return p


def _models(args: argparse.Namespace) -> tuple[runner.ModelSpec, ...]:
    from jaxaccomp.codec.factory import check_device
    from jaxaccomp.nn.checkpoint import read_meta
    from jaxaccomp.provenance import checkpoint_hash

    paths = args.checkpoints or [MODELS_DIR / name for name in DEMO_MODELS.values()]
    steps = {"diffusion": args.diffusion_steps, "consistency": args.consistency_steps}
    specs = []
    for path in paths:
        meta = read_meta(path)
        mode = meta["mode"]
        count = sampling_steps(meta, steps[mode])
        sigma_schedule(mode, count)  # refuses an impossible step count now, not in a worker
        codec = args.codec or meta["codec"]
        check_device(codec, args.codec_device)
        specs.append(runner.ModelSpec(check_source_name(path.resolve().name), str(path.resolve()), mode,
                                      codec, count, checkpoint_hash(path), args.dtype,
                                      recommended_guidance(meta) if args.guidance is None else args.guidance,
                                      recommended_continuation(meta) if args.continuation is None else args.continuation,
                                      args.tuning))
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"two checkpoints share the folder name of {names}: rename one (the name labels its rows)")
    return tuple(specs)


ACCUMULATING = {"models": "model", "weights": "weights of"}  # settings a later run may add to, not change


def _check_settings(out: Path, settings: dict) -> None:
    """Refuse a results folder made with other settings; record these (models and paper weights accumulate,
    and a setting the folder does not record yet, such as a reference row's codec, is added)."""
    path = out / SETTINGS_FILE
    if path.is_file():
        old = {"stop_gate": "off", **json.loads(path.read_text())}  # folders from before the gate were made without it
        for model in old.get("models", {}).values():
            model.setdefault("tuning", "off")  # and before the notes were put in tune, without that
        changed = [key for key in settings if key not in ACCUMULATING and old.get(key, settings[key]) != settings[key]]
        changed += [f"{label} {name}" for key, label in ACCUMULATING.items() for name, value in settings[key].items()
                    if name in old.get(key, {}) and old[key][name] != value]
        if changed:
            raise ValueError(f"{out} holds results made with other settings ({', '.join(changed)}); use another --out")
        settings = {**old, **settings, **{key: {**old.get(key, {}), **settings[key]} for key in ACCUMULATING}}
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=1) + "\n")


def _metrics(args: argparse.Namespace) -> tuple[tuple[str, ...], dict[str, str]]:
    """The metrics to compute and the paper metrics' weights files (flag name -> path), each file
    loaded now so that a wrong one is refused before any clip is scored."""
    weights = {name: str(getattr(args, name).resolve()) for name in paper.PAPER_WEIGHTS
               if getattr(args, name) is not None}
    names = tuple(dict.fromkeys(args.metrics or [*metrics.available(), *metrics.paper_metrics(list(weights))]))
    metrics.get(names)
    unweighted = [name for name in names
                  if name in metrics.PAPER_METRICS and metrics.PAPER_METRICS[name] not in weights]
    if unweighted:
        name = metrics.PAPER_METRICS[unweighted[0]]
        raise ValueError(f"metric {unweighted[0]} needs {paper.flag(name)} PATH, {paper.PAPER_WEIGHTS[name]}")
    for name, path in weights.items():
        paper.load(name, path)
    return names, weights


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; with --quick, QUICK's flags go first so that explicit ones override them."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    return parser.parse_args([*QUICK, *argv]) if args.quick else args


def _round_trip_codec(args: argparse.Namespace, models: tuple[runner.ModelSpec, ...]) -> str:
    """The codec_round_trip row's codec: --codec, else the one every model uses."""
    codecs = sorted({model.codec for model in models})
    if args.codec is None and len(codecs) > 1:
        raise ValueError(f"the models use different codecs ({', '.join(codecs)}): choose the codec_round_trip "
                         "row's with --codec, or leave the row out with --references")
    return args.codec or codecs[0]


def main(argv: Sequence[str] | None = None) -> int:
    start = time.monotonic()
    args = parse_args(argv)
    runner.start_process(args.device)  # before anything starts JAX
    names, weights = _metrics(args)
    stems = list(dict.fromkeys(args.stems))
    if args.workers < 1 or (args.songs is not None and args.songs < 1):
        raise ValueError("--workers and --songs must be at least 1")
    regimes, skipped = _regimes(args)
    models = _models(args)
    references = [name for name in REFERENCES if name in (*ANCHORS, *args.references)]
    round_trip = {"round_trip_codec": _round_trip_codec(args, models)} if "codec_round_trip" in references else {}
    if args.render_songs:
        from jaxaccomp.data.render import render_dataset

        render_dataset(args.data, args.render_songs, args.split, args.render_seed, args.workers,
                       seconds=args.render_seconds, progress=not args.no_progress)
    if not (args.data / args.split).is_dir():
        raise FileNotFoundError(f"{args.data / args.split} not found: give --data a folder of rendered songs or a "
                                "Slakh2100 copy, or render a test set there with --render-songs N")
    split = load_split(args.data, args.split)
    tracks = [track.id for track in split.tracks][:args.songs]
    partners = random_partners(tracks, stems, args.seed, args.random_partners)
    job = runner.Job(str(args.data), args.split, str(args.out), models, names, args.window, args.fade,
                     round(args.skip * SAMPLE_RATE), args.seed, keep_audio=not args.no_audio, mixes=args.mixes,
                     weights=tuple(sorted(weights.items())), device=args.device, codec_device=args.codec_device,
                     stop_gate=args.stop_gate == "on", **round_trip)
    _check_settings(args.out, {"data": str(split.directory.resolve()), "window": args.window, "fade": args.fade,
                               "skip_s": args.skip, "seed": args.seed,
                               "stop_gate": args.stop_gate,
                               "models": {m.name: {k: v for k, v in asdict(m).items() if k != "name"} for m in models},
                               "weights": weights, **round_trip})
    tasks = [runner.Task(job, Clip(source, None, track, stem),
                         partners[(track, stem)] if source == "random_pairing" else ())
             for source in references for track in tracks for stem in stems]
    tasks += [runner.Task(job, Clip(model.name, regime, track, stem))
              for model in models for regime in regimes for track in tracks for stem in stems]
    print(f"{len(tracks)} songs x {len(stems)} stems: {len(references)} reference rows and {len(models)} "
          f"model(s) x {len(regimes)} regimes = {len(tasks)} clips", file=sys.stderr)
    ran = runner.run(tasks, args.workers, progress=not args.no_progress, device=args.device)
    info = {"settings": json.loads((args.out / SETTINGS_FILE).read_text()), "tracks": tracks, "stems": stems,
            "regimes": [r.label for r in regimes], "skipped_regimes": {r.label: reason for r, reason in skipped},
            "metrics": {m.name: m.description for m in metrics.get(names)}, "random_partners": args.random_partners}
    written = _report(args.out, [task.clip for task in tasks], names, stems, args.window, args.fade, info)
    print(f"{ran} clips evaluated, {len(tasks) - ran} already done; wrote {', '.join(str(p) for p in written)}",
          file=sys.stderr)
    print(f"wall time {(time.monotonic() - start) / 60:.1f} min", file=sys.stderr)
    return 0


def _regimes(args: argparse.Namespace) -> tuple[list[Regime], list[tuple[Regime, str]]]:
    """The grid's valid regimes and the skipped ones (listed on stderr); checks --skip covers them."""
    regimes, skipped = grid(args.r, args.w, args.window, args.fade)
    for regime, reason in skipped:
        print(f"skipping r={regime.r:g} w={regime.w}: {reason}", file=sys.stderr)
    if not regimes:
        raise ValueError("no valid (r, w) regime in the grid")
    latest = max(regimes, key=lambda regime: regime.settings(args.window, args.fade).first_written)
    first = latest.settings(args.window, args.fade).first_written
    if first > round(args.skip * SAMPLE_RATE):
        raise ValueError(f"--skip {args.skip:g} s is before the first sample r={latest.r:g} w={latest.w} writes "
                         f"({first / SAMPLE_RATE:g} s); raise --skip")
    return regimes, skipped


def _report(out: Path, clips: list[Clip], names: tuple[str, ...], stems: list[str], window: int, fade: float,
            info: dict) -> list[Path]:
    """Aggregate, write the tables and plots, print the all-stems summary; returns the files written."""
    rows = report.clip_rows(out, clips, window, fade)
    summary = report.summarize(out, clips, rows, names)
    written = report.write(out, rows, summary, info)
    written += plots.plot(summary, names, [*stems, report.ALL_STEMS], out / "plots")
    _print_summary(summary, names)
    return written


def _print_summary(summary: list[dict], names: tuple[str, ...]) -> None:
    """The all-stems rows as a plain table on stdout."""
    chosen = metrics.get(names)
    columns = [m.name if isinstance(m, metrics.SetMetric) else f"{m.name}_mean" for m in chosen]
    columns += [f"{m.name}_norm" for m in chosen if not isinstance(m, metrics.SetMetric)]
    columns += ["level_db_mean"]  # the parts' loudness against the real ones (metrics see normalised audio)
    print("\t".join(["source", "regime", "lookahead_s", *columns]))
    for row in summary:
        if row["stem"] == report.ALL_STEMS:
            cells = [row["source"], row["regime"], "" if row["lookahead_s"] is None else f"{row['lookahead_s']:+.2f}"]
            cells += ["" if row.get(c) is None else f"{row[c]:.4g}" for c in columns]
            print("\t".join(cells))
