"""serve.py's server (Session + UdpServer) with the tiny random model on loopback, for the C++ clients.

The `server` fixture is registered for every test by tests/conftest.py. It records every batch it serves: the block the
client sent and the audio it sent back per stem, decoded from its own reply datagrams, so a test can
check where the client put each reply. The warmed model is built once per process and shared by the
test modules that use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pytest

from jaxaccomp.protocol import AudioChunk, parse
from jaxaccomp.server.session import EngineFactory, Job, Session, Settings
from jaxaccomp.stream_settings import StreamSettings
from tests.support.servers import free_address, running_server, warmed_model

# A 2 s context, so a step (r = 0.25) is 0.5 s of playback; the clients start from T = 264600
# and must take this one from /hello_reply.
SETTINGS = Settings(StreamSettings(88200, 0.25, 1, 0.02), package_size=5120, stems=("bass",))


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


@contextmanager
def serving(make_engine: EngineFactory, settings: Settings = SETTINGS) -> Iterator[Server]:
    """A recording server on a free loopback port, replying to another free port, until the block ends."""
    client_port = free_address()[1]
    with running_server(make_engine, ("127.0.0.1", client_port), settings, RecordingSession) as (udp, lines):
        yield Server(udp.address, client_port, udp.session, lines)


@pytest.fixture(scope="module")
def server(tiny_net, tmp_path_factory) -> Iterator[Server]:
    """A fresh server per test module (the warmed model is shared)."""
    with serving(warmed_model(tiny_net, tmp_path_factory.mktemp("model"), SETTINGS).make_engine) as running:
        yield running
