"""The reference client's logic, as the Max external behaves (docs/protocol.md, "What the reference client
does per step"): no sockets.

`predict(curr)` is one tick of the step clock at playback position curr (a multiple of the step):
it zeroes the content zone [curr + w step, +step) of every generated track, sends the context block
[curr - step, curr) as `/context` chunks and remembers where the reply goes. `receive` writes
reply chunks into the tracks with the external's linear crossfade over the lead-in. Two things
differ from the external, on purpose:

  placement  every chunk is placed from its batch's own write origin (saved when the batch was
             sent) plus its index times the package size, or by the absolute position the server
             sends when it speaks the extension; the external latches the origin from chunk 0, so
             a lost chunk 0 misplaces a whole reply.
  crossfade  one linear crossfade: a server that pre-ramps the lead-in (the reference server; ours
             unless started with --no-ramp, it says so in /hello_reply) gets only the old audio
             faded out, where the external would ramp the new audio a second time (a level dip).
  restarts   a `/ready` while streaming means the server restarted with its own start-up settings:
             `due_setup` then hands back the external's set-up messages to send again once (Max's
             patch reloads on `/ready` too); with positions the new server is on time at once.
  lateness   replies of the current and previous `keep` batches are accepted (the external keeps
             one previous); older ones are dropped and counted. Samples that arrive after the
             playhead passed them are counted as late (a live listener heard silence there) and,
             with `drop_late`, not written, so the tracks hold exactly what was heard.
"""

from __future__ import annotations

import statistics
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from jaxaccomp.constants import STEMS
from jaxaccomp.protocol import (AudioChunk, BatchDropped, Bundle, Busy, HelloReply, LoadModel, Message,
                                   PacketTestResponse, PredictInstruments, Ready, Reset, ServerPredicted, StatsReply,
                                   UpdateFade, UpdatePackageSize, UpdateR, W, audio_chunks)
from jaxaccomp.stream_settings import StreamSettings
from jaxaccomp.tracks import crossfade_into


@dataclass(frozen=True)
class ClientSettings:
    """What the external is configured with: its stream settings and what only a client chooses."""

    stream: StreamSettings = StreamSettings()
    package_size: int = 4410  # the RTAP patch's default
    stems: tuple[str, ...] = ("bass",)
    blob: bool = False  # extensions: only once the server's /hello_reply lists them
    position: bool = False
    ramped: bool = True  # the server pre-ramps the lead-in (the reference server always does)
    stop_gate: bool = True  # play the parts through the stop gate (jaxaccomp.stop_gate)

    def __post_init__(self) -> None:
        if not self.stems or not set(self.stems) <= set(STEMS) or len(set(self.stems)) != len(self.stems):
            raise ValueError(f"stems must be distinct names from {', '.join(STEMS)}, got {', '.join(self.stems)}")
        UpdatePackageSize(self.package_size)  # its range, as a one-line error

    @property
    def content_offset(self) -> int:
        """Where the content window starts relative to curr, computed as the external does."""
        return int(self.stream.w * self.stream.r * self.stream.window)

    def setup_messages(self) -> list[bytes]:
        """What the external's `load_model` sends, in its order: settings, stems, then /load_model."""
        flags = tuple(stem in self.stems for stem in STEMS)
        stream = self.stream
        return [UpdatePackageSize(self.package_size).encode(), UpdateR(stream.r).encode(), W(stream.w).encode(),
                UpdateFade(stream.fade).encode(), PredictInstruments(flags).encode(), LoadModel().encode()]


@dataclass
class _Reply:
    """Where one batch's reply goes and what of it arrived."""

    batch_id: int
    write_start: int
    sent_at: float
    chunks: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    done_at: float | None = None
    dropped: bool = False


@dataclass
class ClientStats:
    """Counters for the latency report."""

    batches: int = 0
    complete: int = 0  # every chunk of every stem arrived
    dropped: int = 0  # the server answered /batch_dropped
    stale_chunks: int = 0  # chunks of a batch older than the kept ones (or never sent)
    late_samples: int = 0  # samples that arrived after the playhead passed them
    written_samples: int = 0
    round_trips_ms: list[float] = field(default_factory=list)  # send -> /server_predicted

    def summary(self) -> dict[str, float | None]:
        """The counters and round-trip quantiles (None without a completed reply)."""
        trips = sorted(self.round_trips_ms)
        return {"batches": self.batches, "complete": self.complete, "dropped": self.dropped,
                "incomplete": self.batches - self.complete - self.dropped, "stale_chunks": self.stale_chunks,
                "late_samples": self.late_samples, "written_samples": self.written_samples,
                "round_trip_median_ms": statistics.median(trips) if trips else None,
                "round_trip_p95_ms": trips[min(len(trips) - 1, int(0.95 * len(trips)))] if trips else None,
                "round_trip_max_ms": trips[-1] if trips else None}


class ClientCore:
    """The generated tracks ([stems, length]) and the bookkeeping of a stream; see the module docstring."""

    def __init__(self, settings: ClientSettings, length: int, keep: int = 2, drop_late: bool = False):
        self.settings, self.keep, self.drop_late = settings, keep, drop_late
        self.tracks = np.zeros((len(settings.stems), length), np.float32)
        self.batch_id = 0  # the last batch sent; the first is 1, as the external counts
        self.stats = ClientStats()
        self.server: HelloReply | None = None
        self.server_stats: dict[str, float] = {}
        self.ready = False
        self.busy: str | None = None  # why the server refused this client (it streams with another one)
        self._setup_due = False
        self.packet_test_at: float | None = None
        self.packet_round_trip_ms: float | None = None
        self._replies: OrderedDict[int, _Reply] = OrderedDict()

    def reset(self) -> bytes:
        """A new stream: the server starts at sample 0 and takes any batch id again."""
        self._replies.clear()
        return Reset().encode()

    def due_setup(self) -> list[bytes]:
        """The set-up messages to send again after a server restart, once; else nothing."""
        due, self._setup_due = self._setup_due, False
        return self.settings.setup_messages() if due else []

    def predict(self, curr: int, context: np.ndarray, now: float) -> list[bytes]:
        """One step at playback position `curr`: the `/context` datagrams of [curr - step, curr)."""
        s = self.settings
        content = curr + s.content_offset
        step = s.stream.step
        self.tracks[:, max(content, 0):max(content + step, 0)] = 0.0  # the reply replaces it
        self.batch_id += 1
        self._replies[self.batch_id] = _Reply(self.batch_id, content - s.stream.fade_samples, now)
        while len(self._replies) > self.keep:
            self._replies.popitem(last=False)
        self.stats.batches += 1
        start = max(curr - step, 0)
        block = np.zeros(step, np.float32)
        piece = context[start:curr]
        block[:piece.shape[0]] = piece  # past the end of the file the context is silence
        return audio_chunks("/context", self.batch_id, block[:curr - start], s.package_size, sample_offsets=True,
                            position=start if s.position else None, blob=s.blob)

    def receive(self, message: Message, now: float, playhead: int | None = None) -> None:
        """Take one message from the server at time `now`; `playhead` (samples) marks what was played."""
        if isinstance(message, Bundle):
            for element in message.elements:
                self.receive(element, now, playhead)
        elif isinstance(message, AudioChunk):
            self._chunk(message, playhead)
        elif isinstance(message, ServerPredicted):
            self._predicted(now)
        elif isinstance(message, BatchDropped):
            reply = self._replies.get(message.batch_id)
            if reply is not None and not reply.dropped:
                reply.dropped = True
                self.stats.dropped += 1
        elif isinstance(message, HelloReply):
            self.server = message
        elif isinstance(message, Busy):
            self.busy = message.reason
        elif isinstance(message, StatsReply):
            self.server_stats = dict(message.values)
        elif isinstance(message, Ready):
            self._setup_due = self.ready or self.batch_id > 0  # not the first: the server restarted
            self.ready = True
        elif isinstance(message, PacketTestResponse) and self.packet_test_at is not None:
            self.packet_round_trip_ms = 1e3 * (now - self.packet_test_at)

    def _chunk(self, chunk: AudioChunk, playhead: int | None) -> None:
        s = self.settings
        stem = chunk.address[1:]
        reply = self._replies.get(chunk.batch_id)
        if stem not in s.stems:
            return  # as the external: an address it does not know is ignored
        if reply is None:
            self.stats.stale_chunks += 1
            return
        start = chunk.position if chunk.position is not None else reply.write_start + chunk.index * s.package_size
        samples = chunk.samples
        if playhead is not None:
            late = int(np.clip(playhead - start, 0, samples.shape[0]))
            self.stats.late_samples += late
            if self.drop_late:
                start, samples = start + late, samples[late:]
        crossfade_into(self.tracks[s.stems.index(stem)], start, samples, s.stream.fade_samples, origin=reply.write_start,
                       pre_ramped=s.ramped)
        self.stats.written_samples += samples.shape[0]
        reply.chunks[stem] = reply.chunks.get(stem, 0) + 1
        reply.expected[stem] = chunk.total

    def _predicted(self, now: float) -> None:
        """`/server_predicted` names no batch: it closes the newest reply that got chunks."""
        for reply in reversed(self._replies.values()):
            if reply.chunks and reply.done_at is None:
                reply.done_at = now
                self.stats.round_trips_ms.append(1e3 * (now - reply.sent_at))
                complete = (set(reply.chunks) == set(self.settings.stems)
                            and all(reply.chunks[stem] >= reply.expected[stem] for stem in reply.chunks))
                self.stats.complete += complete
                return
