"""The UDP transport around a `Session`: one receive loop, one inference worker, one send socket.

The receive loop only parses and hands over, so a chunk is never lost while the model runs: the
worker runs one job at a time and a batch completed meanwhile is answered `/batch_dropped` by the
session. Replies go to the configured client address, never to a packet's source (Max opens a fresh
socket per message, and answering a source would let anyone on the network aim the server's
traffic at a third party). A malformed datagram is one log line; nothing from the network is ever
executed or used as a path.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable

from jaxaccomp.server.session import Job, Session
from jaxaccomp.protocol import Ready, WireError, parse

RECEIVE_BUFFER = 4 << 20  # the reference's SO_RCVBUF: a whole batch of chunks fits while the loop is busy
RECEIVE_SIZE = 65536  # any UDP datagram; parse rejects what exceeds an IPv4 payload
POLL_INTERVAL = 0.02  # seconds between watchdog checks when no datagram arrives


def listen(host: str, port: int) -> socket.socket:
    """The server's receiving socket, bound to (host, port); a one-line ValueError if it cannot be.

    serve.py binds it before loading and compiling the model, so a busy port or a wrong address is
    reported in a second, not after the warm-up."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.bind((host, port))
    except (OSError, OverflowError) as exc:
        sock.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def check_address(host: str, port: int, what: str) -> None:
    """A one-line ValueError unless (host, port) is an IPv4 address replies can be sent to."""
    try:
        socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as exc:
        raise ValueError(f"{what} {host}:{port} is not a usable address: {exc}") from None


class UdpServer:
    """Serve `session` on a socket from `listen`, replying to `client`; `serve_forever` until `stop`."""

    def __init__(self, session: Session, sock: socket.socket, client: tuple[str, int],
                 log: Callable[[str], None] = print):
        self.session, self.client, self._log = session, client, log
        self._sock = sock
        self._sock.settimeout(POLL_INTERVAL)
        self._out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._out.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, RECEIVE_BUFFER)
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work, name="inference", daemon=True)
        self.malformed = 0

    @property
    def address(self) -> tuple[str, int]:
        return self._sock.getsockname()

    def _send(self, datagrams: list[bytes]) -> None:
        for data in datagrams:
            try:
                self._out.sendto(data, self.client)
            except OSError as exc:  # e.g. the client port is closed: the next cycle may find it open
                self._log(f"send to {self.client[0]}:{self.client[1]} failed: {exc}")
                return

    def _dispatch(self, replies: tuple[list[bytes], Job | None]) -> None:
        datagrams, job = replies
        self._send(datagrams)
        if job is not None:
            self._jobs.put(job)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            datagrams, stages = self.session.run(job)
            sent_at = time.monotonic()
            self._send(datagrams)
            if datagrams:
                self.session.cycle_done(job, stages, sent_at, time.monotonic(), len(datagrams) - 1)

    def serve_forever(self) -> None:
        """Send `/ready`, then receive until `stop` (from another thread or a signal handler)."""
        self._worker.start()
        self._send([Ready().encode()])
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
                        self._dispatch(self.session.receive(message, now))
                self._dispatch(self.session.poll(now))
        finally:
            self._jobs.put(None)
            self._worker.join()
            self._sock.close()
            self._out.close()

    def stop(self) -> None:
        self._stopping.set()
