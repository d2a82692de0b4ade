"""The metric interface and registry: every number in a report comes from a metric listed here.

Two kinds. All audio is mono float32, loudness-normalised (`loudness`), cut to the evaluated part of
the song, and at `sample_rate` (44.1 kHz in the sweep):
  ClipMetric  fn(context, stem, sample_rate) -> float: one score per clip, the stem judged against
              the context it accompanies (beat alignment; a coherence model); or, with
              against="beats", fn(beats, stem, sample_rate) against the beat times (s) the song was
              written on, and no score for a clip whose data records none; or, with against="truth",
              fn(true stem, stem, sample_rate) against the real stem it stands in for (`follow`);
  SetMetric   embed(stem, sample_rate) -> [n, d] vectors per clip (cached beside the clip), and
              distance(reference vectors, candidate vectors) -> float over a whole group of clips,
              the reference being the ground-truth stems of the same songs (Fréchet distances).

The paper's metrics (`paper`: COCOLA, VGGish FAD, Beat This) are registered too, but score only
with the weights file the user names (`weights`: flag name -> path, e.g. {"cocola": "x.ckpt"}); they
are not in `available()`, the default set, and without their file they refuse in one line.

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

from jaxaccomp.constants import PITCHED_STEMS, STEMS


@dataclass(frozen=True)
class ClipMetric:
    """One score per clip: fn(reference, stem, sample_rate) -> float, where the reference is the
    context audio (against="context"), the song's true beat times in seconds (against="beats") or
    the real stem, as rendered (against="truth")."""

    name: str
    fn: Callable[[np.ndarray, np.ndarray, int], float]
    description: str
    against: Literal["context", "beats", "truth"] = "context"
    higher_is_better: bool = True
    stems: tuple[str, ...] = STEMS  # the stems it judges; the others get no score
    normalised: bool = True  # read against the reference rows (not where they score alike)


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


Weights = tuple[tuple[str, str], ...]  # (paper flag name, weights path) pairs: hashable, picklable


@functools.cache
def _coherence_model():
    """The shipped coherence model, loaded once per process (workers load their own)."""
    from jaxaccomp.eval.coherence import load_coherence

    return load_coherence()


def _coherence(context: np.ndarray, stem: np.ndarray, sample_rate: int) -> float:
    return _coherence_model().score(context, stem, sample_rate)


def _cocola(path: str, mode: str, context: np.ndarray, stem: np.ndarray, sample_rate: int) -> float:
    from jaxaccomp.eval.paper import cocola

    return cocola.score(context, stem, sample_rate, path, mode)


def _vggish(path: str, stem: np.ndarray, sample_rate: int) -> np.ndarray:
    from jaxaccomp.eval.paper import vggish

    return vggish.vectors(stem, sample_rate, path)


def _beat_this(path: str, context: np.ndarray, stem: np.ndarray, sample_rate: int) -> float:
    from jaxaccomp.eval.paper import beat_this

    return beat_this.f1_against_context(context, stem, sample_rate, path)


def _without_weights(metric: str, name: str, *args: object) -> float:
    from jaxaccomp.eval.paper import PAPER_WEIGHTS, WeightsError, flag

    raise WeightsError(f"metric {metric} needs {flag(name)} PATH, {PAPER_WEIGHTS[name]}")


# paper metric -> the flag name of the weights file it needs
PAPER_METRICS = {"cocola": "cocola", "cocola_harmonic": "cocola", "cocola_percussive": "cocola",
                 "fad_vggish": "vggish", "beat_f1_beat_this": "beat_this"}


@functools.cache
def _registry(weights: Weights = ()) -> dict[str, Metric]:
    from jaxaccomp.eval import beats, follow, frechet, intonation

    paths = dict(weights)

    def bound(metric: str, fn: Callable, *args: object) -> Callable:
        """`fn` with the metric's weights path (and `args`) bound, or a refusal if none was given."""
        name = PAPER_METRICS[metric]
        if name not in paths:
            return functools.partial(_without_weights, metric, name)
        return functools.partial(fn, paths[name], *args)

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
        ClipMetric("onset_corr", follow.onset_correlation,
                   "Pearson correlation of the stem's onset envelope (log-energy rises per 512-sample hop, +-1 hop "
                   "smoothing) with the true stem's: does it play when the real part plays", against="truth"),
        ClipMetric("chroma_corr", follow.chroma_correlation,
                   "mean per-frame (4096 samples, both sounding) Pearson correlation of the stem's 12-bin chroma "
                   "with the true stem's: does it play the real part's pitch classes", against="truth"),
        ClipMetric("in_tune", intonation.in_tune_share,
                   f"share of the stem's pitched frames (pyin) within {intonation.IN_TUNE_CENTS:g} cents of the band's "
                   "semitone grid (librosa's tuning estimate of the context): does it play in tune (bass, guitar, "
                   "piano; not normalised: any real part is in tune)", stems=PITCHED_STEMS,
                   normalised=False),
        ClipMetric("in_chord", intonation.in_chord_share,
                   f"share of the stem's pitched frames (pyin) whose pitch class is one of the band's "
                   f"{intonation.CHORD_TONES} strongest at that moment (librosa's constant-Q chroma of the context): "
                   "does it play notes of the band's chord (bass, guitar, piano)", stems=PITCHED_STEMS),
        ClipMetric("pitched", intonation.pitched_share,
                   "share of the stem's frames in which pyin hears a pitch: does it sound notes or noise (bass, "
                   "guitar, piano; not normalised: read against the ground truth)", stems=PITCHED_STEMS,
                   normalised=False),
        ClipMetric("beat_f1_beat_this", bound("beat_f1_beat_this", _beat_this),
                   "the paper's beat F1 (+-70 ms): stem beats against context beats, both tracked by Beat This "
                   "(final0, no DBN; needs --beat-this)"),
        SetMetric("fad_vggish", bound("fad_vggish", _vggish), frechet.frechet_distance,
                  "the paper's FAD: Fréchet distance of VGGish embeddings (pre-activation, no PCA) between the "
                  "ground-truth stems and these stems (needs --vggish; lower is better)"),
    ]
    metrics += [ClipMetric(f"cocola{suffix}", bound(f"cocola{suffix}", _cocola, mode),
                           f"the paper's COCOLA score ({mode} channels of the HPSS features; mean bilinear score over "
                           "5-s windows, 2.5-s hop; needs --cocola)")
                for suffix, mode in (("", "both"), ("_harmonic", "harmonic"), ("_percussive", "percussive"))]
    return {metric.name: metric for metric in metrics}


def available() -> tuple[str, ...]:
    """Names of the metrics computed by default (every one that needs no weights file), in report order."""
    return tuple(name for name in _registry() if name not in PAPER_METRICS)


def paper_metrics(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The paper metrics scored with the weights files `names` (flag names: cocola, vggish, beat_this)."""
    return tuple(metric for metric, name in PAPER_METRICS.items() if name in names)


def get(names: tuple[str, ...] | list[str], weights: Weights = ()) -> tuple[Metric, ...]:
    """The named metrics (paper ones bound to `weights`), or a one-line ValueError naming an unknown one."""
    registry = _registry(tuple(sorted(weights)))
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; choose from {', '.join(registry)}")
    return tuple(registry[name] for name in names)
