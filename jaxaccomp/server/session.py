"""The server's protocol state machine: parsed messages and a clock in, datagrams out; no sockets.

Everything the reference server decides (docs/protocol.md, "What the reference server does per batch")
is decided here, so that it is testable without a network or a model:

  batches   `/context` chunks are written at their sample offset into a step block of
            int(window r) samples. A chunk with a newer batch id starts a new batch; a chunk of an
            older batch is dropped (the reference would start a new batch and write the stale
            samples into the current block); a chunk that does not fit the block is dropped. A batch
            is ready when `total` chunks arrived, or when the watchdog fires (`poll`): 5 x the mean
            inter-chunk gap after the latest chunk, and never before 0.25 s after the first. A
            batch overtaken by a newer one is ready too, on what arrived; if that chunk completes the
            newer batch at once, the newer one is generated and the overtaken one `/batch_dropped`.
  timeline  every ready batch advances the playback position by one step per batch id it moved
            on (batches Max sent that never arrived count too), even one that is dropped because
            the inference worker is busy (`/batch_dropped`): the engine gets the position with
            `end=`, so a lost step is a gap in time, never a silent compression of it. A client
            that sends absolute positions (extension) sets the position itself; a position that
            goes back (a loop, a restarted client) starts a fresh stream there.
            `/load_model` (the last message a Max client sends when it starts, its batch ids
            beginning again at 1) starts a fresh stream too, as `/reset` does: a reopened patch
            is heard at once instead of having its "older" batches dropped.
  replies   in the format the batch came in: a client that sent blobs or positions gets them back.
  controls  r, w, fade, package size, stems and verbose are checked together (`StreamSettings`);
            an impossible combination is logged in one line and ignored.
            A change of r, w, fade or stems builds a new engine (its compiled sampler is shared).
            More stems than `max_stems` (what was compiled at start-up) are refused.
  telemetry receive (first chunk to ready), encode, sample, decode, send and total per cycle, as
            the reference paper's Table 1, against the step budget r T / sr; see `Telemetry`.

`receive` returns the datagrams to send now and at most one `Job`; whoever owns the worker thread
calls `run(job)` (one at a time), sends what it returns and then reports `cycle_done`. Only `run`
touches the model.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from jaxaccomp.codec.base import Codec
from jaxaccomp.constants import SAMPLE_RATE, STEMS
from jaxaccomp.server.recorder import Recorder
from jaxaccomp.protocol import (CAPABILITIES, PROTOCOL_VERSION, AudioChunk, BatchDropped, Bundle, Hello,
                                   HelloReply, LoadModel, Message, PacketTest, PacketTestResponse, Predict,
                                   PredictInstruments, Print, Reset, ServerPredicted, Stats, StatsReply, UpdateFade,
                                   UpdatePackageSize, UpdateR, Verbose, W, audio_chunks)
from jaxaccomp.streaming.engine import StepResult, StreamingEngine
from jaxaccomp.stream_settings import StreamSettings
from jaxaccomp.streaming.generator import Generator

SERVER_NAME = "jaxaccomp"
FIRST_CHUNK_TIMEOUT = 0.25  # seconds: the reference's watchdog after the first chunk (5 x its assumed 50 ms gap)
WATCHDOG_GAPS = 5
LAST_ORIGIN = 2**62  # latest step origin taken: replies at origin + a window stay int64 (2**62 samples ~ 3e6 years)
TIMING_HISTORY = 256  # cycles kept for the medians of /stats and the shutdown summary


class Engine(Protocol):
    """What a session needs of `StreamingEngine` (tests substitute a fake)."""

    step_size: int

    def step(self, audio: np.ndarray, end: int | None = None) -> StepResult: ...


@dataclass(frozen=True)
class Settings:
    """The client-controlled state: the stream settings and what the server alone decides."""

    stream: StreamSettings = StreamSettings()
    package_size: int = 5120
    stems: tuple[str, ...] = ("bass",)
    verbose: bool = False
    ramp_lead_in: bool = True  # pre-ramp the lead-in as the reference server does (Max expects it)
    max_stems: int = len(STEMS)  # stems per batch the sampler was compiled for


EngineFactory = Callable[[Settings], Engine]


def engine_factory(codec: Codec, generator: Generator) -> EngineFactory:
    """Engines for each setting, all sharing one compiled generator."""
    def make(settings: Settings) -> StreamingEngine:
        return StreamingEngine(codec, generator, settings.stems, settings.stream, ramp_lead_in=settings.ramp_lead_in)
    return make


def warm_up(generator: Generator, make_engine: EngineFactory, settings: Settings,
            stem_counts: Sequence[int] = range(1, len(STEMS) + 1)) -> float:
    """Compile everything a cycle runs before serving, so no client message can stall the stream with a
    compilation: the sampler for every stem count `/predict_instruments` can ask for (by default 1 to 4;
    a count left out compiles on its first batch), and the codec's encode and decode by one silent step
    of `settings`. Returns the seconds it took."""
    start = time.perf_counter()
    for count in stem_counts:
        generator.warm_up(count)
    engine = make_engine(settings)
    engine.step(np.zeros(engine.step_size, np.float32))
    return time.perf_counter() - start


def cycle_ms(make_engine: EngineFactory, settings: Settings, stem_count: int) -> float:
    """Milliseconds of one warm step of `stem_count` stems (encode, sample, decode), to compare with the
    step budget before serving. Run after `warm_up`: the second of two steps is timed."""
    engine = make_engine(replace(settings, stems=STEMS[:stem_count]))
    silence = np.zeros(engine.step_size, np.float32)
    engine.step(silence)
    start = time.perf_counter()
    engine.step(silence)
    return 1e3 * (time.perf_counter() - start)


@dataclass(frozen=True)
class Job:
    """One ready batch for the worker: the engine it runs on, its block, where it ends, how to reply."""

    batch_id: int
    block: np.ndarray
    end: int
    engine: Engine
    settings: Settings
    first_at: float  # the clock of its first chunk
    ready_at: float  # the clock of the message (or poll) that made it ready
    reply_positions: bool = False  # the batch came with positions (extension): reply with them
    reply_blobs: bool = False


class Telemetry:
    """Per-cycle stage timings in milliseconds; thread-safe, the last TIMING_HISTORY cycles."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stages: dict[str, deque[float]] = {}

    def record(self, **stages_ms: float) -> None:
        with self._lock:
            for name, value in stages_ms.items():
                self._stages.setdefault(name, deque(maxlen=TIMING_HISTORY)).append(value)

    def summary(self, budget_ms: float) -> str:
        """One line: the median of each stage per cycle against the step budget."""
        medians = self.medians()
        if not medians:
            return "no inference cycles served"
        stages = ", ".join(f"{name.removesuffix('_ms')} {value:.0f} ms" for name, value in medians.items())
        return f"median per cycle: {stages} (step budget {budget_ms:.0f} ms)"

    def clear(self) -> None:
        with self._lock:
            self._stages.clear()

    def medians(self) -> dict[str, float]:
        with self._lock:
            return {name: statistics.median(values) for name, values in self._stages.items() if values}


@dataclass
class _Batch:
    batch_id: int
    block: np.ndarray
    total: int
    first_at: float
    last_at: float
    offsets: set[int] = field(default_factory=set)  # of the chunks that arrived (a duplicate is not counted)
    origin: int | None = None  # timeline sample of block[0], when the client sends positions
    blobs: bool = False

    @property
    def received(self) -> int:
        return len(self.offsets)

    def deadline(self) -> float:
        """When the watchdog fires: 5 mean gaps after the latest chunk, not before 0.25 s after the first."""
        mean_gap = (self.last_at - self.first_at) / (self.received - 1) if self.received > 1 else 0.0
        return max(self.last_at + WATCHDOG_GAPS * mean_gap, self.first_at + FIRST_CHUNK_TIMEOUT)


class Session:
    """One client's protocol state; see the module docstring. `log` takes one line per event."""

    def __init__(self, make_engine: EngineFactory, settings: Settings, log: Callable[[str], None] = print,
                 seed: int = 0, record: Path | None = None, name: str = SERVER_NAME):
        self._make_engine, self._log = make_engine, log
        self.name = name  # /hello_reply's server field: what serves, for a client to show
        self.recorder = Recorder(record, settings.stream.window) if record is not None else None
        self._rng = np.random.default_rng(seed)  # packet test payloads
        self._lock = threading.Lock()
        self.telemetry = Telemetry()
        self.settings = settings
        self._engine = make_engine(settings) if settings.stems else None
        self.position = 0  # playback position P of the latest ready batch
        self.busy = False
        self.batches = self.dropped = 0
        self._batch: _Batch | None = None
        self._last_ready_id: int | None = None  # the latest batch that advanced the timeline

    # --- input ------------------------------------------------------------------------------

    def receive(self, message: Message, now: float) -> tuple[list[bytes], Job | None]:
        """Handle one message at time `now` (seconds, monotonic): (datagrams to send now, a job or None)."""
        with self._lock:
            out: list[bytes] = []
            job = self._handle(message, now, out)
            return out, job

    def poll(self, now: float) -> tuple[list[bytes], Job | None]:
        """Fire the watchdog if the current batch is overdue: run it on the samples that arrived."""
        with self._lock:
            out: list[bytes] = []
            batch = self._batch
            if batch is None or now < batch.deadline():
                return out, None
            self._log(f"batch {batch.batch_id}: watchdog fired with {batch.received}/{batch.total} chunks; "
                      "missing samples are silence")
            return out, self._ready(now, out)

    def _handle(self, message: Message, now: float, out: list[bytes]) -> Job | None:
        if isinstance(message, Bundle):
            jobs = [self._handle(element, now, out) for element in message.elements]
            return next((job for job in jobs if job is not None), None)  # a job per batch: at most one here
        if isinstance(message, AudioChunk):
            if message.address == "/context":
                return self._chunk(message, now, out)
            self._log(f"ignored: audio for {message.address} (only /context is understood)")
        elif isinstance(message, UpdateR):
            self._update(r=message.r)
        elif isinstance(message, W):
            self._update(w=message.w)
        elif isinstance(message, UpdateFade):
            self._update(fade=message.fade)
        elif isinstance(message, UpdatePackageSize):
            self._update(package_size=message.size)
        elif isinstance(message, PredictInstruments):
            self._predict_instruments(message.flags)
        elif isinstance(message, Verbose):
            self._update(verbose=message.on)
        elif isinstance(message, LoadModel):  # loaded and compiled at start-up: a (re)starting client
            self._reset()
        elif isinstance(message, Reset):
            self._reset()
        elif isinstance(message, PacketTest):
            count = message.samples.shape[0]
            out.append(Bundle((PacketTestResponse(count, self._rng.random(count, dtype=np.float32)),)).encode())
        elif isinstance(message, Hello):
            ramped = ("ramped",) if self.settings.ramp_lead_in else ()  # the client must not ramp again
            out.append(HelloReply(self.name, PROTOCOL_VERSION, SAMPLE_RATE, self.settings.stream.window,
                                  CAPABILITIES + ramped).encode())
        elif isinstance(message, Stats):
            out.append(self._stats().encode())
        elif isinstance(message, Print):
            self._print()
        elif isinstance(message, Predict):
            self._log("/predict ignored: inference runs when a batch of /context is complete")
        else:
            self._log(f"ignored: {type(message).__name__} is not a message the server takes")
        return None

    # --- batches ----------------------------------------------------------------------------

    def _chunk(self, chunk: AudioChunk, now: float, out: list[bytes]) -> Job | None:
        step = self.settings.stream.step
        n = chunk.samples.shape[0]
        if chunk.index + n > step:  # checked before it may start a batch: a bad chunk changes nothing
            self._log(f"dropped: batch {chunk.batch_id} chunk at offset {chunk.index} with {n} samples does not fit "
                      f"the {step}-sample step")
            return None
        origin = None if chunk.position is None else chunk.position - chunk.index
        if origin is not None and not 0 <= origin <= LAST_ORIGIN:
            self._log(f"dropped: batch {chunk.batch_id} chunk places the step at sample {origin}, "
                      f"outside 0..{LAST_ORIGIN}")
            return None
        job = None
        batch = self._batch
        if batch is None or chunk.batch_id > batch.batch_id:
            if self._last_ready_id is not None and chunk.batch_id <= self._last_ready_id:
                self._log(f"dropped: a chunk of batch {chunk.batch_id}, older than batch {self._last_ready_id}")
                return None
            if batch is not None:  # overtaken before complete: run it on what arrived, as the watchdog would
                self._log(f"batch {batch.batch_id}: overtaken by batch {chunk.batch_id} with "
                          f"{batch.received}/{batch.total} chunks; missing samples are silence")
                job = self._ready(now, out)
            batch = self._batch = _Batch(chunk.batch_id, np.zeros(step, np.float32), chunk.total, now, now)
        elif chunk.batch_id < batch.batch_id:
            self._log(f"dropped: a chunk of batch {chunk.batch_id}, older than batch {batch.batch_id}")
            return None
        if chunk.index in batch.offsets:
            self._log(f"dropped: a duplicate of batch {chunk.batch_id} chunk at offset {chunk.index}")
            return job
        if origin is not None:
            if batch.received and batch.origin != origin:
                self._log(f"dropped: batch {chunk.batch_id} chunk places the step at sample {origin}, "
                          f"its other chunks at {batch.origin}")
                return job
            batch.origin = origin
        batch.blobs = chunk.blob
        batch.block[chunk.index:chunk.index + n] = chunk.samples
        batch.offsets.add(chunk.index)
        batch.last_at = now
        if batch.received >= batch.total:
            if job is not None:  # the overtaken batch's job has not started: the newer, complete batch goes instead
                self._drop(job.batch_id, "overtaken by a complete batch before its inference started", out)
                self.busy = False
            return self._ready(now, out)
        return job

    def _ready(self, now: float, out: list[bytes]) -> Job | None:
        """The current batch is done: advance the timeline; a job, or /batch_dropped if the worker is busy."""
        batch, self._batch = self._batch, None
        assert batch is not None
        steps = 1 if self._last_ready_id is None else batch.batch_id - self._last_ready_id
        self._last_ready_id = batch.batch_id
        step = batch.block.shape[0]
        end = self.position + steps * step if batch.origin is None else batch.origin + step
        if end <= self.position and self.batches:
            self._log(f"batch {batch.batch_id}: the timeline went back from sample {self.position} to {end} "
                      "(a loop or a restarted client): starting a fresh stream there")
            self._new_stream()
        self.position = end
        self.batches += 1
        if self._engine is None:
            self._log(f"batch {batch.batch_id}: no stems requested (/predict_instruments), nothing to generate")
            out.append(ServerPredicted().encode())
            return None
        if self.busy:
            self._drop(batch.batch_id, "the previous inference is still running", out)
            return None
        self.busy = True
        return Job(batch.batch_id, batch.block, self.position, self._engine, self.settings, batch.first_at, now,
                   reply_positions=batch.origin is not None, reply_blobs=batch.blobs)

    def _drop(self, batch_id: int, reason: str, out: list[bytes]) -> None:
        """A ready batch that will not be generated: counted, logged and answered `/batch_dropped`."""
        self.dropped += 1
        self._log(f"batch {batch_id} dropped: {reason}")
        out.append(BatchDropped(batch_id).encode())

    def run(self, job: Job) -> tuple[list[bytes], dict[str, float]]:
        """Run a job's step (the slow part, outside the lock): its `/<stem>` chunks, then
        `/server_predicted`, and the step's stage timings. A failed step is logged and sends nothing;
        the session stays usable."""
        try:
            result = job.engine.step(job.block, end=job.end)
        except Exception as exc:  # noqa: BLE001 - the worker thread must survive anything a client can cause
            reason = " ".join(str(exc).split())
            self._log(f"batch {job.batch_id}: step failed: {type(exc).__name__}: {reason}")
            return [], {}
        finally:
            with self._lock:
                self.busy = False
        s = job.settings
        if self.recorder is not None:
            fade = s.stream.fade_samples
            self.recorder.step(job.end, job.block, result.write_start + fade, s.stems,
                               [result.audio[stem][fade:] for stem in s.stems])
        position = result.write_start if job.reply_positions else None
        out = [data for stem in s.stems
               for data in audio_chunks(f"/{stem}", job.batch_id, result.audio[stem], s.package_size,
                                        position=position, blob=job.reply_blobs)]
        out.append(ServerPredicted().encode())
        return out, result.timings

    def cycle_done(self, job: Job, stages: dict[str, float], sent_at: float, done_at: float, chunks: int) -> None:
        """Record a served cycle: `stages` from `run`, the reply sent from `sent_at` to `done_at`."""
        timings = {"receive_ms": 1e3 * (job.ready_at - job.first_at), **stages,
                   "send_ms": 1e3 * (done_at - sent_at), "total_ms": 1e3 * (done_at - job.first_at)}
        self.telemetry.record(**timings)
        if job.settings.verbose:
            line = ", ".join(f"{name.removesuffix('_ms')} {value:.0f}" for name, value in timings.items())
            self._log(f"batch {job.batch_id}: {line} ms of a {job.settings.stream.step_budget_ms:.0f} ms step; "
                      f"{chunks} chunks")

    # --- controls ---------------------------------------------------------------------------

    def _predict_instruments(self, flags: tuple[bool, ...]) -> None:
        if len(flags) != len(STEMS):
            self._log(f"/predict_instruments: {len(flags)} flags, expected {len(STEMS)} ({', '.join(STEMS)}); "
                      f"only the first {min(len(flags), len(STEMS))} are read")
        stems = tuple(stem for stem, on in zip(STEMS, flags) if on)
        if len(stems) > self.settings.max_stems:
            self._log(f"ignored /predict_instruments: {len(stems)} stems, but the server was started for at most "
                      f"{self.settings.max_stems} (serve.py --max-stems)")
            return
        self._update(stems=stems)

    def _update(self, **changes: object) -> None:
        """Apply a client's control message; stream settings (r, w, fade) are checked as a whole."""
        stream_changes = {name: changes.pop(name) for name in ("r", "w", "fade") if name in changes}
        try:
            new = replace(self.settings, stream=replace(self.settings.stream, **stream_changes), **changes)
            if new == self.settings:
                return
            rebuild = new.stream != self.settings.stream or new.stems != self.settings.stems
            engine = (self._make_engine(new) if new.stems else None) if rebuild else self._engine
        except ValueError as exc:
            self._log(f"ignored {', '.join(f'{k}={v}' for k, v in {**stream_changes, **changes}.items())}: {exc}")
            return
        if rebuild:
            self._batch = None  # a block of the old step size cannot feed the new engine
        self.settings, self._engine = new, engine

    def _reset(self) -> None:
        """A new stream at sample 0: a fresh engine, no batch in progress, any batch id accepted."""
        self._new_stream()
        self._batch = None
        self._last_ready_id = None
        self.position = 0

    def _new_stream(self) -> None:
        self._engine = self._make_engine(self.settings) if self.settings.stems else None
        if self.recorder is not None:
            self.recorder.new_stream()

    def _print(self) -> None:
        if self.recorder is None:
            self._log("/print ignored: start the server with --record DIR to allow dumps")
            return
        paths = self.recorder.dump()
        self._log(f"/print: wrote {', '.join(p.name for p in paths)} to {self.recorder.folder}" if paths
                  else "/print: nothing served yet")

    def _stats(self) -> StatsReply:
        medians = self.telemetry.medians()
        values = {**{f"median_{name}": value for name, value in medians.items()},
                  "step_budget_ms": self.settings.stream.step_budget_ms, "batches": float(self.batches),
                  "batches_dropped": float(self.dropped)}
        return StatsReply(tuple(values.items()))
