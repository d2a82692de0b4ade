"""Aggregation: per-clip rows, per-(source, regime, stem group) summaries, normalised scores, files.

A summary row covers one source (model or reference) in one regime over one stem group (each stem,
and "all" pooling the four). Clip metrics are averaged (mean, std, n; clips with no value, e.g. no
recorded beats, are left out); a set metric compares the group's pooled embedding vectors with those
of the ground-truth stems of the same songs and stems. Each clip metric also gets a normalised
score, (model - random pairing) / (ground truth - random pairing) over the same group: 0 is no better
than a stem from another song, 1 is as good as the real stem. Set metrics get none (the random
pairing holds the same stems as the ground truth, so both distances are about zero by construction).
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from jaxaccomp.eval import metrics
from jaxaccomp.eval.clips import Clip
from jaxaccomp.provenance import provenance

ALL_STEMS = "all"


def clip_rows(out: Path, clips: list[Clip], window: int, fade: float) -> list[dict]:
    """One flat row per clip: identity, look-ahead, generation time, level and metric values."""
    rows = []
    for clip in clips:
        record = json.loads(clip.path(out, ".json").read_text())
        values = {name: value for name, value in record["metrics"].items() if value is not None}
        lookahead = None if clip.regime is None else clip.regime.settings(window, fade).lookahead_seconds
        rows.append({"source": clip.source, "regime": clip.regime_label,
                     "r": record["r"], "w": record["w"], "lookahead_s": lookahead,
                     "track": clip.track, "stem": clip.stem, "seconds": record["seconds"],
                     "song_seconds": record["song_seconds"],
                     "generation_s": record["generation_s"], "level_db": record.get("level_db"), **values})
    return rows


def _stats(values: list[float]) -> dict:
    array = np.asarray(values, np.float64)
    if not array.size:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(array.mean()), "std": float(array.std()), "n": int(array.size)}


def summarize(out: Path, clips: list[Clip], rows: list[dict], names: tuple[str, ...]) -> list[dict]:
    """Summary rows (see the module docstring), models first, in the clips' order."""
    chosen = metrics.get(names)
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for i, clip in enumerate(clips):
        for stem in (clip.stem, ALL_STEMS):
            groups[(clip.source, clip.regime_label, stem)].append(i)
    summary = []
    for (source, regime, stem), members in groups.items():
        first = rows[members[0]]
        row = {"source": source, "regime": regime, "r": first["r"], "w": first["w"],
               "lookahead_s": first["lookahead_s"], "stem": stem, "clips": len(members)}
        generated = [i for i in members if rows[i]["generation_s"] is not None]
        row["generation_rtf"] = (sum(rows[i]["generation_s"] for i in generated)  # wall seconds per song second
                                 / sum(rows[i]["song_seconds"] for i in generated)) if generated else None
        levels = _stats([rows[i]["level_db"] for i in members if rows[i]["level_db"] is not None])
        row.update({f"level_db_{key}": value for key, value in levels.items()})  # LUFS against the real part
        for metric in chosen:
            if isinstance(metric, metrics.SetMetric):
                row[metric.name] = _set_value(out, metric, [clips[i] for i in members])
            else:
                stats = _stats([rows[i][metric.name] for i in members if metric.name in rows[i]])
                row.update({f"{metric.name}_{key}": value for key, value in stats.items()})
        summary.append(row)
    normalise(summary, chosen)
    return sorted(summary, key=lambda r: (r["regime"] == "reference", r["source"], r["w"] or 0, r["r"] or 0))


def _set_value(out: Path, metric: metrics.SetMetric, clips: list[Clip]) -> float:
    def pooled(group: list[Clip]) -> np.ndarray:
        return np.concatenate([np.load(c.path(out, f".{metric.name}.npy")) for c in group])

    truth = [Clip("ground_truth", None, c.track, c.stem) for c in clips]
    return metric.distance(pooled(truth), pooled(clips))


def normalise(summary: list[dict], chosen: tuple[metrics.Metric, ...]) -> None:
    """Add `<metric>_norm` to every row, against the reference rows of the same stem group."""
    by_key = {(row["source"], row["stem"]): row for row in summary if row["regime"] == "reference"}
    for metric in chosen:
        if isinstance(metric, metrics.SetMetric):
            continue
        if not metric.normalised:
            for row in summary:
                row[f"{metric.name}_norm"] = None
            continue
        key = f"{metric.name}_mean"
        for row in summary:
            truth, random = by_key.get(("ground_truth", row["stem"])), by_key.get(("random_pairing", row["stem"]))
            values = (row[key], truth and truth[key], random and random[key])
            span = None if None in values else values[1] - values[2]
            usable = span is not None and not math.isclose(span, 0.0, abs_tol=1e-12)
            row[f"{metric.name}_norm"] = (values[0] - values[2]) / span if usable else None


def write(out: Path, rows: list[dict], summary: list[dict], info: dict) -> list[Path]:
    """results.{csv,json} (per clip) and summary.{csv,json} (aggregated, with `info`) in `out`."""
    written = []
    for name, table in (("results", rows), ("summary", summary)):
        columns = list(dict.fromkeys(key for row in table for key in row))
        with open(out / f"{name}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows(table)
        payload = {**info, "produced_by": provenance(), "rows": table} if name == "summary" else table
        (out / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n")
        written += [out / f"{name}.csv", out / f"{name}.json"]
    return written
