"""`serve.py --record DIR`: what the server heard and generated, written only into DIR.

Two things, both named by the server, never by the network:
  session files  session-NNN-context.wav and session-NNN-<stem>.wav, one sample per timeline sample,
                 appended as steps are served (memory stays bounded however long the session). A
                 gap in time (lost or dropped batches) is written as silence; a new stream (reset,
                 or the timeline going back) starts the next NNN.
  /print dumps   print-NNN-context.wav and print-NNN-<stem>.wav: the last window of both, the
                 reference server's debug dump without its fixed names in the working directory.
Generated files hold the content windows only; the lead-in is a crossfade the client performs.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from jaxaccomp.constants import SAMPLE_RATE


def _next_free(folder: Path, prefix: str) -> int:
    """The smallest NNN above every existing prefix-NNN-* file, so nothing is overwritten."""
    taken = [int(p.name.split("-")[1]) for p in folder.glob(f"{prefix}-*-*.wav") if p.name.split("-")[1].isdigit()]
    return max(taken, default=0) + 1


class _Appender:
    """A WAV file indexed by timeline sample, written front to back."""

    def __init__(self, path: Path):
        self._file = sf.SoundFile(str(path), "w", SAMPLE_RATE, 1, subtype="FLOAT")
        self._end = 0  # timeline sample after the last written one

    def write(self, start: int, audio: np.ndarray) -> None:
        skip = max(0, self._end - start)  # already written (an overlap) is kept
        if start > self._end:
            self._file.write(np.zeros(start - self._end, np.float32))
        if skip < audio.shape[0]:
            self._file.write(audio[skip:])
            self._end = start + audio.shape[0]

    def close(self) -> None:
        self._file.close()


class _Window:
    """The last `length` samples of a timeline signal."""

    def __init__(self, length: int):
        self.audio = np.zeros(length, np.float32)
        self.end = 0

    def write(self, start: int, audio: np.ndarray) -> None:
        length = self.audio.shape[0]
        shift = start + audio.shape[0] - self.end
        if shift > 0:
            kept = max(0, length - shift)
            self.audio[:kept] = self.audio[length - kept:]
            self.audio[kept:] = 0.0
            self.end += shift
        first, hi = self.end - length, start + audio.shape[0]
        lo = max(start, first)
        if lo < hi:
            self.audio[lo - first:hi - first] = audio[lo - start:]


class Recorder:
    """Session files and /print dumps in `folder`; thread-safe (the worker records, /print dumps)."""

    def __init__(self, folder: Path, window: int):
        if not folder.is_dir():
            raise FileNotFoundError(f"--record folder {folder} does not exist")
        self.folder, self.window = folder, window
        self._lock = threading.Lock()
        self._session = _next_free(folder, "session") - 1
        self._files: dict[str, _Appender] = {}
        self._windows: dict[str, _Window] = {}
        self._prints = _next_free(folder, "print") - 1

    def new_stream(self) -> None:
        """Close this stream's files; the next step opens session-(NNN+1)."""
        with self._lock:
            self._close()

    def step(self, context_end: int, context: np.ndarray, content_start: int, stems: Sequence[str],
             content: Sequence[np.ndarray]) -> None:
        """One served step: its context block (ending at `context_end`) and each stem's content window."""
        with self._lock:
            if not self._files:
                self._session += 1
                self._windows.clear()
            for name, start, audio in (("context", context_end - context.shape[0], context),
                                       *((stem, content_start, a) for stem, a in zip(stems, content))):
                if name not in self._files:
                    self._files[name] = _Appender(self.folder / f"session-{self._session:03d}-{name}.wav")
                    self._windows[name] = _Window(self.window)
                self._files[name].write(start, audio)
                self._windows[name].write(start, audio)

    def dump(self) -> list[Path]:
        """Write the last window of every recorded signal as print-NNN-<name>.wav; the paths written."""
        with self._lock:
            self._prints += 1
            paths = [self.folder / f"print-{self._prints:03d}-{name}.wav" for name in self._windows]
            for path, window in zip(paths, self._windows.values()):
                sf.write(str(path), window.audio, SAMPLE_RATE, subtype="FLOAT")
            return paths

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        for appender in self._files.values():
            appender.close()
        self._files.clear()
