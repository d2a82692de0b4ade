"""`python -m jaxaccomp.eval.compare BASELINE CANDIDATE`: two evaluation runs compared clip by clip.

On 8 songs a model's mean moves by more than most changes worth making, but the same clip (song,
stem, regime, sampling seed) scored twice moves far less: pairing removes the songs' spread. For each
regime both results folders hold, and each clip metric: the candidate's mean difference from the
baseline over the paired clips with its standard error, how many clips it improved, the same per
stem, and each side's normalised score over those clips (pooled over stems, against its own folder's
ground truth and random pairing of the same songs, as `report` normalises). Both folders must score
the same songs (the same data folder); any other setting that differs (the stop gate, a model's
guidance...) is printed as what changed. Every clip metric here is better when higher.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxaccomp.cli import add_json_output, check_json_output, run
from jaxaccomp.eval import metrics, report
from jaxaccomp.eval.clips import ANCHORS, REFERENCE_REGIME, REFERENCES

ClipKey = tuple[str, str, str]  # (regime, track, stem)


def load_run(folder: Path) -> tuple[dict, list[dict]]:
    """(summary.json without its rows, results.json's per-clip rows) of a finished results folder."""
    summary_path, results_path = folder / "summary.json", folder / "results.json"
    for path in (summary_path, results_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: give a results folder of a finished `python -m jaxaccomp.eval` run")
    summary = json.loads(summary_path.read_text())
    summary.pop("rows", None)
    return summary, json.loads(results_path.read_text())


def model_source(rows: list[dict], folder: Path, chosen: str | None) -> str:
    """The model whose clips are compared: `chosen`, or the folder's only model."""
    models = sorted({row["source"] for row in rows if row["source"] not in REFERENCES})
    if chosen is not None:
        if chosen not in models:
            raise ValueError(f"{folder} holds no model {chosen!r} (models: {', '.join(models) or 'none'})")
        return chosen
    if len(models) != 1:
        raise ValueError(f"{folder} holds {len(models)} models ({', '.join(models) or 'none'}): name one with "
                         "--baseline-source / --candidate-source")
    return models[0]


def run_settings(summary: dict, source: str) -> dict:
    """What produced a run's clips of `source`: the folder's settings, that model's, the random pairing's draw."""
    settings = {key: value for key, value in summary.get("settings", {}).items() if key != "models"}
    model = summary.get("settings", {}).get("models", {}).get(source, {})
    return {**settings, **{f"model {key}": value for key, value in model.items()},
            "random_partners": summary.get("random_partners", "one")}


def changed_settings(baseline: dict, candidate: dict) -> list[str]:
    """`key: baseline -> candidate` for every setting (`run_settings`) the runs differ in; refuses other songs."""
    if baseline.get("data") != candidate.get("data"):
        raise ValueError(f"the runs scored different songs ({baseline.get('data')} and {candidate.get('data')}): "
                         "a clip-by-clip comparison needs the same data folder")
    return [f"{key}: {baseline.get(key)} -> {candidate.get(key)}" for key in sorted({*baseline, *candidate})
            if baseline.get(key) != candidate.get(key)]


def _by_clip(rows: list[dict], source: str) -> dict[ClipKey, dict]:
    return {(row["regime"], row["track"], row["stem"]): row for row in rows if row["source"] == source}


def _mean(by_clip: dict[ClipKey, dict], keys: list[ClipKey], name: str) -> float | None:
    """The mean of metric `name` over the clips `keys`, or None unless every one has a value."""
    values = [by_clip[key].get(name) for key in keys if key in by_clip]
    values = [value for value in values if value is not None]
    return float(np.mean(values)) if len(values) == len(keys) else None


def _normalised(anchors: dict[str, dict[ClipKey, dict]], model: dict[ClipKey, dict], keys: list[ClipKey],
                metric: metrics.Metric) -> float | None:
    """The model's normalised score over `keys`, pooled over stems, against its folder's ground truth and
    random pairing (`anchors`, by source) of the same songs and stems."""
    references = [(REFERENCE_REGIME, track, stem) for _, track, stem in keys]
    name = f"{metric.name}_mean"
    group = [{"source": source, "regime": REFERENCE_REGIME, "stem": report.ALL_STEMS,
              name: _mean(anchors[source], references, metric.name)}
             for source in ANCHORS]
    group.append({"source": "model", "regime": keys[0][0], "stem": report.ALL_STEMS,
                  name: _mean(model, keys, metric.name)})
    report.normalise(group, (metric,))
    return group[-1][f"{metric.name}_norm"]


def paired_difference(differences: np.ndarray) -> dict:
    """Clip-by-clip differences (candidate minus baseline) summed up: their mean, its standard error and
    how many clips did better."""
    n = differences.size
    return {"clips": int(n), "difference": float(differences.mean()),
            "standard_error": float(differences.std(ddof=1) / np.sqrt(n)) if n > 1 else None,
            "better": int((differences > 0).sum())}


def compare(baseline_rows: list[dict], candidate_rows: list[dict], baseline_source: str, candidate_source: str,
            regimes: Sequence[str] | None = None) -> list[dict]:
    """One entry per (regime, metric) with paired clips: see the module docstring."""
    old, new = _by_clip(baseline_rows, baseline_source), _by_clip(candidate_rows, candidate_source)
    anchors = {side: {source: _by_clip(rows, source) for source in ANCHORS}
               for side, rows in (("baseline", baseline_rows), ("candidate", candidate_rows))}
    common = sorted(set(old) & set(new))
    chosen_regimes = sorted({k[0] for k in common}) if regimes is None else list(regimes)
    clip_metrics = [m for m in metrics.get((*metrics.available(), *metrics.PAPER_METRICS))
                    if not isinstance(m, metrics.SetMetric)]
    results = []
    for regime in chosen_regimes:
        for metric in clip_metrics:
            keys = [k for k in common if k[0] == regime
                    and old[k].get(metric.name) is not None and new[k].get(metric.name) is not None]
            if not keys:
                continue
            differences = np.array([new[k][metric.name] - old[k][metric.name] for k in keys])
            stems = sorted({k[2] for k in keys})
            per_stem = {stem: paired_difference(np.array([d for d, k in zip(differences, keys) if k[2] == stem])) for stem in stems}
            results.append({"regime": regime, "metric": metric.name, **paired_difference(differences), "stems": per_stem,
                            "normalised": {"baseline": _normalised(anchors["baseline"], old, keys, metric),
                                           "candidate": _normalised(anchors["candidate"], new, keys, metric)}})
    return results


def _number(value: float | None, form: str) -> str:
    return "–" if value is None else format(value, form)


def print_table(results: list[dict]) -> None:
    """A plain table: one line per regime and metric, the per-stem differences at its end."""
    print("regime\tmetric\tclips\tdifference ± SE\tbetter\tnormalised baseline -> candidate\tper stem")
    for entry in results:
        stems = "  ".join(f"{stem} {_number(s['difference'], '+.3f')}" for stem, s in entry["stems"].items())
        normalised = entry["normalised"]
        print(f"{entry['regime']}\t{entry['metric']}\t{entry['clips']}\t{entry['difference']:+.3f} ± "
              f"{_number(entry['standard_error'], '.3f')}\t{entry['better']}/{entry['clips']}\t"
              f"{_number(normalised['baseline'], '.2f')} -> {_number(normalised['candidate'], '.2f')}\t{stems}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jaxaccomp.eval.compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("baseline", type=Path, help="results folder of the baseline run")
    p.add_argument("candidate", type=Path, help="results folder of the candidate run (the same songs)")
    p.add_argument("--baseline-source", help="the baseline's model (default: the folder's only model)")
    p.add_argument("--candidate-source", help="the candidate's model (default: the folder's only model)")
    p.add_argument("--regime", nargs="+", help="regimes to compare, e.g. r0.25_w+1 (default: every one both hold)")
    add_json_output(p, "the comparison")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_json_output(args)
    (baseline_info, baseline_rows), (candidate_info, candidate_rows) = load_run(args.baseline), load_run(args.candidate)
    sources = (model_source(baseline_rows, args.baseline, args.baseline_source),
               model_source(candidate_rows, args.candidate, args.candidate_source))
    changes = changed_settings(run_settings(baseline_info, sources[0]), run_settings(candidate_info, sources[1]))
    results = compare(baseline_rows, candidate_rows, *sources, args.regime)
    if not results:
        raise ValueError(f"no clip of {sources[1]} in {args.candidate} pairs with one of {sources[0]} in {args.baseline}"
                         + (f" in regimes {', '.join(args.regime)}" if args.regime else ""))
    print(f"baseline {sources[0]} ({args.baseline}) -> candidate {sources[1]} ({args.candidate})", file=sys.stderr)
    for change in changes:
        print(f"changed {change}", file=sys.stderr)
    print_table(results)
    if args.json is not None:
        args.json.write_text(json.dumps({"baseline": str(args.baseline), "candidate": str(args.candidate),
                                         "sources": list(sources), "changed": changes, "comparison": results},
                                        indent=1) + "\n")
    return 0


if __name__ == "__main__":
    run(main)
