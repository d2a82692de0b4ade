"""The Pure Data external and the RTAP patch (max/pd): real headless Pd plays a rendered song from
its arrays in real time, jaxaccomp~ streams it to the server step by step, and every reply must land
in the bass array exactly where the step's window says.

Pd runs with -nosound (not -batch): its scheduler then follows the wall clock, so each step of
0.5 s leaves the server real time to infer, as a live performance would. The patch is used as an
abstraction from a small harness that, when playback ends, waits for the last replies, posts the
client's stats, writes the arrays to a WAV file and quits.
"""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
import soundfile

from tests.support.max_build import ROOT, build, require
from tests.support.max_server import SETTINGS
from tests.support.max_song import SAMPLE_RATE, context_block, expected_bass, rendered_song

require("cmake", "c++", "pd")
STEP = SETTINGS.stream.step
STEPS = 9  # the song is this many steps long; the step clock fires at each, the last at its very end
HARNESS = """#N canvas 0 50 400 200 12;
#X obj 10 10 rtap;
#X obj 10 40 r rtap-end;
#X obj 10 70 t b;
#X obj 10 100 delay 1500;
#X msg 10 130 \\; rtap stats \\; rtap-write {out} \\; pd quit;
#X connect 1 0 2 0;
#X connect 2 0 3 0;
#X connect 3 0 4 0;
"""


def run_pd(server, song_file, out_file, harness) -> str:  # noqa: F811
    host, port = server.address
    setup = (f"rtap-open {song_file}; rtap T {SETTINGS.stream.window}; rtap server {host} {port}; "
             f"rtap listen {server.client_port}; rtap verbose 1; rtap reset; rtap load_model; rtap-play 1")
    run = subprocess.run(["pd", "-nogui", "-nosound", "-noprefs", "-r", str(SAMPLE_RATE), "-path", ROOT / "max" / "pd",
                          "-path", build() / "pd", "-open", harness, "-send", setup],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and out_file.exists(), run.stderr[-4000:]
    return run.stderr


def test_pd_streams_a_rendered_song_and_the_replies_land_in_the_array(server, tmp_path):  # noqa: F811
    song = rendered_song(STEPS * STEP, tmp_path / "data")
    song_file, out_file, harness = tmp_path / "song.wav", tmp_path / "out.wav", tmp_path / "harness.pd"
    soundfile.write(song_file, song, SAMPLE_RATE, subtype="FLOAT")
    harness.write_text(HARNESS.format(out=out_file))

    log = run_pd(server, song_file, out_file, harness)
    steps = {int(m[1]): int(m[2]) for m in re.finditer(r"batch (\d+): sent \[\d+, (\d+)\)", log)}
    stats = re.search(r"stats sent .*", log)[0]
    out, rate = soundfile.read(out_file, dtype="float32")

    assert rate == SAMPLE_RATE and out.shape == song.shape
    assert steps == {n: n * STEP for n in range(1, STEPS + 1)}, log[-2000:]  # one step per 0.5 s of playback
    assert "stale 0" in stats and "misfit 0" in stats and "encoding blob" in stats, stats
    served = server.session.served
    assert len(served) >= 3, f"the server ran too few batches: {sorted(served)}"  # a busy server drops some
    for batch_id, batch in served.items():
        np.testing.assert_array_equal(batch.block, context_block(song, steps[batch_id], STEP))
    np.testing.assert_array_equal(out[:, 1:], song[:, 1:])
    expected = expected_bass(song[:, 0], steps, served, STEP, SETTINGS.stream.w, SETTINGS.stream.fade_samples)
    np.testing.assert_allclose(out[:, 0], expected, rtol=0, atol=1e-6)
    assert not np.array_equal(out[:, 0], song[:, 0])


def test_bad_messages_are_one_line_errors(tmp_path):
    setup = "rtap packet_size 4410; rtap w 2; rtap predict_instruments 1 0; rtap server 127.0.0.1 70000; pd quit"
    run = subprocess.run(["pd", "-nogui", "-nosound", "-noprefs", "-path", ROOT / "max" / "pd", "-path",
                          build() / "pd", "-open", ROOT / "max" / "pd" / "rtap.pd", "-send", setup],
                         capture_output=True, text=True, timeout=60)
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: jaxaccomp~")]
    assert [line.split(":")[2].strip() for line in errors] == ["packet_size", "w", "predict_instruments", "server"]
    assert "refused" in errors[0] and "w must be -1, 0 or 1" in errors[1] and "port must be" in errors[3]


GATE_HARNESS = """#N canvas 0 50 600 400 12;
#X obj 10 10 table g-bass;
#X obj 10 35 table g-drums;
#X obj 10 60 table g-guitar;
#X obj 10 85 table g-piano;
#X obj 10 110 r gate;
#X obj 10 140 jaxaccomp~ g bass drums guitar piano;
#X obj 10 200 writesf~ 2;
#X obj 300 170 route end;
#X obj 300 200 t b b;
#X msg 300 230 stop;
#X msg 380 230 \\; pd quit;
#X obj 10 260 r gate-file;
#X msg 10 290 read -resize \\$1 g-bass g-drums g-guitar g-piano;
#X obj 10 320 soundfiler;
#X obj 200 260 r gate-rec;
#X obj 120 260 list;
#X obj 380 200 delay 1000;
#X connect 4 0 5 0;
#X connect 5 0 6 0;
#X connect 5 1 6 1;
#X connect 5 4 7 0;
#X connect 7 0 8 0;
#X connect 8 1 9 0;
#X connect 8 0 16 0;
#X connect 16 0 10 0;
#X connect 9 0 6 0;
#X connect 11 0 15 0;
#X connect 15 0 12 0;
#X connect 12 0 13 0;
#X connect 14 0 6 0;
"""


@pytest.mark.parametrize("gated", [1, 0])
def test_the_predicted_stem_plays_through_the_stop_gate(tmp_path, gated):
    """The bass array holds a held note; the band (drums) plays 1.2 s and stops. Played out of the
    bass outlet, the note follows jaxaccomp.stop_gate keyed by the band, or, after `stopgate 0`, plays
    as written; the arrays are not touched."""
    from jaxaccomp import stop_gate

    t = np.arange(int(2.9 * SAMPLE_RATE)) / SAMPLE_RATE
    song = np.zeros((t.shape[0], 4), np.float32)
    song[:, 0] = 0.3 * np.sin(2 * np.pi * 55 * t)
    song[:int(1.2 * SAMPLE_RATE), 1] = 0.2 * np.random.default_rng(0).standard_normal(int(1.2 * SAMPLE_RATE))
    song_file, out_file, harness = tmp_path / "song.wav", tmp_path / "played.wav", tmp_path / "gate.pd"
    soundfile.write(song_file, song, SAMPLE_RATE, subtype="FLOAT")
    harness.write_text(GATE_HARNESS)
    setup = (f"gate-file {song_file}; gate-rec open -bytes 4 {out_file}; gate predict_instruments 1 0 0 0; "
             f"gate server 127.0.0.1 9; gate stopgate {gated}; pd dsp 1; gate-rec start; gate play 1")
    run = subprocess.run(["pd", "-nogui", "-nosound", "-noprefs", "-r", str(SAMPLE_RATE), "-path", build() / "pd",
                          "-open", harness, "-send", setup], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and out_file.exists(), run.stderr[-4000:]
    played = soundfile.read(out_file, dtype="float32")[0]
    # writesf~ starts some DSP blocks before or after playback (more on a busy machine): align on the
    # drums, which play as they are, in whichever direction the recording is off
    early = [k for k in range(0, 8192, 64) if np.array_equal(played[k:k + 1000, 1], song[:1000, 1])]
    late = [k for k in range(0, 8192, 64) if np.array_equal(played[:1000, 1], song[k:k + 1000, 1])]
    assert early or late, f"the recorded drums are not the song's: {played.shape[0]} frames; {run.stderr[-800:]}"
    played, start = (played[early[0]:], 0) if early else (played, late[0])
    bass = played[:song.shape[0] - start, 0]
    expected = song[:, 0] * stop_gate.sample_gains(song[:, 1], SAMPLE_RATE, song.shape[0]) if gated else song[:, 0]
    np.testing.assert_allclose(bass, expected[start:start + bass.shape[0]], rtol=0, atol=1e-6)
    assert bass.shape[0] > 2.5 * SAMPLE_RATE and np.any(bass[int(2 * SAMPLE_RATE) - start:]) != bool(gated)
