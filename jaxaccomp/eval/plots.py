"""One PNG per metric: the metric against net look-ahead r T w (s), one panel per stem group, as the
paper's sweep figure. A model is one colour, with one line per step ratio r through its write windows
w (look-ahead -rT, 0, rT); every reference row is a horizontal line."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

from jaxaccomp.eval import metrics
from jaxaccomp.eval.clips import REFERENCES

COLORS = ("tab:blue", "tab:orange", "tab:cyan", "tab:brown", "tab:olive", "tab:pink")  # one per model
MARKERS = ("o", "s", "^", "D", "v", "P")  # one per r
REFERENCE_STYLE = {"ground_truth": ("tab:green", "-"), "random_pairing": ("tab:red", "--"),
                   "silence": ("tab:gray", ":"), "half_beat_shift": ("tab:purple", "-."),
                   "codec_round_trip": ("black", "--")}


def _value(row: dict, metric: metrics.Metric) -> float | None:
    return row.get(metric.name) if isinstance(metric, metrics.SetMetric) else row.get(f"{metric.name}_mean")


def plot(summary: list[dict], names: tuple[str, ...], stems: list[str], folder: Path) -> list[Path]:
    """Write `folder/<metric>.png` for each metric; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    models = list(dict.fromkeys(row["source"] for row in summary if row["regime"] != "reference"))
    paths = []
    for metric in metrics.get(names):
        fig, axes = plt.subplots(1, len(stems), figsize=(4.2 * len(stems), 3.8), sharey=True, squeeze=False)
        for ax, stem in zip(axes[0], stems):
            for color, model in zip(itertools.cycle(COLORS), models):
                rows = [row for row in summary if row["source"] == model and row["stem"] == stem
                        and _value(row, metric) is not None]
                for marker, r in zip(itertools.cycle(MARKERS), sorted({row["r"] for row in rows})):
                    points = sorted((row["lookahead_s"], _value(row, metric)) for row in rows if row["r"] == r)
                    ax.plot(*zip(*points), marker=marker, color=color,
                            label=f"{model} r={Fraction(r).limit_denominator(64)}")
            for row in summary:
                value = _value(row, metric)
                if row["source"] in REFERENCES and row["stem"] == stem and value is not None:
                    color, style = REFERENCE_STYLE[row["source"]]
                    ax.axhline(value, color=color, linestyle=style, linewidth=1, label=row["source"])
            ax.set_title(stem)
            ax.set_xlabel("net look-ahead r·T·w (s)")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel(metric.name + (" (lower is better)" if not metric.higher_is_better else ""))
        handles, labels = axes[0][0].get_legend_handles_labels()
        if labels:  # none where the metric judges none of these stems (in_tune on drums)
            fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 6), fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0, 1, 0.84))
        path = folder / f"{metric.name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths
