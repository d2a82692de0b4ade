"""The hub: one session shared by the UDP server and browser tabs, one client streaming at a time."""

from __future__ import annotations

import time

import numpy as np

from jaxaccomp.protocol import Busy, Hello, HelloReply, ServerPredicted, audio_chunks, parse
from jaxaccomp.server.hub import HOLD_SECONDS, Hub
from jaxaccomp.server.session import Session, Settings
from tests.support.fake_engine import EngineRecorder

STEP = Settings().stream.step


class Peer:
    def __init__(self, name: str):
        self.name = name
        self.received: list = []

    def send(self, datagrams: list[bytes]) -> None:
        self.received += [parse(data) for data in datagrams]


def hub() -> tuple[Hub, list[str]]:
    lines: list[str] = []
    return Hub(Session(EngineRecorder(), Settings(), log=lines.append), log=lines.append), lines


def test_a_connected_peer_holds_the_session_and_the_other_is_told_why_once_a_second():
    h, lines = hub()
    tab, udp = Peer("a browser tab"), Peer("the UDP client")
    assert h.connect(tab, 0.0) is None
    h.deliver(tab, Hello(), 0.0)
    assert isinstance(tab.received[-1], HelloReply)
    for now in (100.0, 100.5, 101.2):  # long after HOLD_SECONDS: a connection holds until it closes
        h.deliver(udp, Hello(), now)
    assert udp.received == [Busy("a browser tab is streaming; the server takes one client at a time")] * 2
    assert sum("ignoring the UDP client" in line for line in lines) == 1
    assert h.connect(Peer("another tab"), 101.0) is not None
    h.disconnect(tab)
    h.deliver(udp, Hello(), 102.0)
    assert isinstance(udp.received[-1], HelloReply)


def test_a_udp_client_holds_while_it_speaks_then_lets_go():
    h, _ = hub()
    udp, tab = Peer("the UDP client"), Peer("a browser tab")
    h.deliver(udp, Hello(), 10.0)
    assert h.connect(tab, 10.0 + HOLD_SECONDS / 2) == "the UDP client is streaming; the server takes one client at a time"
    assert h.connect(tab, 10.0 + HOLD_SECONDS) is None


def test_the_workers_reply_goes_to_the_peer_whose_batch_it_was():
    h, _ = hub()
    h.start()
    try:
        tab = Peer("a browser tab")
        assert h.connect(tab, 0.0) is None
        block = np.zeros(STEP, np.float32)
        for data in audio_chunks("/context", 1, block, 8192, sample_offsets=True):
            h.deliver(tab, parse(data), time.monotonic())
        deadline = time.monotonic() + 10
        while not any(isinstance(m, ServerPredicted) for m in tab.received) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        h.stop()
    names = [m.address for m in tab.received if hasattr(m, "address") and m.address.startswith("/bass")]
    assert names and isinstance(tab.received[-1], ServerPredicted)
