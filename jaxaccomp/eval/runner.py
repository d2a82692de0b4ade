"""Per-clip work: make the clip's audio, score it with every metric it still lacks, cache the result.

A clip's results live under the results folder (`Clip.path`): `<track>-<stem>.json` (metric values,
generation time and `level_db`, the part's loudness against the real part's before both are
normalised, the one figure that sees a quiet part; written last, atomically, so it only exists for a finished clip), one
`.<metric>.npy` per set metric (its embedding vectors) and, for model clips, `.flac` (the scored
audio: the evaluated part, at -18 LUFS) and with `mixes` a `.mix.flac` listening mix. A clip with
all of them is skipped; a clip missing a metric added later is scored from its kept audio instead of
being generated again. Clips run in this process or in spawned worker processes; each process loads
a split, a model (and compiles its sampler) and a codec once and remembers tracked context beats.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.data.slakh import Track, accompaniment, load_split
from jaxaccomp.constants import STEMS
from jaxaccomp.eval import beats, intonation, loudness, metrics
from jaxaccomp.eval.clips import Clip, beat_period, delay, fit_length, round_trip


@dataclass(frozen=True)
class ModelSpec:
    """A model under evaluation; `name` labels its rows."""

    name: str
    checkpoint: str
    mode: str  # the checkpoint's Denoiser mode: "diffusion" (ADPM2) or "consistency"
    codec: str
    steps: int
    sha256: str = ""  # provenance.checkpoint_hash: results of other weights under the same name are refused
    dtype: str = "float32"  # the network's compute precision (runtime.Runtime.dtype)
    guidance: float = 0.0  # context guidance (diffusion.guidance)
    continuation: str = "off"  # what the model sees of the unplayed song (streaming.models.CONTINUATIONS)
    tuning: str = "chord"  # where the generated notes' pitches go (streaming.models.TUNINGS)


@dataclass(frozen=True)
class Job:
    """What every clip of one run shares."""

    data: str
    split: str
    out: str
    models: tuple[ModelSpec, ...]
    metrics: tuple[str, ...]
    window: int
    fade: float  # seconds
    skip: int  # samples at the start of every song that no metric sees
    seed: int
    keep_audio: bool = True
    mixes: bool = False
    weights: metrics.Weights = ()  # paper metrics' weights files: (flag name, path) pairs
    round_trip_codec: str | None = None  # the codec of the codec_round_trip row (None: no such row)
    device: str | None = None  # JAX's platform in every process (runtime.Runtime.device; None: JAX's choice)
    codec_device: str | None = None  # Music2Latent's torch device (None: its own choice)
    stop_gate: bool = True  # the clients' playback gate on generated parts (jaxaccomp.stop_gate)


@dataclass(frozen=True)
class Task:
    job: Job
    clip: Clip
    partners: tuple[str, ...] = ()  # the random pairing's other tracks (clips.random_partners)


def _recorded_partners(record: dict) -> tuple[str, ...]:
    """The partners a clip record was scored with (records before partner sets held one "partner")."""
    if "partners" in record:
        return tuple(record["partners"])
    return (record["partner"],) if record.get("partner") else ()


def pending(task: Task) -> tuple[str, ...]:
    """Metrics this clip has no cached result for (all of them if it was never finished, or if it is a
    random pairing whose partners have changed: more songs or another draw give other partners)."""
    root = Path(task.job.out)
    record = _read_record(task.clip.path(root, ".json"))
    done = set(record.get("metrics", {})) if _recorded_partners(record) == task.partners else set()
    return tuple(m.name for m in metrics.get(task.job.metrics, task.job.weights)
                 if m.name not in done or (isinstance(m, metrics.SetMetric)
                                           and not task.clip.path(root, f".{m.name}.npy").is_file()))


def _read_record(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _write_atomic(path: Path, write) -> None:
    """Write through `write(tmp_path)` and rename, so a file is either whole or absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _write_flac(path: Path, audio: np.ndarray) -> None:
    """16-bit FLAC: enough for audio at -18 LUFS with its peak at most 0.99."""
    _write_atomic(path, lambda p: sf.write(str(p), audio, SAMPLE_RATE, subtype="PCM_16", format="FLAC"))


def _save_npy(array: np.ndarray, path: Path) -> None:
    with open(path, "wb") as f:
        np.save(f, array)


@functools.cache
def _tracks(data: str, split: str) -> tuple[Path, dict[str, Track]]:
    loaded = load_split(data, split)
    return loaded.directory, {track.id: track for track in loaded.tracks}


@functools.cache
def _model(spec: ModelSpec, device: str | None, codec_device: str | None):
    from jaxaccomp.compile_cache import enable_compile_cache
    from jaxaccomp.runtime import Runtime
    from jaxaccomp.streaming.models import load_model

    enable_compile_cache()  # every worker process compiles the same programs: one of them does the work
    return load_model(Path(spec.checkpoint), None, spec.codec, spec.steps, Runtime(spec.dtype, device, codec_device),
                      spec.guidance, spec.continuation, spec.tuning)


@functools.cache
def _codec(name: str, device: str | None):
    from jaxaccomp.codec import get_codec

    return get_codec(name, device=device)


@dataclass(frozen=True)
class Song:
    """One (track, stem) cut to the evaluated part: [skip, end)."""

    full_context: np.ndarray  # the whole song's context, what the engine is fed
    context: np.ndarray  # evaluated part, -18 LUFS
    full_truth: np.ndarray  # the whole real stem, as rendered
    truth: np.ndarray  # its evaluated part
    beats: np.ndarray | None  # true beat times relative to the evaluated part


def _song(job: Job, track_id: str, stem: str) -> Song:
    directory, tracks = _tracks(job.data, job.split)
    track = tracks[track_id]
    stems = track.stems
    if stems.shape[1] - job.skip < loudness.MIN_SECONDS * SAMPLE_RATE:
        raise ValueError(f"track {track_id} is {stems.shape[1] / SAMPLE_RATE:.1f} s long: too short to evaluate "
                         f"after skipping {job.skip / SAMPLE_RATE:g} s")
    index = STEMS.index(stem)
    full = accompaniment(stems, index)
    offset = job.skip / SAMPLE_RATE
    beats_all = beats.true_beats(directory / track_id, stems.shape[1] / SAMPLE_RATE)
    return Song(full, loudness.normalize(full[job.skip:], SAMPLE_RATE), stems[index], stems[index, job.skip:],
                None if beats_all is None else beats_all[beats_all >= offset] - offset)


def _generate(task: Task, song: Song) -> tuple[list[np.ndarray], float]:
    """(the evaluated part of the clip's stem as its source makes it, seconds of generation); a random
    pairing gives one stem per partner, scored alike and averaged."""
    from jaxaccomp.accompany import accompany

    job, clip = task.job, task.clip
    if clip.source == "ground_truth":
        return [song.truth], 0.0
    if clip.source == "silence":
        return [np.zeros_like(song.truth)], 0.0
    if clip.source == "random_pairing":
        tracks = _tracks(job.data, job.split)[1]
        return [fit_length(tracks[partner].read()[STEMS.index(clip.stem), job.skip:], song.truth.shape[0])
                for partner in task.partners], 0.0
    if clip.source == "half_beat_shift":
        period = beat_period(song.beats) if song.beats is not None else None
        period = period or beat_period(beats.track(song.context, SAMPLE_RATE)) or 0.5  # 120 bpm if all else fails
        return [delay(song.truth, round(period / 2 * SAMPLE_RATE))], 0.0
    if clip.source == "codec_round_trip":  # coded whole and then cut, as a model's output is
        return [round_trip(_codec(job.round_trip_codec, job.codec_device), song.full_truth)[job.skip:]], 0.0
    spec = next(model for model in job.models if model.name == clip.source)
    codec, generator = _model(spec, job.device, job.codec_device)
    start = time.perf_counter()
    out = accompany(song.full_context, SAMPLE_RATE, codec, generator, [clip.stem],
                    settings=clip.regime.settings(job.window, job.fade), seed=job.seed, stop_gate=job.stop_gate)[0]
    return [out[job.skip:]], time.perf_counter() - start


def evaluate(task: Task) -> Clip:
    """Score `task.clip` with the metrics it lacks and write its files (see the module docstring)."""
    job, clip = task.job, task.clip
    root = Path(job.out)
    record = _read_record(clip.path(root, ".json"))
    song = _song(job, clip.track, clip.stem)
    audio_path = clip.path(root, ".flac")
    if audio_path.is_file() and record:  # kept audio: score only what is missing
        stems, names = [sf.read(str(audio_path), dtype="float32")[0]], pending(task)
    else:
        raw, seconds = _generate(task, song)
        stems, names = [loudness.normalize(stem, SAMPLE_RATE) for stem in raw], job.metrics
        truth_level = loudness.loudness(song.truth, SAMPLE_RATE)
        levels = [loudness.loudness(stem, SAMPLE_RATE) - truth_level for stem in raw]
        record = {"source": clip.source, "regime": clip.regime_label, "partners": list(task.partners),
                  "r": None if clip.regime is None else clip.regime.r,
                  "w": None if clip.regime is None else clip.regime.w,
                  "track": clip.track, "stem": clip.stem, "seconds": stems[0].shape[0] / SAMPLE_RATE,
                  "song_seconds": song.full_context.shape[0] / SAMPLE_RATE,
                  "generation_s": seconds if clip.regime is not None else None,
                  "level_db": float(np.mean(levels)) if np.all(np.isfinite(levels)) else None, "metrics": {}}
        if clip.regime is not None and job.keep_audio:
            _write_flac(audio_path, stems[0])
            stems = [sf.read(str(audio_path), dtype="float32")[0]]  # scored as kept: a rescoring sees the same
        if clip.regime is not None and job.mixes:
            _write_flac(clip.path(root, ".mix.flac"),
                        loudness.mix_with_stem(song.context, stems[0], SAMPLE_RATE, len(STEMS) - 1))
    for metric in metrics.get(names, job.weights):
        judged = isinstance(metric, metrics.SetMetric) or clip.stem in metric.stems
        record["metrics"][metric.name] = _score(metric, song, stems, clip.path(root, f".{metric.name}.npy")) if judged else None
    _write_atomic(clip.path(root, ".json"), lambda p: p.write_text(json.dumps(record, indent=1) + "\n"))
    return clip


def _score(metric: metrics.Metric, song: Song, stems: list[np.ndarray], vectors_path: Path) -> float | None:
    """A clip metric's mean over `stems` (a random pairing's partners; otherwise one), or None after
    saving a set metric's vectors (every stem's, stacked) or without true beats."""
    if isinstance(metric, metrics.SetMetric):
        vectors = np.concatenate([metric.embed(stem, SAMPLE_RATE) for stem in stems])
        _write_atomic(vectors_path, functools.partial(_save_npy, vectors))
        return None
    values = [_value(metric, song, stem) for stem in stems]
    return None if None in values else float(np.mean(values))


def _value(metric: metrics.ClipMetric, song: Song, stem: np.ndarray) -> float | None:
    """One stem's value of a clip metric (None without true beats)."""
    if metric.against == "beats":
        return None if song.beats is None else metric.fn(song.beats, stem, SAMPLE_RATE)
    if metric.against == "truth":
        return metric.fn(song.truth, stem, SAMPLE_RATE)
    return metric.fn(song.context, stem, SAMPLE_RATE)


def start_process(device: str | None) -> None:
    """Put this process's JAX on `device` before anything uses it (each worker, and the main process)."""
    from jaxaccomp.runtime import Runtime

    Runtime(device=device).apply()


def run(tasks: list[Task], workers: int = 1, progress: bool = True, device: str | None = None) -> int:
    """Evaluate every task that still lacks a metric, `workers` processes at a time, JAX on `device`;
    returns how many ran."""
    todo = [task for task in tasks if pending(task)]
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="clip", desc="evaluating",
               disable=not progress, dynamic_ncols=True)
    with bar:
        if workers == 1 or len(todo) <= 1:
            for task in todo:
                bar.set_postfix_str(f"{task.clip.source} {task.clip.regime_label} {task.clip.track} {task.clip.stem}")
                evaluate(task)
                bar.update()
        else:
            intonation.compile_librosa()  # so the workers only read librosa's compiled kernels
            context = multiprocessing.get_context("spawn")  # no inherited JAX state or threads
            with concurrent.futures.ProcessPoolExecutor(min(workers, len(todo)), mp_context=context,
                                                        initializer=start_process, initargs=(device,)) as pool:
                for future in concurrent.futures.as_completed([pool.submit(evaluate, task) for task in todo]):
                    future.result()
                    bar.update()
    return len(todo)
