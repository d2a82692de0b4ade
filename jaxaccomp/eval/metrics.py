"""The metric interface and registry: every number in a report comes from a metric listed here.

Two kinds. All audio is mono float32, loudness-normalised (`loudness`), cut to the evaluated part of
the song, and at `sample_rate` (44.1 kHz in the sweep):
  ClipMetric  fn(context, stem, sample_rate) -> float: one score per clip, the stem judged against
              the context it accompanies (beat alignment; a coherence model); or, with
              against="beats", fn(beats, stem, sample_rate) against the beat times (s) the song was
              written on, and no score for a clip whose data records none;
  SetMetric   embed(stem, sample_rate) -> [n, d] vectors per clip (cached beside the clip), and
              distance(reference vectors, candidate vectors) -> float over a whole group of clips,
              the reference being the ground-truth stems of the same songs (Fréchet distances).

To add a metric, write its function(s) in a module of its own and add one entry to `_registry()`:
it is then computed for every clip, cached, aggregated, normalised and plotted like the others, and
a resumed sweep computes it for clips finished before it existed (from their kept audio). Metrics
are listed in code rather than registered at run time because worker processes import this module
afresh and must see the same list.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class ClipMetric:
    """One score per clip: fn(reference, stem, sample_rate) -> float, where the reference is the
    context audio (against="context") or the song's true beat times in seconds (against="beats")."""

    name: str
    fn: Callable[[np.ndarray, np.ndarray, int], float]
    description: str
    against: Literal["context", "beats"] = "context"
    higher_is_better: bool = True


@dataclass(frozen=True)
class SetMetric:
    """A distance between sets of clips: embed(stem, sample_rate) -> [n, d] vectors per clip, then
    distance(ground-truth vectors, candidate vectors) over a group's pooled vectors."""

    name: str
    embed: Callable[[np.ndarray, int], np.ndarray]
    distance: Callable[[np.ndarray, np.ndarray], float]
    description: str
    higher_is_better: bool = False


Metric = ClipMetric | SetMetric


@functools.cache
def _coherence_model():
    """The shipped coherence model, loaded once per process (workers load their own)."""
    from jaxaccomp.eval.coherence import load_coherence

    return load_coherence()


def _coherence(context: np.ndarray, stem: np.ndarray, sample_rate: int) -> float:
    return _coherence_model().score(context, stem, sample_rate)


@functools.cache
def _registry() -> dict[str, Metric]:
    from jaxaccomp.eval import beats, frechet

    metrics: list[Metric] = [
        ClipMetric("beat_f1", beats.f1_against_context,
                   "beat F1 (+-70 ms) of the stem's beats against the context's, both tracked by madmom's RNN+DBN "
                   "(substitute for the paper's Beat This tracker)"),
        ClipMetric("beat_f1_grid", beats.f1_against_grid,
                   "beat F1 (+-70 ms) of the stem's madmom-tracked beats against the song's true beats "
                   "(render.json or the MIDI tempo map)", against="beats"),
        SetMetric("fd_logmel", frechet.logmel_vectors, frechet.frechet_distance,
                  "Fréchet distance of 0.96-s log-mel means (VGGish front end, no network) between the "
                  "ground-truth stems and these stems (not FAD; lower is better)"),
        ClipMetric("coherence_ours", _coherence,
                   "our COCOLA-style contrastive score (mean bilinear score over 5-s windows, 2.5-s hop), trained "
                   "on our rendered songs (substitute for COCOLA; unbounded, read against the reference rows)"),
    ]
    return {metric.name: metric for metric in metrics}


def available() -> tuple[str, ...]:
    """Names of every registered metric, in report order."""
    return tuple(_registry())


def get(names: tuple[str, ...] | list[str]) -> tuple[Metric, ...]:
    """The named metrics, or a one-line ValueError naming an unknown one."""
    registry = _registry()
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; choose from {', '.join(registry)}")
    return tuple(registry[name] for name in names)
