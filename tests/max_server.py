"""serve.py's server (Session + UdpServer) with the tiny random model on loopback, for the C++ clients.

Test modules import the `server` fixture from here. It records every batch it serves: the block the
client sent and the audio it sent back per stem, decoded from its own reply datagrams, so a test can
check where the client put each reply. The warmed model is built once per process and shared by the
test modules that use it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from jaxaccomp.server.session import EngineFactory, Job, Session, Settings
from jaxaccomp.stream_settings import StreamSettings
from jaxaccomp.server.udp import UdpServer
from jaxaccomp.protocol import AudioChunk, parse
from jaxaccomp.codec.embedded import EmbeddedCodec

# A 2 s context, so a step (r = 0.25) is 0.5 s of playback; the clients start from T = 264600
# and must take this one from /hello_reply.
SETTINGS = Settings(StreamSettings(88200, 0.25, 1, 0.02), package_size=5120, stems=("bass",))
_engines: dict[Settings, EngineFactory] = {}


@dataclass
class Served:
    block: np.ndarray
    audio: dict[str, np.ndarray]
    positions: bool  # the reply carried absolute positions (the client sent them)


class RecordingSession(Session):
    """A Session that keeps what it received and sent for every batch it ran."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.served: dict[int, Served] = {}

    def run(self, job: Job) -> tuple[list[bytes], dict[str, float]]:
        datagrams, stages = super().run(job)
        chunks = [m for m in map(parse, datagrams) if isinstance(m, AudioChunk)]
        audio = {stem: np.concatenate([c.samples for c in chunks if c.address == f"/{stem}"])
                 for stem in {c.address[1:] for c in chunks}}
        self.served[job.batch_id] = Served(job.block.copy(), audio, all(c.position is not None for c in chunks))
        return datagrams, stages


@dataclass
class Server:
    address: tuple[str, int]
    client_port: int  # where replies go: the client under test must listen here
    session: RecordingSession
    lines: list[str] = field(default_factory=list)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def warmed_engines(tiny_net, folder: Path, settings: Settings = SETTINGS) -> EngineFactory:
    """Engines of the tiny model with the embedded codec, compiled for one stem (as test_serve's `live`)."""
    if settings not in _engines:
        from jaxaccomp.streaming.models import load_model
        from jaxaccomp.nn.precond import Denoiser
        from jaxaccomp.server.session import engine_factory, warm_up
        from jaxaccomp.nn.checkpoint import save_denoiser

        save_denoiser(folder / "model", Denoiser(tiny_net), codec=EmbeddedCodec.name)
        codec, generator = load_model(folder / "model", None, None, 2)
        make_engine = engine_factory(codec, generator)
        warm_up(generator, make_engine, settings, stem_counts=(1,))
        _engines[settings] = make_engine
    return _engines[settings]


@contextmanager
def serving(make_engine: EngineFactory, settings: Settings = SETTINGS) -> Iterator[Server]:
    """A server on a free loopback port, replying to another free port, until the block ends."""
    lines: list[str] = []
    client_port = free_udp_port()
    session = RecordingSession(make_engine, settings, log=lines.append)
    udp = UdpServer(session, "127.0.0.1", 0, ("127.0.0.1", client_port), log=lines.append)
    thread = threading.Thread(target=udp.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(udp.address, client_port, session, lines)
    finally:
        udp.stop()
        thread.join(10)


@pytest.fixture(scope="module")
def server(tiny_net, tmp_path_factory) -> Iterator[Server]:
    """A fresh server per test module (the warmed model is shared)."""
    with serving(warmed_engines(tiny_net, tmp_path_factory.mktemp("model"))) as running:
        yield running
