"""`make demo`: a live session over loopback: render a song, start serve.py, stream it in real time.

The song is rendered here (procedural composer + FluidSynth, test split, so the model never trained on
it). The server starts with the shipped demo model of --mode (consistency by default: the student
plays as well as the diffusion teacher in two thirds of the time, docs/quality.md) and the
embedded codec; the reference client then streams the
mixture without the chosen stem, as a musician playing the other parts would, at the speed of
playback, and assembles the replies as the Max external does. At the end the server is stopped
(SIGINT, as Ctrl-C) and prints its per-stage timings, and how closely the generated stem follows the
one the composer wrote (`jaxaccomp.eval.follow`: onset and chroma correlation, each with its control;
`jaxaccomp.eval.intonation`: the share of its pitched time in tune with the band, beside the true stem's),
from the first replied sample on (before it the accompaniment is silent lead-in). Written to OUT:
context.wav, <stem>_original.wav (what the composer wrote), accompaniment.wav (generated), mix.wav
(context + generated), latency.json (the client's and the server's timings), follow.json (the
follow-the-song figures) and server.log.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from jaxaccomp.streaming.models import DEFAULT_MODE, DEMO_MODELS, MODES
from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.data.slakh import accompaniment, load_split
from jaxaccomp.constants import STEMS
from jaxaccomp.eval.follow import CONTROL_BEATS, follow, full_scale_share, level_difference_db
from jaxaccomp.eval.intonation import in_chord_share, in_tune_share

SERVER_START_TIMEOUT = 600.0  # seconds: loading and compiling on a slow machine


def free_port() -> int:
    """A UDP port on loopback that nothing is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(mode: str, stem: str, port: int, client_port: int, log: Path) -> subprocess.Popen:
    """serve.py with the shipped model of `mode`, compiled for one stem, its output in `log`."""
    command = [sys.executable, "-m", "jaxaccomp.server.cli", "--mode", mode, "--stems", stem, "--max-stems", "1",
               "--port", str(port), "--client-port", str(client_port)]
    with log.open("w") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def wait_until_serving(server: subprocess.Popen, log: Path, timeout: float) -> str | None:
    """None once serve.py logs that it is serving, else why not (its last log line)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines()
        if any(line.startswith("serving on") for line in lines):
            return None
        if server.poll() is not None:
            return f"serve.py exited with status {server.returncode}: {lines[-1] if lines else 'no output'}"
        time.sleep(0.2)
    return f"serve.py did not start within {timeout:.0f} s; see {log}"


def stop_server(server: subprocess.Popen) -> int:
    """Ctrl-C, as a user would; killed if it does not exit within 30 s. Its exit status."""
    server.send_signal(signal.SIGINT)
    try:
        return server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        return server.wait()


def write_follow(out: Path, context: np.ndarray, truth: np.ndarray, generated: np.ndarray, start: int,
                 beat_seconds: float) -> dict:
    """follow.json: the follow-the-song figures of `generated` against `truth` from sample `start` on, its
    level against the true stem's, and how much of each is in tune with the band (`context`) and on its chord."""
    context, truth, generated = context[start:], truth[start:], generated[start:]
    figures = {"from_s": start / SAMPLE_RATE, "beat_s": beat_seconds, "control_delay_beats": CONTROL_BEATS,
               **follow(truth, generated, SAMPLE_RATE, beat_seconds),
               "level_difference_db": level_difference_db(truth, generated), "full_scale_share": full_scale_share(generated),
               "in_tune": in_tune_share(context, generated, SAMPLE_RATE),
               "in_tune_true_stem": in_tune_share(context, truth, SAMPLE_RATE),
               "in_chord": in_chord_share(context, generated, SAMPLE_RATE),
               "in_chord_true_stem": in_chord_share(context, truth, SAMPLE_RATE)}
    (out / "follow.json").write_text(json.dumps(figures, indent=2) + "\n")
    return figures


def follow_line(figures: dict) -> str:
    """The figures as one summary line, each beside its control."""
    return (f"follows the song from {figures['from_s']:.1f} s: onset correlation {figures['onset_corr']:.2f} "
            f"(control {figures['onset_corr_control']:.2f}), chroma correlation {figures['chroma_corr']:.2f} "
            f"(control {figures['chroma_corr_control']:.2f}); control: the true stem {CONTROL_BEATS:g} beats late; "
            f"level {figures['level_difference_db']:+.1f} dB against the true stem, "
            f"{100 * figures['full_scale_share']:.2f} % of samples at full scale"
            + ("" if figures["in_tune"] is None else f"; {100 * figures['in_tune']:.0f} % of its pitched time in tune "
               f"with the band (the true stem {100 * (figures['in_tune_true_stem'] or 0):.0f} %)")
            + ("" if figures["in_chord"] is None else f", {100 * figures['in_chord']:.0f} % on the band's chord "
               f"(the true stem {100 * (figures['in_chord_true_stem'] or 0):.0f} %)"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo"), help="output folder (default: demo)")
    parser.add_argument("--stem", choices=STEMS, default="bass", help="the stem to generate (default: bass)")
    parser.add_argument("--mode", choices=MODES, default=DEFAULT_MODE,
                        help=f"the shipped model: consistency ({DEMO_MODELS['consistency']}) or diffusion "
                             f"({DEMO_MODELS['diffusion']}, ADPM2), each sampled as it recommends")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the rendered song (default: 20)")
    parser.add_argument("--seed", type=int, default=0, help="song seed (default: 0)")
    args = parser.parse_args(argv)
    from jaxaccomp.client.core import ClientSettings
    from jaxaccomp.client.player import play
    from jaxaccomp.client.report import heard_tracks, summary_lines, write_session
    from jaxaccomp.data.render import render_dataset

    args.out.mkdir(parents=True, exist_ok=True)
    render_dataset(args.out / "data", 1, "test", args.seed, 1, seconds=args.seconds)
    split = load_split(args.out / "data", "test")
    stems = split.tracks[0].stems
    index = STEMS.index(args.stem)
    context = accompaniment(stems, index)
    sf.write(str(args.out / "context.wav"), context, SAMPLE_RATE, subtype="FLOAT")
    sf.write(str(args.out / f"{args.stem}_original.wav"), stems[index], SAMPLE_RATE, subtype="FLOAT")

    port, client_port = free_port(), free_port()
    log = args.out / "server.log"
    print(f"starting serve.py ({args.mode} demo model) on 127.0.0.1:{port}; compiling takes a while...",
          file=sys.stderr)
    server = start_server(args.mode, args.stem, port, client_port, log)
    try:
        failure = wait_until_serving(server, log, SERVER_START_TIMEOUT)
        if failure is None:
            core, wall = play(context, ClientSettings(stems=(args.stem,)), ("127.0.0.1", port),
                              ("127.0.0.1", client_port), progress=True)
    finally:
        status = stop_server(server)
    if failure is not None:
        print(f"error: {failure}", file=sys.stderr)
        return 1
    report = write_session(args.out, context, core, wall)
    tempo = json.loads((split.directory / split.tracks[0].id / "render.json").read_text())["tempo"]
    start = core.settings.stream.first_written
    figures = write_follow(args.out, context, stems[index], heard_tracks(core, context)[0], start, 60.0 / tempo)
    server_lines = [line for line in log.read_text().splitlines() if line.startswith(("warm-up", "served"))]
    print("\n".join(summary_lines(report) + [f"server: {line}" for line in server_lines] + [follow_line(figures)]))
    print(f"{context.shape[0] / SAMPLE_RATE:.1f} s song streamed live; server exit status {status}; wrote context, "
          f"{args.stem}_original, accompaniment and mix .wav, latency.json, follow.json and server.log to {args.out}/")
    return 0 if status == 0 else 1


if __name__ == "__main__":
    from jaxaccomp.cli import run

    run(main)
