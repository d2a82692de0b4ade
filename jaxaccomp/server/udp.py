"""The UDP transport around a `Session`: one receive loop, one inference worker, one send socket.

The receive loop only parses and hands over to the `Hub`, so a chunk is never lost while the model
runs: the hub's worker runs one job at a time and a batch completed meanwhile is answered
`/batch_dropped` by the session. Replies go to the configured client address, never to a packet's source (Max opens a fresh
socket per message, and answering a source would let anyone on the network aim the server's
traffic at a third party). A malformed datagram is one log line; nothing from the network is ever
executed or used as a path.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from jaxaccomp.server.hub import Hub
from jaxaccomp.server.session import Session
from jaxaccomp.protocol import Ready, WireError, parse

RECEIVE_BUFFER = 4 << 20  # the reference's SO_RCVBUF: a whole batch of chunks fits while the loop is busy
RECEIVE_SIZE = 65536  # any UDP datagram; parse rejects what exceeds an IPv4 payload
POLL_INTERVAL = 0.02  # seconds between watchdog checks when no datagram arrives


def listen(host: str, port: int) -> socket.socket:
    """The server's receiving socket, bound to (host, port); a one-line ValueError if it cannot be.

    serve.py binds it before loading and compiling the model, so a busy port or a wrong address is
    reported in a second, not after the warm-up."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    return bind(sock, host, port, "cannot listen on")


def bind(sock: socket.socket, host: str, port: int, failure: str) -> socket.socket:
    """`sock` bound to (host, port); else it is closed and a one-line ValueError says `failure` host:port: why."""
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as exc:
        sock.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"{failure} {host}:{port}: {reason}") from None
    return sock


def check_address(host: str, port: int, what: str) -> None:
    """A one-line ValueError unless (host, port) is an IPv4 address replies can be sent to."""
    try:
        socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as exc:
        raise ValueError(f"{what} {host}:{port} is not a usable address: {exc}") from None


class UdpPeer:
    """The UDP client: every reply goes to its configured address, `gap` seconds apart (0: back to back).

    A step's reply is tens of datagrams of ~22 KB; sent back to back they arrive within ~2 ms, and a
    client whose receive buffer holds less than a whole reply (Linux's default is 208 KiB) loses the
    rest. A gap lets such a client read as they come, at (datagrams - 1) x gap of latency."""

    def __init__(self, client: tuple[str, int], log: Callable[[str], None], gap: float = 0.0):
        self.client, self._log, self.gap = client, log, gap
        self.name = f"the UDP client at {client[0]}:{client[1]}"
        self._out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._out.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, RECEIVE_BUFFER)

    def send(self, datagrams: list[bytes]) -> None:
        for k, data in enumerate(datagrams):
            if k and self.gap:
                time.sleep(self.gap)
            try:
                self._out.sendto(data, self.client)
            except OSError as exc:  # e.g. the client port is closed: the next cycle may find it open
                self._log(f"send to {self.client[0]}:{self.client[1]} failed: {exc}")
                return

    def close(self) -> None:
        self._out.close()


class UdpServer:
    """Serve `session` on a socket from `listen`, replying to `client`; `serve_forever` until `stop`.

    Its `hub` is where other ways in (the web bridge) deliver their messages too."""

    def __init__(self, session: Session, sock: socket.socket, client: tuple[str, int],
                 log: Callable[[str], None] = print, reply_gap: float = 0.0):
        self.session, self.client, self._log = session, client, log
        self.hub = Hub(session, log)
        self.peer = UdpPeer(client, log, reply_gap)
        self._sock = sock
        self._sock.settimeout(POLL_INTERVAL)
        self._stopping = threading.Event()
        self.malformed = 0

    @property
    def address(self) -> tuple[str, int]:
        return self._sock.getsockname()

    def serve_forever(self) -> None:
        """Send `/ready`, then receive until `stop` (from another thread or a signal handler)."""
        self.hub.start()
        self.peer.send([Ready().encode()])
        try:
            while not self._stopping.is_set():
                try:
                    data = self._sock.recv(RECEIVE_SIZE)
                except TimeoutError:
                    data = None
                now = time.monotonic()
                if data is not None:
                    try:
                        message = parse(data)
                    except WireError as exc:
                        self.malformed += 1
                        self._log(f"dropped a malformed datagram: {exc}")
                    else:
                        self.hub.deliver(self.peer, message, now)
                self.hub.poll(now)
        finally:
            self.hub.stop()
            self._sock.close()
            self.peer.close()

    def stop(self) -> None:
        self._stopping.set()
