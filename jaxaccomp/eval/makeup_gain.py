"""`python -m jaxaccomp.eval.makeup_gain RESULTS`: the make-up gain per stem a model should recommend.

A model trained here generates its parts some decibels below the real parts they stand in for, and
the stop gate takes a little more; every metric normalises loudness and cannot see it, but a
musician hears a quiet band-mate (docs/streaming.md, "A part's level"). The evaluation records each
clip's `level_db`: the part's loudness as the clients play it (raised by the checkpoint's gain,
through the stop gate) minus the real part's. Over a finished evaluation of one model on
development songs this prints, per stem, the median `level_db` and the gain that would have brought
it to 0 (the gain in effect minus the median), and with `--write` records those gains in the
checkpoint's `meta.json`, where every front end reads them (`streaming.models.load_model`).

The median, not the mean: one song whose part came out very quiet should not make every other
song's part loud. Calibrate on songs you will not report on, since the gain is chosen on them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxaccomp.constants import STEMS
from jaxaccomp.eval.compare import load_run, model_source
from jaxaccomp.nn.checkpoint import META_FILE, read_meta, write_meta
from jaxaccomp.provenance import checkpoint_hash
from jaxaccomp.streaming.models import MAKEUP_GAIN_KEY as GAIN_KEY, recommended_makeup_gain

DECIMALS = 1  # dB: finer than one song's spread is not measured


def stem_levels(rows: list[dict], source: str) -> dict[str, list[float]]:
    """stem -> the `level_db` of every clip of `source` that has one (silent parts have none)."""
    levels: dict[str, list[float]] = {}
    for row in rows:
        if row["source"] == source and row.get("level_db") is not None:
            levels.setdefault(row["stem"], []).append(float(row["level_db"]))
    return levels


def recommend(levels: dict[str, list[float]], gains_now: dict[str, float]) -> dict[str, dict]:
    """stem -> the clips' level statistics, the gain they were played with and the gain recommended."""
    out = {}
    for stem in STEMS:
        if stem not in levels:
            continue
        values = np.asarray(levels[stem])
        now = gains_now.get(stem, 0.0)
        median = float(np.median(values))
        out[stem] = {"clips": int(values.size), "median_db": median, "mean_db": float(values.mean()),
                     "min_db": float(values.min()), "max_db": float(values.max()), "gain_now_db": now,
                     "gain_db": round(now - median, DECIMALS)}
    return out


def checkpoint_of_run(summary: dict, source: str) -> Path:
    """The checkpoint folder the run evaluated as `source`, refused if its files changed since."""
    model = summary.get("settings", {}).get("models", {}).get(source)
    if not model or "checkpoint" not in model:
        raise ValueError(f"the run does not record the checkpoint of {source!r}")
    path = Path(model["checkpoint"])
    if not (path / META_FILE).is_file():
        raise FileNotFoundError(f"the checkpoint the run evaluated, {path}, is not there any more")
    now = checkpoint_hash(path)
    if now != model.get("sha256"):
        raise ValueError(f"{path} changed since the run (hash {now}, the run's {model.get('sha256')}): "
                         "its parts were played with other settings; evaluate it again")
    return path


def write_gains(checkpoint: Path, gains: dict[str, float], force: bool) -> None:
    """Record `gains` in the checkpoint's metadata (`write_meta`: a failure leaves the old file whole);
    an existing recommendation is replaced only with `force`."""
    meta = read_meta(checkpoint)
    sampling = meta.setdefault("sampling", {})
    if GAIN_KEY in sampling and not force:
        raise FileExistsError(f"{checkpoint / META_FILE} already recommends {GAIN_KEY} {sampling[GAIN_KEY]}; "
                              "add --force to replace it")
    sampling[GAIN_KEY] = {**sampling.get(GAIN_KEY, {}), **gains}
    write_meta(checkpoint, meta)


def print_table(source: str, regimes: list[str], table: dict[str, dict]) -> None:
    print(f"{source}, {len(regimes)} regime(s): {', '.join(regimes)}; level against the real part, dB")
    print(f"{'stem':8s} {'clips':>5s} {'median':>7s} {'mean':>7s} {'min':>7s} {'max':>7s} {'gain now':>9s} {'gain':>7s}")
    for stem, row in table.items():
        print(f"{stem:8s} {row['clips']:5d} {row['median_db']:+7.2f} {row['mean_db']:+7.2f} {row['min_db']:+7.2f} "
              f"{row['max_db']:+7.2f} {row['gain_now_db']:+9.1f} {row['gain_db']:+7.1f}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jaxaccomp.eval.makeup_gain", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", type=Path, help="a finished `python -m jaxaccomp.eval` results folder (stop gate on)")
    p.add_argument("--source", help="the model's rows to use (default: the folder's only model)")
    p.add_argument("--write", action="store_true",
                   help="record the recommended gains in the evaluated checkpoint's meta.json")
    p.add_argument("--json", type=Path, help="also write the table to this JSON file")
    p.add_argument("--force", action="store_true",
                   help="replace a gain the checkpoint already recommends, or an existing --json file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.json is not None and args.json.exists() and not args.force:
        raise FileExistsError(f"{args.json} exists: choose another --json or add --force")
    summary, rows = load_run(args.results)
    source = model_source(rows, args.results, args.source)
    if summary.get("settings", {}).get("stop_gate", "off") != "on":
        raise ValueError(f"{args.results} was evaluated without the stop gate; the clients play through it, so "
                         "calibrate on a run with --stop-gate on")
    checkpoint = checkpoint_of_run(summary, source)
    levels = stem_levels(rows, source)
    if not levels:
        raise ValueError(f"no clip of {source} in {args.results} records a level (evaluated before level_db existed?)")
    table = recommend(levels, recommended_makeup_gain(read_meta(checkpoint)))
    regimes = sorted({row["regime"] for row in rows if row["source"] == source})
    print_table(source, regimes, table)
    gains = {stem: row["gain_db"] for stem, row in table.items()}
    if args.write:
        write_gains(checkpoint, gains, args.force)
        print(f"wrote {GAIN_KEY} {gains} to {checkpoint / META_FILE}", file=sys.stderr)
    if args.json is not None:
        args.json.write_text(json.dumps({"results": str(args.results), "source": source, "checkpoint": str(checkpoint),
                                         "regimes": regimes, "stems": table}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    from jaxaccomp.cli import run

    run(main)
