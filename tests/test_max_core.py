"""The C++ client core (max/core): its ctest unit tests, then the command-line driver against the
real server over loopback, checking every batch's context and where its reply landed."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from tests.support.max_build import build, require
from tests.support.max_server import SETTINGS
from tests.support.max_song import context_block, expected_bass, synthetic_song

require("cmake", "c++")
STEP = SETTINGS.stream.step
FADE = SETTINGS.stream.fade_samples


def test_the_core_unit_tests_pass():
    run = subprocess.run(["ctest", "--output-on-failure"], cwd=build(), capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:]


def run_driver(server, song: np.ndarray, tmp_path, *extra: str) -> tuple[np.ndarray, dict[int, int], str]:
    """Run accomp_driver on `song`; (the buffer it wrote, batch id -> playhead, its stats line)."""
    song_file, out_file = tmp_path / "song.f32", tmp_path / "out.f32"
    song.astype("<f4").tofile(song_file)
    host, port = server.address
    run = subprocess.run([build() / "core" / "accomp_driver", "--in", song_file, "--out", out_file,
                          "--server", f"{host}:{port}", "--listen", str(server.client_port), "--predict", "bass",
                          *extra], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-4000:]
    steps = {int(m[1]): int(m[2]) for m in re.finditer(r"^batch (\d+) (\d+)$", run.stdout, re.M)}
    stats = re.search(r"^stats .*$", run.stdout, re.M)[0]
    return np.fromfile(out_file, "<f4").reshape(song.shape), steps, stats


@pytest.mark.parametrize("extensions", [True, False], ids=["extensions", "reference-protocol"])
def test_every_reply_lands_in_its_window(server, tmp_path, extensions):
    """With /hello the client sends blobs with positions and gets positions back; without, it speaks
    the reference protocol (float lists, chunk indices) and must place the replies just as well."""
    steps_sent = 6
    song = synthetic_song((steps_sent + 2) * STEP + 1000)
    server.session.served.clear()
    # Without /hello the client keeps the T it is given: the server's, as a user would set it.
    options = ["--extensions", "1"] if extensions else ["--extensions", "0", "--T", str(SETTINGS.stream.window)]
    out, steps, stats = run_driver(server, song, tmp_path, "--packet", "1024", "--steps", str(steps_sent), *options)

    assert f"T {SETTINGS.stream.window}" in stats
    assert ("encoding blob+position" if extensions else "encoding floats ") in stats, stats
    assert steps == {n: n * STEP for n in range(1, steps_sent + 1)}  # ids count steps from the reset
    served = server.session.served
    # The driver waits for each reply before the next step, so only a very slow machine drops one.
    assert len(served) >= steps_sent - 1, f"the server ran too few batches: {sorted(served)}; {server.lines[-5:]}"
    for batch_id, batch in served.items():  # the context: the other stems' mix, every sample, in order
        np.testing.assert_array_equal(batch.block, context_block(song, steps[batch_id], STEP))
        assert batch.positions == extensions
    np.testing.assert_array_equal(out[:, 1:], song[:, 1:])  # only the predicted stem is written
    expected = expected_bass(song[:, 0], steps, served, STEP, SETTINGS.stream.w, FADE)
    np.testing.assert_allclose(out[:, 0], expected, rtol=0, atol=1e-6)
    assert not np.array_equal(out[:, 0], song[:, 0])


def test_a_bad_packet_size_is_one_line(tmp_path):
    run = subprocess.run([build() / "core" / "accomp_driver", "--in", "/dev/null", "--out", tmp_path / "x",
                          "--server", "127.0.0.1:9", "--listen", "0", "--packet", "4410"],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and "packet size 4410 refused" in run.stderr and "9216 bytes" in run.stderr


@pytest.mark.parametrize("rate", [44100, 48000])
def test_the_stop_gate_port_equals_the_python_definition(tmp_path, rate):
    """max/core's StopGate gives jaxaccomp.stop_gate's gain for every sample of a band that plays,
    rests, gets quieter (the part follows it down), stops and comes back."""
    from jaxaccomp import stop_gate

    rng = np.random.default_rng(5)
    seconds = [(2.0, 0.3), (0.15, 0.0), (1.5, 0.3), (1.0, 0.1), (1.0, 0.01), (1.2, 0.0), (0.7, 0.2), (0.05, 0.0),
               (1.0, 1e-5)]
    band = np.concatenate([level * rng.standard_normal(int(s * rate)) for s, level in seconds]).astype(np.float32)
    band_file, gains_file = tmp_path / "band.f32", tmp_path / "gains.f32"
    band.astype("<f4").tofile(band_file)
    run = subprocess.run([build() / "core" / "stop_gate_gains", band_file, gains_file, str(rate)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    expected = stop_gate.sample_gains(band, rate, band.shape[0])
    assert 0 < expected.mean() < 1  # the gate both opened and closed
    assert np.count_nonzero((expected > 0.01) & (expected < 0.99)) > rate // 2  # and followed the band down
    np.testing.assert_allclose(np.fromfile(gains_file, "<f4"), expected, rtol=0, atol=1e-6)
