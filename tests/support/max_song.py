"""Songs for the C++ client tests (synthetic, or rendered with FluidSynth) and the buffer the client
should end up with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.max_server import Served

STEMS = ("bass", "drums", "guitar", "piano")
SAMPLE_RATE = 44100


def synthetic_song(frames: int, seed: int = 0) -> np.ndarray:
    """[frames, 4] float32: a bass line, noise hits, two chord voices; every stem audible everywhere."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / SAMPLE_RATE
    bass = 0.3 * np.sin(2 * np.pi * 55 * (1 + (t // 0.5) % 2 / 2) * t)
    drums = 0.2 * rng.standard_normal(frames) * np.exp(-((t % 0.25) * 30))
    guitar = 0.15 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) / 2
    piano = 0.1 * np.sin(2 * np.pi * 330 * t + 0.5)
    return np.stack([bass, drums, guitar, piano], axis=1).astype(np.float32)


def rendered_song(frames: int, folder: Path, seed: int = 0) -> np.ndarray:
    """[frames, 4] float32: the start of a test-split song from our composer and FluidSynth (skips the
    test when FluidSynth or its soundfont is missing)."""
    pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth not installed")
    from jaxaccomp.data.render import DEFAULT_SOUNDFONT, render_dataset
    from jaxaccomp.data.slakh import load_split

    if not Path(DEFAULT_SOUNDFONT).is_file():
        pytest.skip(f"{DEFAULT_SOUNDFONT} absent (Debian package fluid-soundfont-gm)")
    render_dataset(folder, 1, "test", seed, 1, seconds=frames / SAMPLE_RATE + 1)
    stems = load_split(folder, "test").tracks[0].stems
    assert stems.shape[0] == len(STEMS) and stems.shape[1] >= frames, stems.shape
    return np.ascontiguousarray(stems[:, :frames].T, dtype=np.float32)


def context_block(song: np.ndarray, curr: int, step: int) -> np.ndarray:
    """What the client sends for predicting bass: drums + guitar + piano over [curr - step, curr), in
    the client's float32 order."""
    part = song[max(curr - step, 0):curr]
    block = (part[:, 1] + part[:, 2]) + part[:, 3]
    return np.concatenate([np.zeros(step - part.shape[0], np.float32), block])


def expected_bass(original: np.ndarray, steps: dict[int, int], served: dict[int, Served], step: int, w: int,
                  fade: int) -> np.ndarray:
    """The bass channel after the client handled `steps` (batch id -> playhead) in order: each content
    window zeroed when its batch went out, then the served reply written over [W0 - fade, W1) with the
    lead-in crossfaded into what was there (the server pre-ramps it: old (1 - t) + received)."""
    out = original.copy()
    t = np.arange(fade, dtype=np.float32) / np.float32(max(fade - 1, 1))

    def write(start: int, values: np.ndarray) -> None:
        lo, hi = max(start, 0), min(start + values.shape[0], out.shape[0])
        if lo < hi:
            out[lo:hi] = values[lo - start:hi - start]

    for batch_id, curr in sorted(steps.items()):
        content = curr + w * step
        write(content, np.zeros(step, np.float32))
        if batch_id in served:
            reply = served[batch_id].audio["bass"]
            lo, hi = max(content - fade, 0), min(content, out.shape[0])
            old = np.zeros(fade, np.float32)
            old[lo - (content - fade):hi - (content - fade)] = out[lo:hi]
            write(content - fade, np.concatenate([old * (np.float32(1) - t) + reply[:fade], reply[fade:]]))
    return out
