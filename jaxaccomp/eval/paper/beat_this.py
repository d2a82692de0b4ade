"""Beat tracking by Beat This for the paper's beat F1, from the final0 checkpoint the user brings.

Needs `final0.ckpt` (the Beat This authors' checkpoint, cloud.cp.jku.at), passed as
`--beat-this PATH`; nothing is downloaded. The reference tracks the context and the stem with
`File2Beats(checkpoint_path="final0", dbn=False)` and scores the stem's beats against the context's
(F-measure, +-70 ms). The beat_this package (1.1.0) supplies the network (`BeatThis`) and the peak
picking (`Postprocessor("minimal")`: logits above 0 that are the maximum within +-3 frames, adjacent
peaks merged, 50 frames/s). Its front end and inference module import torchaudio, which has no build
for this project's torch, so the rest follows their code here:
  - audio resampled to 22050 Hz with soxr (from float64, as the reference reads its wav files);
  - log-mel as torchaudio's MelSpectrogram set up by beat_this's LogMelSpect: centred STFT (reflect
    padding) with a periodic Hann window of 1024, hop 441, scaled by 1/sqrt(1024) ("frame_length"),
    magnitude, 128 slaney-scale triangular filters 30-11000 Hz without area normalisation, then
    log1p(1000 x);
  - inference in chunks of 1500 frames (30 s), the first and last zero-padded by 6 frames, chunks
    overlapping by 6, each chunk's 6 border frames at either end discarded and, where chunks
    overlap, the earlier chunk's predictions kept; the last chunk is moved back to end at the end;
  - the checkpoint read as beat_this's `load_model` reads it: the Lightning "state_dict" under the
    "model." prefix (a compiled model's "_orig_mod." removed), the network built from the
    "hyper_parameters" that are BeatThis arguments (beat_this's defaults where there are none), then
    loaded strictly; a file whose tensors differ in name or shape is refused in one line.

Departures: float32 on the CPU only (the reference's optional float16 autocast is not offered); mono
input only (the reference averages a file's channels); audio shorter than one STFT frame's padding
has no beats where the reference would raise; the beats of the last 64 signals are remembered,
since one context is scored against many stems.
"""

from __future__ import annotations

import functools
import inspect
import math
from pathlib import Path
from typing import Any

import numpy as np
import soxr
import torch
import torch.nn.functional as F
from beat_this.model.beat_tracker import BeatThis
from beat_this.model.postprocessor import Postprocessor

from jaxaccomp.eval.beats import f_measure
from jaxaccomp.eval.memo import remember_audio
from jaxaccomp.eval.paper import PAPER_WEIGHTS, WeightsError, check_names, flag, read_checkpoint, state_dict

SAMPLE_RATE = 22050
N_FFT, HOP, N_MELS, F_MIN, F_MAX = 1024, 441, 128, 30.0, 11000.0
LOG_MULTIPLIER = 1000.0
FPS = 50  # frames per second of the predictions (22050 / 441)
CHUNK, BORDER = 1500, 6  # frames per network call; frames discarded at either end of a chunk
_POSTPROCESS = Postprocessor(type="minimal", fps=FPS)


def load(path: str | Path) -> BeatThis:
    """The BeatThis network filled from the Lightning checkpoint at `path`, in eval mode (cached per file)."""
    return _load(Path(path).resolve())


@functools.cache
def _load(path: Path) -> BeatThis:
    checkpoint = read_checkpoint(path, "beat_this")
    state = {key.replace("_orig_mod.", ""): value for key, value in state_dict(checkpoint, "model.").items()}
    arguments = _hyper_parameters(checkpoint)
    try:
        network = BeatThis(**arguments)
    except (TypeError, ValueError, AssertionError, ZeroDivisionError) as error:
        why = " ".join(f"{type(error).__name__}: {error}".split())  # one line
        raise WeightsError(f"{flag('beat_this')} {path}: its hyper_parameters do not build Beat This ({why}); "
                           f"it must be {PAPER_WEIGHTS['beat_this']}") from None
    check_names(state, network.state_dict(), "beat_this", path)
    network.load_state_dict(state)
    return network.eval()


def _hyper_parameters(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's "hyper_parameters" that are BeatThis arguments ({} where it has none)."""
    hyper = checkpoint.get("hyper_parameters")
    accepted = inspect.signature(BeatThis).parameters
    return {key: value for key, value in hyper.items() if key in accepted} if isinstance(hyper, dict) else {}


def log_mel(signal: torch.Tensor) -> torch.Tensor:
    """[frames, 128] log-mel spectrogram of mono float32 audio at 22050 Hz (beat_this's LogMelSpect)."""
    spectrum = torch.stft(signal, N_FFT, HOP, window=torch.hann_window(N_FFT), center=True, pad_mode="reflect",
                          normalized=True, onesided=True, return_complex=True).abs()
    return torch.log1p(LOG_MULTIPLIER * (spectrum.T @ mel_filters()))


@functools.cache
def mel_filters() -> torch.Tensor:
    """[513, 128] float32 slaney-scale triangular filters, 30-11000 Hz, peak 1 (torchaudio's
    melscale_fbanks with norm=None, mel_scale="slaney")."""
    bins = torch.linspace(0, SAMPLE_RATE // 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(torch.linspace(_hz_to_mel(F_MIN), _hz_to_mel(F_MAX), N_MELS + 2))
    widths = edges[1:] - edges[:-1]
    offsets = edges[None, :] - bins[:, None]  # [513, 130]
    rising, falling = -offsets[:, :-2] / widths[:-1], offsets[:, 2:] / widths[1:]
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


_LINEAR_STEP, _LOG_START_HZ, _LOG_STEP = 200.0 / 3, 1000.0, math.log(6.4) / 27.0  # Slaney's mel scale


def _hz_to_mel(hz: float) -> float:
    if hz < _LOG_START_HZ:
        return hz / _LINEAR_STEP
    return _LOG_START_HZ / _LINEAR_STEP + math.log(hz / _LOG_START_HZ) / _LOG_STEP


def _mel_to_hz(mels: torch.Tensor) -> torch.Tensor:
    log_start = _LOG_START_HZ / _LINEAR_STEP
    return torch.where(mels >= log_start, _LOG_START_HZ * torch.exp(_LOG_STEP * (mels - log_start)),
                       _LINEAR_STEP * mels)


def frame_logits(network: BeatThis, spect: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Beat and downbeat logits per frame of a [frames, 128] log-mel, the network run in chunks as
    beat_this's split_predict_aggregate runs it."""
    frames = len(spect)
    starts = list(range(-BORDER, frames - BORDER, CHUNK - 2 * BORDER))
    if frames > CHUNK - 2 * BORDER:
        starts[-1] = frames - (CHUNK - BORDER)  # the last chunk ends at the end (plus its padding)
    logits = torch.full((2, frames), -1000.0)
    for start in reversed(starts):  # earlier chunks overwrite later ones where they overlap
        chunk = F.pad(spect[max(start, 0):start + CHUNK],
                      (0, 0, max(0, -start), max(0, min(BORDER, start + CHUNK - frames))))
        out = network(chunk[None])
        logits[:, start + BORDER:start + CHUNK - BORDER] = torch.stack(
            [out["beat"][0], out["downbeat"][0]])[:, BORDER:-BORDER]
    return logits[0], logits[1]


def track(audio: np.ndarray, sample_rate: int, path: str | Path) -> np.ndarray:
    """Sorted float64 beat times in seconds of mono audio, tracked by Beat This from the checkpoint at `path`."""
    signal = np.asarray(audio, np.float64)
    if signal.ndim != 1:
        raise ValueError(f"Beat This tracks mono audio, got shape {signal.shape}")
    load(path)  # refuses a wrong file before any work
    return _track(signal, sample_rate, Path(path).resolve())


@remember_audio(64)  # a context is scored against many stems
def _track(signal: np.ndarray, sample_rate: int, path: Path) -> np.ndarray:
    if sample_rate != SAMPLE_RATE:
        signal = soxr.resample(signal, in_rate=sample_rate, out_rate=SAMPLE_RATE)
    if len(signal) <= N_FFT // 2:  # reflect padding needs more samples than half a frame
        return np.empty(0)
    with torch.inference_mode():
        beat, downbeat = frame_logits(load(path), log_mel(torch.tensor(signal, dtype=torch.float32)))
    return np.sort(np.asarray(_POSTPROCESS(beat, downbeat)[0], np.float64))


def f1_against_context(context: np.ndarray, stem: np.ndarray, sample_rate: int, path: str | Path) -> float:
    """The paper's beat alignment: the stem's Beat This beats scored against the context's (F-measure, +-70 ms)."""
    return f_measure(track(stem, sample_rate, path), track(context, sample_rate, path))
