"""A real server (Session + UdpServer) on loopback with the tiny random model, and free ports.

The model is saved, loaded and compiled once per test process and settings, as serve.py does at
start-up; every test module that serves reuses it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from jaxaccomp.server.session import EngineFactory, Session, Settings
from jaxaccomp.server.udp import UdpServer, listen


def free_udp_socket() -> socket.socket:
    """A UDP socket bound to a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_address() -> tuple[str, int]:
    """A loopback address nobody listens on (whoever needs it binds it)."""
    with free_udp_socket() as sock:
        return sock.getsockname()


@dataclass
class Warmed:
    """The tiny random model, loaded and compiled for one stem with the embedded codec."""

    model: Path  # its checkpoint folder
    codec: object
    generator: object
    make_engine: EngineFactory
    compiled: int  # the generator's compilations after warm-up: serving must add none


_warmed: dict[Settings, Warmed] = {}


def warmed_model(tiny_net, folder: Path, settings: Settings = Settings()) -> Warmed:
    """The warmed tiny model for `settings` (saved into `folder` the first time), shared per process."""
    if settings not in _warmed:
        from jaxaccomp.codec.embedded import EmbeddedCodec
        from jaxaccomp.nn.checkpoint import save_denoiser
        from jaxaccomp.nn.precond import Denoiser
        from jaxaccomp.server.session import engine_factory, warm_up
        from jaxaccomp.streaming.models import load_model

        save_denoiser(folder / "model", Denoiser(tiny_net), codec=EmbeddedCodec.name)
        codec, generator = load_model(folder / "model", None, None, 2)
        make_engine = engine_factory(codec, generator)
        warm_up(generator, make_engine, settings, stem_counts=(1,))  # 1 to 4 would cost a minute here
        _warmed[settings] = Warmed(folder / "model", codec, generator, make_engine, generator.compilations)
    return _warmed[settings]


@contextmanager
def running_server(make_engine: EngineFactory, client: tuple[str, int], settings: Settings = Settings(),
                   session_type: type[Session] = Session, reply_gap: float = 0.0,
                   **session: object) -> Iterator[tuple[UdpServer, list[str]]]:
    """A UdpServer on a free loopback port in a thread, replying to `client`, and its log lines."""
    lines: list[str] = []
    server = UdpServer(session_type(make_engine, settings, log=lines.append, **session), listen("127.0.0.1", 0),
                       client, log=lines.append, reply_gap=reply_gap)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, lines
    finally:
        server.stop()
        thread.join(10)
        assert not thread.is_alive(), "the server did not stop"


@contextmanager
def running_web_server(make_engine: EngineFactory, settings: Settings = Settings()
                       ) -> Iterator[tuple["WebBridge", UdpServer, list[str]]]:
    """`running_server` with the web bridge on a free loopback TCP port, as `serve.py --web` runs them."""
    from jaxaccomp.server.web import WebBridge, listen_tcp

    with running_server(make_engine, free_address(), settings) as (server, lines):
        bridge = WebBridge(server.hub, listen_tcp("127.0.0.1", 0), log=lines.append)
        bridge.start()
        try:
            yield bridge, server, lines
        finally:
            bridge.stop()
