"""`python -m jaxaccomp.client`: stream a song to a running serve.py in real time, as Max would.

  play SONG --stem bass --out DIR   streams SONG (a mixture, or 4 channels: bass, drums, guitar,
                                    piano) and writes DIR/accompaniment.wav (one channel per stem),
                                    DIR/mix.wav (context + accompaniment) and DIR/latency.json
  ping                              asks the server who it is and times a packet round trip

The client listens on --port for replies (the server's --client-port) and sends to --server-port.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxaccomp import stop_gate
from jaxaccomp.cli import run
from jaxaccomp.client.core import ClientSettings
from jaxaccomp.constants import STEMS
from jaxaccomp.protocol import PacketTest
from jaxaccomp.stream_settings import StreamSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.client", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    play = commands.add_parser("play", help="stream a song in real time and write the accompaniment")
    ping = commands.add_parser("ping", help="ask the server who it is and time a packet round trip")
    for sub in (play, ping):
        sub.add_argument("--server-host", default="127.0.0.1", help="the server's address (default: 127.0.0.1)")
        sub.add_argument("--server-port", type=int, default=7000, help="the server's port (default: 7000)")
        sub.add_argument("--host", default="127.0.0.1", help="address to receive replies on (default: 127.0.0.1)")
        sub.add_argument("--port", type=int, default=8000, help="port to receive replies on (default: 8000)")
        sub.add_argument("--connect-timeout", type=float, default=5.0,
                         help="seconds to wait for the server's /hello_reply or /ready (default: 5)")
        sub.add_argument("--package-size", type=int, default=4410, help="floats per chunk (default: 4410)")
    play.add_argument("song", type=Path, help="audio file: a mixture (1-2 channels) or 4 channels, one per stem")
    play.add_argument("--stem", action="append", required=True, choices=STEMS, dest="stems",
                      help="instrument to generate; repeat for several")
    play.add_argument("--out", type=Path, required=True, help="output folder (new, or empty)")
    play.add_argument("--force", action="store_true", help="write into --out even if it holds files (replacing ours)")
    StreamSettings.add_arguments(play)
    stop_gate.add_argument(play)
    play.add_argument("--tail", type=float, default=2.0,
                      help="seconds to keep listening after the song ends (default: 2)")
    play.add_argument("--reference", action="store_true",
                      help="speak only the reference protocol (no /hello, float lists, no positions)")
    play.add_argument("--drop-late", action="store_true",
                      help="do not write samples that arrive after the playhead passed them")
    return parser


def check_output_folder(out: Path, force: bool) -> None:
    """Refuse, before streaming, a folder whose files a session would replace (unless `force`)."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise FileExistsError(f"--out {out} is not empty; choose a new folder or pass --force")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"the folder of --out {out} does not exist")


def play(args: argparse.Namespace) -> int:
    from jaxaccomp.client.player import play as stream_song
    from jaxaccomp.client.report import summary_lines, write_session
    from jaxaccomp.tracks import read_context, resample

    settings = ClientSettings(StreamSettings.from_args(args), args.package_size, tuple(args.stems),
                              stop_gate=args.stop_gate == "on")
    check_output_folder(args.out, args.force)
    context, rate = read_context(args.song, settings.stems)
    context = resample(context, rate)
    core, wall = stream_song(context, settings, (args.server_host, args.server_port), (args.host, args.port),
                             connect_timeout=args.connect_timeout, tail=args.tail, extensions=not args.reference,
                             drop_late=args.drop_late, progress=True)
    report = write_session(args.out, context, core, wall)
    print("\n".join(summary_lines(report)), file=sys.stderr)
    print(f"wrote accompaniment.wav, mix.wav and latency.json to {args.out}/", file=sys.stderr)
    return session_status(report["client"])


def session_status(counts: dict) -> int:
    """0 when most batches came back whole; else say what went wrong and return 1 (a failed session)."""
    batches, complete = counts["batches"], counts["complete"]
    if batches and complete * 2 <= batches:
        print(f"error: only {complete} of {batches} batches came back complete ({counts['dropped']} dropped by a "
              f"busy server, {counts['incomplete']} incomplete or missing): "
              + ("no reply at all: is the server running?" if complete == 0 and not counts["dropped"] else
                 "the server cannot keep up: try a larger --r, fewer stems or --mode consistency"), file=sys.stderr)
        return 1
    return 0


def ping(args: argparse.Namespace) -> int:
    from jaxaccomp.client.core import ClientCore
    from jaxaccomp.client.player import Connection, handshake

    connection = Connection((args.server_host, args.server_port), (args.host, args.port))
    try:
        hello = handshake(connection, args.connect_timeout)
        print(f"server: {hello.server} protocol {hello.protocol}, {hello.sample_rate} Hz, T = {hello.context_samples},"
              f" extensions: {', '.join(hello.capabilities)}" if hello else "no /hello_reply: a reference server, "
              "or none on that port")
        core = ClientCore(ClientSettings(package_size=args.package_size), 0)
        core.packet_test_at = time.monotonic()
        connection.send([PacketTest(args.package_size, np.zeros(args.package_size, np.float32)).encode()])
        deadline = core.packet_test_at + args.connect_timeout
        while core.packet_round_trip_ms is None and time.monotonic() < deadline:
            message = connection.receive()
            if message is not None:
                core.receive(message, time.monotonic())
    finally:
        connection.close()
    if core.packet_round_trip_ms is None:
        raise ValueError(f"no /packet_test_response from {args.server_host}:{args.server_port} "
                         f"within {args.connect_timeout:g} s")
    size = args.package_size
    print(f"packet test: {size} floats each way ({size * 4 / 1e3:.0f} KB of samples) in "
          f"{core.packet_round_trip_ms:.1f} ms round trip")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return play(args) if args.command == "play" else ping(args)


if __name__ == "__main__":
    run(main)
