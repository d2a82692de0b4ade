"""Stream a track to a running server in real time over UDP, as the Max external and the RTAP patch do.

A step clock ticks at every multiple of the step on the wall clock (the playhead moves at 44.1 kHz
from the first tick), and each tick sends the block just played. A listener thread takes the
replies and writes them into the tracks. The connection starts with `/hello`: a server that
answers with `/hello_reply` gets the extensions it lists (blob payloads, absolute positions, stats),
any other (the reference server) gets exactly what the external sends.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from jaxaccomp.client.core import ClientCore, ClientSettings
from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.protocol import Busy, Hello, HelloReply, Message, Ready, Stats, WireError, parse
from jaxaccomp.tracks import steps_to_cover

RECEIVE_BUFFER = 4 << 20  # a whole reply (tens of chunks) arrives back to back
POLL = 0.02  # seconds: how often a blocked receive checks for the end


class Connection:
    """The client's two sockets: sends to `server`, receives on `listen` (the external's two ports)."""

    def __init__(self, server: tuple[str, int], listen: tuple[str, int]):
        self.server = server
        self._out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._in = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._in.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        try:
            self._in.bind(listen)
        except OSError as exc:
            self.close()
            raise ValueError(f"cannot listen on {listen[0]}:{listen[1]}: {exc.strerror}") from None
        self._in.settimeout(POLL)
        self.listening = self._in.getsockname()  # where replies must go (the port, if `listen` asked for any)

    def send(self, datagrams: list[bytes]) -> None:
        for data in datagrams:
            self._out.sendto(data, self.server)

    def receive(self) -> Message | None:
        """The next message, or None when nothing came within POLL seconds or it was malformed."""
        try:
            data = self._in.recv(65536)
        except TimeoutError:
            return None
        try:
            return parse(data)
        except WireError:  # as the external: a datagram it cannot read is ignored
            return None

    def close(self) -> None:
        self._out.close()
        self._in.close()


def handshake(connection: Connection, timeout: float) -> HelloReply | None:
    """Ask `/hello` until the server answers or `timeout` passes. A `/ready` (a server that just
    started) without a `/hello_reply` soon after means a reference server: None, as after a timeout."""
    deadline = time.monotonic() + timeout
    asked = 0.0
    while (now := time.monotonic()) < deadline:
        if now - asked > 0.25:
            connection.send([Hello().encode()])
            asked = now
        message = connection.receive()
        if isinstance(message, HelloReply):
            return message
        if isinstance(message, Busy):
            raise ServerBusy(f"the server at {connection.server[0]}:{connection.server[1]} is busy: {message.reason}")
        if isinstance(message, Ready):
            deadline = min(deadline, now + 0.5)
    return None


def negotiate(settings: ClientSettings, server: HelloReply | None) -> ClientSettings:
    """The settings with every extension the server offers switched on (none for a reference server,
    which pre-ramps its lead-in)."""
    if server is None:
        return replace(settings, blob=False, position=False, ramped=True)
    if server.sample_rate != SAMPLE_RATE:
        raise ValueError(f"the server runs at {server.sample_rate} Hz; this client streams {SAMPLE_RATE} Hz")
    offers = set(server.capabilities)
    return replace(settings, blob="blob" in offers, position="position" in offers, ramped="ramped" in offers)


class NoAnswer(ValueError):
    """Nothing came back from the server: no point in streaming the rest of the song into silence."""


class ServerBusy(ValueError):
    """The server streams with another client (`/busy`) and ignores this one."""


def stream(connection: Connection, core: ClientCore, context: np.ndarray, steps: int, tail: float,
           on_step: Callable[[int], None] = lambda k: None, give_up_after: float | None = None) -> float:
    """Play `steps` steps of `context` in real time, then listen `tail` more seconds for late replies
    (and the server's `/stats`). Returns the wall time of the whole stream in seconds. With
    `give_up_after`, raise NoAnswer if no datagram at all arrived that many seconds after the first batch."""
    lock = threading.Lock()
    stop = threading.Event()
    heard = threading.Event()
    step = core.settings.stream.step
    started = time.monotonic()

    def listen() -> None:
        while not stop.is_set():
            message = connection.receive()
            if message is not None:
                heard.set()
                now = time.monotonic()
                with lock:
                    core.receive(message, now, playhead=int((now - started) * SAMPLE_RATE))

    listener = threading.Thread(target=listen, name="listener", daemon=True)
    listener.start()
    try:
        for k in range(1, steps + 1):
            time.sleep(max(0.0, started + k * step / SAMPLE_RATE - time.monotonic()))
            waited = time.monotonic() - started - step / SAMPLE_RATE  # since the first batch went out
            if give_up_after is not None and k > 1 and not heard.is_set() and waited > give_up_after:
                raise NoAnswer(f"no answer from the server in {waited:.1f} s of streaming")
            with lock:
                if core.busy is not None:
                    raise ServerBusy(f"the server is busy: {core.busy}")
                datagrams = core.due_setup() + core.predict(k * step, context, time.monotonic())
            connection.send(datagrams)
            on_step(k)
        end = started + max(context.shape[0], (steps + 1 + core.settings.stream.w) * step) / SAMPLE_RATE
        time.sleep(max(0.0, end - time.monotonic()) + tail)
        connection.send([Stats().encode()])
        time.sleep(0.2)
    finally:
        stop.set()
        listener.join()
    return time.monotonic() - started


def play(context: np.ndarray, settings: ClientSettings, server: tuple[str, int], listen: tuple[str, int], *,
         connect_timeout: float = 5.0, tail: float = 2.0, extensions: bool = True, drop_late: bool = False,
         progress: bool = False) -> tuple[ClientCore, float]:
    """The whole session for a 44.1 kHz mono `context`: handshake, the external's set-up messages and
    `/reset`, then the stream. Returns the client (its tracks and counters) and the wall time."""
    from tqdm import tqdm

    connection = Connection(server, listen)
    try:
        hello = handshake(connection, connect_timeout) if extensions else None
        settings = negotiate(settings, hello)
        core = ClientCore(settings, context.shape[0], drop_late=drop_late)
        core.server = hello
        connection.send(settings.setup_messages() + [core.reset()])
        steps = steps_to_cover(context.shape[0], settings.stream.step, settings.stream.w)
        with tqdm(total=steps, desc="stream", unit="step", disable=not progress) as bar:
            try:
                wall = stream(connection, core, context, steps, tail, on_step=lambda k: bar.update(),
                              give_up_after=connect_timeout + 2 * settings.stream.step / SAMPLE_RATE)
            except NoAnswer as exc:
                raise NoAnswer(f"{exc} at {server[0]}:{server[1]}: is serve.py running there, "
                               f"replying to port {connection.listening[1]}?") from None
    finally:
        connection.close()
    return core, wall
