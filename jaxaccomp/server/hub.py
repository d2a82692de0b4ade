"""One session, several ways in: who holds the session, the inference worker and the watchdog.

The UDP server (Max, Pure Data, the Python client) and the web bridge (a browser tab) both parse
datagrams and hand the messages here, so batching, dropping, the timeline and the compiled engine are
the `Session`'s alone, whichever way a client came in. One client streams at a time:

  holding  a browser tab holds the session from its connection to its close; the UDP client holds
           it while it sent something in the last HOLD_SECONDS (UDP has no connection to close).
  refusal  messages of any other client are dropped, logged once per refusal and answered `/busy`
           with the reason (at most once a second); a tab that connects meanwhile is turned away
           with the reason before it sends anything.

Replies go to the peer that holds the session when they are made: the worker's reply goes to the
peer whose batch it was, even if that peer has left (its send then goes nowhere).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Protocol

from jaxaccomp.protocol import Busy, Message
from jaxaccomp.server.session import Job, Session

HOLD_SECONDS = 3.0  # a UDP client silent this long has stopped: another client may take over
BUSY_INTERVAL = 1.0  # seconds between two /busy answers to one refused client


class Peer(Protocol):
    """A client as the hub sees it: a name for log lines and a way to send it datagrams."""

    name: str

    def send(self, datagrams: list[bytes]) -> None: ...


class Hub:
    """`session` behind a lock of who holds it, with one worker thread running its jobs (`start`/`stop`)."""

    def __init__(self, session: Session, log: Callable[[str], None] = print):
        self.session, self._log = session, log
        self._lock = threading.Lock()
        self._holder: Peer | None = None
        self._connected = False  # the holder holds until it disconnects, not until it falls silent
        self._heard_at = float("-inf")
        self._refused: dict[int, float] = {}  # id(peer) -> when it was last told /busy
        self._jobs: queue.Queue[tuple[Job, Peer] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="inference", daemon=True)

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        """Finish the running job, then end the worker."""
        self._jobs.put(None)
        if self._worker.is_alive():
            self._worker.join()

    def connect(self, peer: Peer, now: float) -> str | None:
        """A connection-oriented peer (a browser tab) asks to hold the session: None if it does, else why not."""
        with self._lock:
            reason = self._busy(peer, now)
            if reason is None:
                self._take(peer, now)
                self._connected = True
            return reason

    def disconnect(self, peer: Peer) -> None:
        with self._lock:
            if self._holder is peer:
                self._holder, self._connected = None, False
                self._heard_at = float("-inf")

    def deliver(self, peer: Peer, message: Message, now: float) -> None:
        """A message from `peer`: to the session if `peer` may hold it, else refused with `/busy`."""
        with self._lock:
            reason = self._busy(peer, now)
            if reason is None:
                self._take(peer, now)
            elif now - self._refused.get(id(peer), float("-inf")) >= BUSY_INTERVAL:
                if id(peer) not in self._refused:
                    self._log(f"ignoring {peer.name}: {reason}")
                self._refused[id(peer)] = now
                peer.send([Busy(reason).encode()])
        if reason is None:
            self._dispatch(peer, self.session.receive(message, now))

    def poll(self, now: float) -> None:
        """Fire the session's watchdog; what it answers goes to the holder."""
        with self._lock:
            holder = self._holder
        replies = self.session.poll(now)
        if holder is not None:
            self._dispatch(holder, replies)

    def _busy(self, peer: Peer, now: float) -> str | None:
        holder = self._holder
        if holder is None or holder is peer or (not self._connected and now - self._heard_at >= HOLD_SECONDS):
            return None
        return f"{holder.name} is streaming; the server takes one client at a time"

    def _take(self, peer: Peer, now: float) -> None:
        if self._holder is not peer:
            self._holder, self._connected = peer, False
            self._refused.clear()
        self._heard_at = now

    def _dispatch(self, peer: Peer, replies: tuple[list[bytes], Job | None]) -> None:
        datagrams, job = replies
        if datagrams:
            peer.send(datagrams)
        if job is not None:
            self._jobs.put((job, peer))

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, peer = item
            datagrams, stages = self.session.run(job)
            sent_at = time.monotonic()
            peer.send(datagrams)
            if datagrams:
                self.session.cycle_done(job, stages, sent_at, time.monotonic(), len(datagrams) - 1)
