"""Loopback speed of the live system: one step's audio over UDP each way, and whole cycles per stage.

python -m jaxaccomp.bench.loopback_time transfer --json out.json
python -m jaxaccomp.bench.loopback_time cycle --json out.json                     # embedded tier, shipped models
python -m jaxaccomp.bench.loopback_time cycle --tier paper --r 0.25 0.015625     # on a GPU: random paper weights

transfer  sends one step of audio (66,150 samples, the patch default, up as `/context`; 67,032 down
          as `/bass` with the lead-in) from one loopback socket to another: build the chunks, send
          them, parse each on the other side and place it in a buffer; timed from the first build to
          the last sample placed. Formats: our float lists and blobs at several chunk sizes, and
          python-osc float lists (what the reference server builds, 17-25 ms per direction there).
cycle     runs the real server (UdpServer, session, engine, model) in this process and drives it
          with the reference client's core over loopback, one step after another: the server's
          per-stage medians (receive, encode, sample, decode, send, total, as the reference paper's
          Table 1) and the client's round trip, against the step budget r T / 44100.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The in-process server runs as serve.py does: one BLAS thread beside XLA's (see jaxaccomp/server/cli.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 - after the BLAS setting, which numpy reads when it loads

from jaxaccomp.bench.timing import machine, markdown_table, write_json
from jaxaccomp.protocol import AudioChunk, audio_chunks, parse

UP_SAMPLES, DOWN_SAMPLES = 66150, 66150 + 882  # one default step up; the step plus its lead-in down
RECEIVE_BUFFER = 8 << 20
TIMEOUT = 2.0  # seconds before a transfer with a lost datagram is counted lost and repeated
REPLY_TIMEOUT = 120.0  # seconds for one server cycle (a paper-tier cycle on a CPU takes tens)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.bench.loopback_time", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    transfer = commands.add_parser("transfer", help="one step of audio over loopback, per format and chunk size")
    transfer.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4410, 8192, 13000],
                          help="floats per chunk (default: 1024 2048 4410 8192 13000)")
    cycle = commands.add_parser("cycle", help="whole server cycles per stage over loopback")
    cycle.add_argument("--tier", choices=("embedded", "paper"), default="embedded",
                       help="embedded: the shipped demo models and our codec; paper: the paper U-Net and "
                            "Music2Latent, both with random weights (default: embedded)")
    cycle.add_argument("--modes", nargs="+", choices=("diffusion", "consistency"),
                       default=["consistency", "diffusion"], help="samplers (default: both)")
    cycle.add_argument("--r", type=float, nargs="+", default=[0.25, 0.125], help="step ratios (default: 0.25 0.125)")
    cycle.add_argument("--w", type=int, default=1, choices=(-1, 0, 1), help="write window (default: 1)")
    cycle.add_argument("--steps", type=int, nargs="+", metavar="N",
                       help="sampling steps to time, each a row (default: what each shipped model recommends; "
                            "embedded tier only)")
    for sub in (transfer, cycle):
        sub.add_argument("--warmup", type=int, default=3, help="untimed rounds (default: 3)")
        sub.add_argument("--repeats", type=int, default=20, help="timed rounds (default: 20)")
        sub.add_argument("--json", type=Path, help="write the results as JSON to this file")
    return parser


# ----------------------------------------------------------------------------------------------
# transfer


def _python_osc_chunks(address: str, audio: np.ndarray, size: int) -> list[bytes]:
    """What the reference server does per stem: python-osc, one add_arg per float."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    starts = range(0, audio.shape[0], size)
    datagrams = []
    for k, start in enumerate(starts):
        builder = OscMessageBuilder(address)
        for value in (1, k, len(starts)):
            builder.add_arg(value, "i")
        for value in audio[start:start + size].tolist():
            builder.add_arg(value, "f")
        datagrams.append(builder.build().dgram)
    return datagrams


class _Receiver:
    """A loopback socket whose thread parses every datagram and places its samples in a buffer."""

    def __init__(self, length: int, package: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.buffer = np.zeros(length, np.float32)
        self.package, self.expected = package, -(-length // package)
        self.done = threading.Event()
        self.received = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            chunk = parse(data)
            assert isinstance(chunk, AudioChunk)
            start = chunk.index if chunk.address == "/context" else chunk.index * self.package
            self.buffer[start:start + chunk.samples.shape[0]] = chunk.samples
            self.received += 1
            if self.received == self.expected:
                self.done.set()

    def arm(self) -> None:
        self.received = 0
        self.done.clear()

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


def _time_transfer(build: Callable[[], list[bytes]], receiver: _Receiver, warmup: int, repeats: int) -> dict:
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target = receiver.sock.getsockname()
    samples, lost = [], 0
    while len(samples) < warmup + repeats:
        receiver.arm()
        start = time.perf_counter()
        for data in build():
            sender.sendto(data, target)
        if not receiver.done.wait(TIMEOUT):
            lost += 1
            continue
        samples.append(time.perf_counter() - start)
    sender.close()
    timed = samples[warmup:]
    return {"median_ms": 1e3 * statistics.median(timed), "min_ms": 1e3 * min(timed), "lost_rounds": lost}


def transfer(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    rows, lines = [], []
    for direction, address, length in (("up", "/context", UP_SAMPLES), ("down", "/bass", DOWN_SAMPLES)):
        audio = rng.uniform(-1, 1, length).astype(np.float32)
        offsets = direction == "up"  # Max sends sample offsets, the server chunk indices
        formats: list[tuple[str, int, Callable[[], list[bytes]]]] = []
        for size in args.sizes:
            formats += [("float list", size, lambda s=size: audio_chunks(address, 1, audio, s, sample_offsets=offsets)),
                        ("blob", size, lambda s=size: audio_chunks(address, 1, audio, s, sample_offsets=offsets,
                                                                   blob=True))]
        if direction == "down":
            formats.insert(0, ("python-osc float list", 4410, lambda: _python_osc_chunks(address, audio, 4410)))
        for name, size, build in formats:
            receiver = _Receiver(length, size)
            try:
                timing = _time_transfer(build, receiver, args.warmup, args.repeats)
                np.testing.assert_array_equal(receiver.buffer, audio)  # every sample arrived where it belongs
            finally:
                receiver.close()
            datagram = max(len(d) for d in build())
            rows.append({"direction": direction, "format": name, "floats_per_chunk": size,
                         "chunks": -(-length // size), "largest_datagram_bytes": datagram, **timing})
            lines.append([direction, name, str(size), str(-(-length // size)), str(datagram),
                          f"{timing['median_ms']:.2f} ({timing['min_ms']:.2f})", str(timing["lost_rounds"])])
    print(markdown_table(["direction", "format", "floats/chunk", "chunks", "datagram bytes", "ms median (min)",
                          "lost rounds"], lines))
    return {"environment": machine(), "samples": {"up": UP_SAMPLES, "down": DOWN_SAMPLES}, "rows": rows}


# ----------------------------------------------------------------------------------------------
# cycle


def _models(tier: str, mode: str, steps: int | None = None) -> tuple[Any, Any, str]:
    """(codec, generator, description) for a tier and sampler (`steps` None: the model's recommendation)."""
    from jaxaccomp.streaming.models import DEMO_MODELS, load_model

    if tier == "embedded":
        codec, generator = load_model(None, mode, "embedded", steps)
        return codec, generator, f"shipped {DEMO_MODELS[mode]}, embedded codec"
    return paper_tier(mode)


def paper_tier(mode: str, preset_name: str = "paper", codec_size: str = "full", dtype: str = "float32",
               codec_device: str | None = None) -> tuple[Any, Any, str]:
    """The paper tier with random weights: a SongUNet preset computing in `dtype` and Music2Latent
    (`full`, or `tiny` for a CPU smoke run) on `codec_device` (default: its own choice)."""
    import jax.numpy as jnp
    from flax import nnx

    from jaxaccomp.codec.music2latent import Music2LatentCodec
    from jaxaccomp.config import preset
    from jaxaccomp.nn.precond import Denoiser
    from jaxaccomp.nn.songunet import SongUNet
    from jaxaccomp.streaming.generator import Generator

    denoiser = Denoiser(SongUNet(preset(preset_name), rngs=nnx.Rngs(0), dtype=jnp.dtype(dtype)), mode=mode)
    codec = Music2LatentCodec.random(codec_size, device=codec_device)
    return codec, Generator(denoiser), (f"{preset_name} U-Net ({dtype}) and Music2Latent {codec_size} "
                                        f"({codec.device}), random weights")


def server_cycles(codec: Any, generator: Any, r: float, w: int, warmup: int, repeats: int) -> dict[str, Any]:
    """Drive a live server for warmup + repeats steps; its stage medians over the timed ones."""
    from jaxaccomp.client.core import ClientCore, ClientSettings
    from jaxaccomp.client.player import Connection
    from jaxaccomp.server.session import Session, Settings, engine_factory, warm_up
    from jaxaccomp.stream_settings import StreamSettings
    from jaxaccomp.server import udp
    from jaxaccomp.server.udp import UdpServer

    stream = StreamSettings(r=r, w=w)
    settings = Settings(stream, max_stems=1, ramp_lead_in=False)
    make_engine = engine_factory(codec, generator)
    warm_up(generator, make_engine, settings, (1,))
    compiled = generator.compilations
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        listen = probe.getsockname()
    session = Session(make_engine, settings, log=lambda line: None)
    server = UdpServer(session, udp.listen("127.0.0.1", 0), listen, log=lambda line: None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client_settings = ClientSettings(stream, settings.package_size, blob=True, position=True)
    steps = warmup + repeats
    core = ClientCore(client_settings, (steps + 3) * stream.step)
    context = (0.1 * np.random.default_rng(0).standard_normal(core.tracks.shape[1])).astype(np.float32)
    connection = Connection(server.address, listen)
    try:
        for k in range(1, steps + 1):
            if k == warmup + 1:
                session.telemetry.clear()  # forget the warm-up cycles
            connection.send(core.predict(k * stream.step, context, time.monotonic()))
            deadline = time.monotonic() + REPLY_TIMEOUT
            while len(core.stats.round_trips_ms) + core.stats.dropped < k:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no reply to step {k} within {REPLY_TIMEOUT:.0f} s")
                message = connection.receive()
                if message is not None:
                    core.receive(message, time.monotonic())
        medians = session.telemetry.medians()
    finally:
        connection.close()
        server.stop()
        thread.join()
    trips = core.stats.round_trips_ms[warmup:]
    return {"stages_ms": medians, "round_trip_ms": statistics.median(trips), "step_budget_ms": stream.step_budget_ms,
            "compilations_while_serving": generator.compilations - compiled}


def cycle(args: argparse.Namespace) -> dict[str, Any]:
    import jax

    rows, lines = [], []
    stages = ("receive", "encode", "sample", "decode", "send", "total")
    if args.steps and args.tier != "embedded":
        raise ValueError("--steps is for the embedded tier's shipped models")
    for mode, steps in itertools.product(args.modes, args.steps or [None]):
        codec, generator, description = _models(args.tier, mode, steps)
        for r in args.r:
            result = server_cycles(codec, generator, r, args.w, args.warmup, args.repeats)
            rows.append({"tier": args.tier, "models": description, "mode": mode, "steps": generator.steps,
                         "guidance": generator.guidance, "r": r, "w": args.w, **result})
            medians = result["stages_ms"]
            lines.append([mode, str(generator.steps), f"{r:g}",
                          *(f"{medians[f'{stage}_ms']:.0f}" for stage in stages),
                          f"{result['round_trip_ms']:.0f}", f"{result['step_budget_ms']:.0f}",
                          f"{result['step_budget_ms'] / medians['total_ms']:.1f}x"])
    print(f"{args.tier} tier on {jax.devices()[0].device_kind}:")
    print(markdown_table(["mode", "steps", "r", *(f"{s} ms" for s in stages), "round trip ms", "budget ms",
                          "budget / total"], lines))
    return {"environment": {**machine(), "jax_device": jax.devices()[0].device_kind,
                            "jax": jax.__version__}, "rows": rows}


def benchmark(argv: list[str] | None = None) -> dict[str, Any]:
    """Run for command-line `argv`; prints the table and returns the JSON record."""
    args = _parser().parse_args(argv)
    result = transfer(args) if args.command == "transfer" else cycle(args)
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    from jaxaccomp import cli

    cli.run(benchmark)
