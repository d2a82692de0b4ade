"""The real-time server: the protocol state machine with a fake engine, then the UDP server end to end."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from jaxaccomp.server.session import LAST_ORIGIN, Session, Settings
from jaxaccomp.protocol import (AudioChunk, BatchDropped, Bundle, Hello, HelloReply, LoadModel, PacketTest,
                                   PredictInstruments, Print, Reset, ServerPredicted, Stats, StatsReply, UpdateFade,
                                   UpdatePackageSize, UpdateR, W, audio_chunks, parse)
from jaxaccomp.stream_settings import StreamSettings
from tests.support.fake_engine import EngineRecorder, step_numbers
from tests.support.servers import Warmed, free_address, free_udp_socket, running_server, warmed_model

ROOT = Path(__file__).resolve().parents[1]
STEP, FADE, PACKAGE = 66150, 882, 4410


class Harness:
    """A session over scripted engines (each reply is its step's number), collecting its log lines."""

    def __init__(self, **settings: object):
        self.make_engine = EngineRecorder(step_numbers)
        self.engines = self.make_engine.engines
        self.lines: list[str] = []
        self.session = Session(self.make_engine, Settings(package_size=PACKAGE, **settings), log=self.lines.append)

    def send(self, message, now: float = 0.0):
        return self.session.receive(message, now)


def context_chunks(batch_id: int, block: np.ndarray, package: int = PACKAGE) -> list[AudioChunk]:
    """A step block as the Max external sends it: `/context ,iii f...`, offsets k * package."""
    return [parse(data) for data in audio_chunks("/context", batch_id, block, package, sample_offsets=True)]


def send_batch(h: Harness, batch_id: int, block: np.ndarray, now: float = 0.0):
    """Send every chunk of a batch; returns (datagrams, jobs) collected over them."""
    out, jobs = [], []
    for chunk in context_chunks(batch_id, block):
        datagrams, job = h.send(chunk, now)
        out += datagrams
        jobs += [job] if job is not None else []
    return out, jobs


def block(value: float = 0.5) -> np.ndarray:
    return np.full(STEP, value, np.float32)


def replies(datagrams: list[bytes]) -> list:
    return [parse(data) for data in datagrams]


# ----------------------------------------------------------------------------------------------
# Session


def test_a_complete_batch_is_one_step_and_its_stems_as_chunks():
    h = Harness(stems=("bass", "piano"))
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(STEP).astype(np.float32)
    out, jobs = send_batch(h, 7, audio)
    assert out == [] and len(jobs) == 1
    sent = replies(h.session.run(jobs[0])[0])
    (played, end), = h.engines[-1].calls
    np.testing.assert_array_equal(played, audio)  # every chunk at its sample offset
    assert end == STEP  # Max's first step comes at playback position one step
    assert isinstance(sent[-1], ServerPredicted)
    per_stem = -(-(STEP + FADE) // PACKAGE)
    for k, stem in enumerate(("bass", "piano")):
        chunks = sent[k * per_stem:(k + 1) * per_stem]
        assert [c.address for c in chunks] == [f"/{stem}"] * per_stem
        assert [(c.batch_id, c.index, c.total) for c in chunks] == [(7, i, per_stem) for i in range(per_stem)]
        assert sum(c.samples.shape[0] for c in chunks) == STEP + FADE
    assert len(sent) == 2 * per_stem + 1


def test_an_older_chunk_is_dropped_not_written():
    h = Harness()
    chunks = context_chunks(5, block(0.5))
    for chunk in chunks[:-1]:
        h.send(chunk)
    stale = context_chunks(4, block(9.0))[0]
    assert h.send(stale) == ([], None)
    _, job = h.send(chunks[-1])
    assert job is not None and np.all(job.block == 0.5)
    assert any("older than batch 5" in line for line in h.lines)
    h.session.run(job)
    assert h.send(context_chunks(5, block(9.0))[0]) == ([], None)  # a late chunk of a finished batch too


def test_load_model_starts_a_fresh_stream_for_a_restarted_client():
    h = Harness()
    _, jobs = send_batch(h, 40, block(0.5))
    h.session.run(jobs[0])
    assert h.send(context_chunks(1, block(0.5))[0]) == ([], None)  # batch ids from 1 again: "older"
    assert any("older than batch 40" in line for line in h.lines)
    assert h.send(LoadModel()) == ([], None)  # what a reopened Max patch sends before its first step
    _, jobs = send_batch(h, 1, block(0.25))
    assert len(jobs) == 1 and np.all(jobs[0].block == 0.25)
    h.session.run(jobs[0])
    assert h.engines[-1].calls[-1][1] == STEP  # the timeline starts over: one step from sample 0


def test_a_chunk_outside_the_block_is_dropped():
    h = Harness()
    outside = AudioChunk("/context", 1, STEP - 10, 16, np.ones(20, np.float32))
    assert h.send(outside) == ([], None)
    assert any("does not fit" in line for line in h.lines)


def test_the_watchdog_runs_a_partial_batch():
    h = Harness()
    chunks = context_chunks(1, block(0.5))
    for k, chunk in enumerate(chunks[:3]):
        h.send(chunk, now=k * 0.01)
    assert h.session.poll(0.2) == ([], None)  # 0.25 s after the first chunk at the earliest
    _, job = h.session.poll(0.26)
    assert job is not None and job.batch_id == 1
    assert np.all(job.block[:3 * PACKAGE] == 0.5) and not np.any(job.block[3 * PACKAGE:])
    assert any("watchdog" in line for line in h.lines)


def test_the_watchdog_follows_slow_chunks():
    h = Harness()
    chunks = context_chunks(1, block())
    for k, chunk in enumerate(chunks[:3]):
        h.send(chunk, now=k * 0.2)  # mean gap 0.2 s: fires 1 s after the latest chunk
    assert h.session.poll(1.3)[1] is None
    assert h.session.poll(1.41)[1] is not None


def test_busy_drops_the_batch_and_the_timeline_still_advances():
    h = Harness()
    _, (first,) = send_batch(h, 1, block())
    out, jobs = send_batch(h, 2, block())
    assert jobs == [] and [m.batch_id for m in replies(out) if isinstance(m, BatchDropped)] == [2]
    h.session.run(first)
    _, (third,) = send_batch(h, 3, block())
    assert third.end == 3 * STEP  # the dropped batch 2 still took its step of time
    h.session.run(third)
    _, (fifth,) = send_batch(h, 5, block())
    assert fifth.end == 5 * STEP  # batch 4 never arrived: time moved on two steps


def test_a_batch_overtaken_by_a_complete_one_gives_way_and_the_worker_is_not_left_busy():
    h = Harness()
    h.send(context_chunks(1, block(0.5))[0])  # batch 1 never completes
    out, job = h.send(AudioChunk("/context", 2, 0, 1, block(0.25)))  # batch 2 in one chunk overtakes it
    assert job is not None and job.batch_id == 2 and np.all(job.block == 0.25) and job.end == 2 * STEP
    assert [m.batch_id for m in replies(out) if isinstance(m, BatchDropped)] == [1]
    h.session.run(job)
    _, (third,) = send_batch(h, 3, block())  # were batch 1's job lost, the worker would stay busy forever
    assert third.end == 3 * STEP


def test_a_position_past_the_last_origin_is_dropped():
    h = Harness()
    far = AudioChunk("/context", 1, 0, 1, block(), position=2**63 - 100)  # replies would overflow int64
    assert h.send(far) == ([], None)
    assert any("outside 0.." in line for line in h.lines)
    _, job = h.send(AudioChunk("/context", 1, 0, 1, block(), position=LAST_ORIGIN))
    assert job is not None and job.end == LAST_ORIGIN + STEP
    assert all(isinstance(m, AudioChunk | ServerPredicted) for m in replies(h.session.run(job)[0]))


@pytest.mark.parametrize("settings, message", [({}, UpdateR(1.0)), ({}, UpdateR(0.5)),
                                               ({"stream": StreamSettings(r=0.4, w=0)}, W(1))])
def test_an_impossible_setting_is_ignored(settings, message):
    h = Harness(**settings)  # every one breaks (w + 2) r <= 1
    before = h.session.settings
    assert h.send(message) == ([], None)
    assert h.session.settings == before and len(h.engines) == 1
    assert len(h.lines) == 1 and "\n" not in h.lines[0] and h.lines[0].startswith("ignored")


def test_controls_rebuild_the_engine_and_change_the_replies():
    h = Harness()
    h.send(W(0))
    h.send(UpdateR(0.125))
    h.send(UpdateFade(0.0))
    h.send(UpdatePackageSize(1000))
    h.send(PredictInstruments((False, True, False, True)))
    settings = h.session.settings
    assert (settings.stream.r, settings.stream.w, settings.stream.fade, settings.package_size) == (0.125, 0, 0.0, 1000)
    assert settings.stems == ("drums", "piano") and h.engines[-1].settings == settings
    step = int(264600 * 0.125)
    _, (job,) = send_batch(h, 1, np.zeros(step, np.float32))
    sent = replies(h.session.run(job)[0])
    assert {m.address for m in sent[:-1]} == {"/drums", "/piano"}
    assert all(m.samples.shape[0] <= 1000 for m in sent[:-1])
    assert sum(m.samples.shape[0] for m in sent[:-1]) == 2 * step


def test_no_stems_answers_server_predicted_only():
    h = Harness()
    h.send(PredictInstruments((False, False, False, False)))
    out, jobs = send_batch(h, 1, block())
    assert jobs == [] and replies(out)[-1] == ServerPredicted() and len(out) == 1


def test_reset_starts_a_new_stream():
    h = Harness()
    _, (job,) = send_batch(h, 9, block())
    h.session.run(job)
    h.send(Reset())
    assert len(h.engines) == 2 and h.session.position == 0
    _, (job,) = send_batch(h, 1, block())  # a restarted client's ids are taken again
    assert job.end == STEP and job.engine is h.engines[-1]


def test_queries_and_what_is_not_answered():
    h = Harness()
    (bundle,), _ = h.send(PacketTest(256, np.zeros(300, np.float32)))
    response = parse(bundle)
    assert isinstance(response, Bundle) and response.elements[0].count == 300
    assert np.all((response.elements[0].samples >= 0) & (response.elements[0].samples < 1))
    (hello,), _ = h.send(Hello())
    assert isinstance(parse(hello), HelloReply) and parse(hello).context_samples == 264600
    assert h.send(LoadModel()) == ([], None) and h.lines == []
    assert h.send(Print()) == ([], None) and "--record DIR" in h.lines[-1]
    _, (job,) = send_batch(h, 1, block())
    datagrams, stages = h.session.run(job)
    h.session.cycle_done(job, stages, 0.5, 0.504, len(datagrams) - 1)
    (stats,), _ = h.send(Stats())
    values = dict(parse(stats).values)
    assert isinstance(parse(stats), StatsReply) and values["median_decode_ms"] == 3.0
    assert values["median_send_ms"] == pytest.approx(4.0) and values["median_receive_ms"] == 0.0
    assert values["batches"] == 1.0 and values["step_budget_ms"] == pytest.approx(1500.0)


def test_audio_for_another_address_is_logged_and_ignored():
    h = Harness()
    assert h.send(AudioChunk("/drums", 1, 0, 1, np.ones(10, np.float32))) == ([], None)
    assert "ignored" in h.lines[-1]


# ----------------------------------------------------------------------------------------------
# The UDP server, end to end on loopback


def osc(address: str, tags: str, *values: object) -> bytes:
    """A datagram built by hand as Max's oscpack builds it (independent of jaxaccomp.protocol's encoder)."""
    def pad(raw: bytes) -> bytes:
        return raw + b"\0" * (4 - len(raw) % 4)
    body = b"".join(struct.pack(">" + {"i": "i", "d": "d", "f": "f"}[t], v) for t, v in zip(tags, values))
    return pad(address.encode()) + pad(("," + tags).encode()) + body


@pytest.fixture(scope="module")
def warmed(tmp_path_factory, tiny_net) -> Warmed:
    return warmed_model(tiny_net, tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def live(warmed):
    """A warmed server with a tiny random model on free loopback ports, and the client's socket."""
    client = free_udp_socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)  # as Max's: a stem's chunks come back to back
    client.settimeout(30)
    with running_server(warmed.make_engine, client.getsockname()) as (server, lines):
        assert parse(client.recv(65536)) == parse(b"/ready\0\0,T\0\0")
        yield server, client, warmed.generator, warmed.compiled, lines
    client.close()


def receive_until_predicted(client: socket.socket) -> list:
    messages = []
    while not messages or not isinstance(messages[-1], ServerPredicted):
        messages.append(parse(client.recv(65536)))
    return messages


def test_a_max_session_end_to_end(live):
    server, client, generator, compiled, _ = live
    sender = free_udp_socket()
    target = server.address
    for data in (osc("/update_package_size", "i", PACKAGE), osc("/update_r", "d", 0.25), osc("/w", "d", 1.0),
                 osc("/update_fade", "d", 0.02), osc("/predict_instruments", "iiii", 1, 0, 0, 0),
                 osc("/load_model", "")):
        sender.sendto(data, target)
    rng = np.random.default_rng(1)
    for batch_id in (1, 2):
        audio = (0.1 * rng.standard_normal(STEP)).astype(np.float32)
        starts = range(0, STEP, PACKAGE)
        for start in starts:
            samples = audio[start:start + PACKAGE]
            sender.sendto(osc("/context", "iii" + "f" * len(samples), batch_id, start, len(starts), *samples), target)
        messages = receive_until_predicted(client)
        chunks = messages[:-1]
        total = -(-(STEP + FADE) // PACKAGE)
        assert {m.address for m in chunks} == {"/bass"}
        assert [(m.batch_id, m.index, m.total) for m in chunks] == [(batch_id, k, total) for k in range(total)]
        audio_out = np.concatenate([m.samples for m in chunks])
        assert audio_out.shape == (STEP + FADE,) and np.all(np.isfinite(audio_out))
        assert audio_out[0] == 0.0  # pre-ramped lead-in, as the reference server sends it
    assert generator.compilations == compiled  # nothing compiled while serving
    sender.close()


def test_garbage_does_not_stop_the_server(live):
    server, client, _, _, lines = live
    sender = free_udp_socket()
    rng = np.random.default_rng(2)
    valid = [osc("/context", "iii" + "f" * 8, 99, 0, 1, *[0.0] * 8), osc("/w", "d", 1.0)]
    for k in range(10_000):
        kind = k % 4
        if kind == 0:
            data = rng.bytes(int(rng.integers(1, 600)))
        elif kind == 1:  # a valid datagram with a few bytes flipped
            raw = bytearray(valid[k % 2])
            raw[int(rng.integers(len(raw)))] = int(rng.integers(256))
            data = bytes(raw)
        elif kind == 2:  # truncated
            data = valid[k % 2][:int(rng.integers(1, len(valid[k % 2])))]
        else:
            data = b"/" + rng.bytes(int(rng.integers(3, 64)))
        sender.sendto(data, server.address)
    sender.sendto(Hello().encode(), server.address)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        message = parse(client.recv(65536))
        if isinstance(message, HelloReply):
            break
    assert isinstance(message, HelloReply)
    assert server.malformed > 2000 and all("\n" not in line for line in lines)
    sender.sendto(Reset().encode(), server.address)  # and it still serves
    for data in audio_chunks("/context", 1, np.zeros(STEP, np.float32), PACKAGE, sample_offsets=True):
        sender.sendto(data, server.address)
    chunks = [m for m in receive_until_predicted(client) if isinstance(m, AudioChunk)]
    assert chunks[-1].batch_id == 1 and sum(m.samples.shape[0] for m in chunks) == STEP + FADE
    sender.close()


def test_cli_help_and_bad_settings_are_one_line():
    help_run = subprocess.run([sys.executable, ROOT / "serve.py", "--help"], capture_output=True, text=True)
    assert help_run.returncode == 0 and "--client-port" in help_run.stdout
    bad = subprocess.run([sys.executable, ROOT / "serve.py", "--r", "0.5"], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.startswith("error: (w+2)*r") and bad.stderr.count("\n") == 1
    bad = subprocess.run([sys.executable, ROOT / "serve.py", "--stems", "bass,flute"], capture_output=True, text=True)
    assert bad.returncode == 1 and "--stems" in bad.stderr
    bad = subprocess.run([sys.executable, ROOT / "serve.py", "--reply-gap", "50"], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr == "error: --reply-gap is 0 to 20 ms, got 50\n"
    bad = subprocess.run([sys.executable, ROOT / "serve.py", "--port", "0", "--device", "cuda"], capture_output=True,
                         text=True)
    assert bad.returncode == 1 and bad.stderr.startswith("error: --device cuda: JAX found no GPU here")


@pytest.mark.parametrize("extensions", [True, False], ids=["extensions", "reference"])
def test_the_reference_client_in_real_time_matches_offline_accompaniment(warmed, extensions):
    """The Python client streams 7.5 s over loopback in real time (3 steps): what it assembles equals
    `accompany` on the same input sample for sample, so placement, chunking and crossfade all agree.
    With the extensions the server says it does not pre-ramp; without, it ramps as the reference
    server does and the client fades only the old audio, so the lead-ins differ from `accompany`'s
    Max-style crossfade by the two ramps' 1/fade difference."""
    from jaxaccomp.accompany import accompany
    from jaxaccomp.client.core import ClientSettings
    from jaxaccomp.client.player import play

    context = (0.1 * np.random.default_rng(3).standard_normal(5 * STEP)).astype(np.float32)
    listen = free_address()
    settings = Settings(ramp_lead_in=not extensions, verbose=True)
    with running_server(warmed.make_engine, listen, settings) as (server, lines):
        core, wall = play(context, ClientSettings(package_size=PACKAGE), server.address, listen, tail=0.5,
                          extensions=extensions)
    summary = core.stats.summary()
    assert (summary["batches"], summary["complete"], summary["dropped"], summary["stale_chunks"]) == (3, 3, 0, 0), lines
    assert core.settings.blob == core.settings.position == (not core.settings.ramped) == extensions
    assert wall >= 5 * STEP / 44100  # real time: the song's length at least
    expected = accompany(context, 44100, warmed.codec, warmed.generator, ["bass"], stop_gate=False)  # the buffer
    lead_ins = np.zeros(expected.shape[1], bool)
    for k in range(1, 4):  # the lead-in [(k + 1) step - fade, (k + 1) step) of step k
        lead_ins[(k + 1) * STEP - FADE:(k + 1) * STEP] = True
    np.testing.assert_allclose(core.tracks[:, ~lead_ins], expected[:, ~lead_ins], atol=1e-6)
    tolerance = 0 if extensions else 2 / FADE * np.abs(expected).max()
    np.testing.assert_allclose(core.tracks[:, lead_ins], expected[:, lead_ins], atol=1e-6 + tolerance)
    assert np.abs(expected).max() > 0
    assert core.server_stats["batches"] == 3.0 and core.server_stats["median_total_ms"] > 0
    assert warmed.generator.compilations == warmed.compiled


def test_record_writes_session_files_and_print_dumps(tmp_path):
    h = Harness()
    session = Session(h.make_engine, Settings(package_size=PACKAGE, ramp_lead_in=False), log=h.lines.append, record=tmp_path)
    blocks = [np.full(STEP, k, np.float32) for k in (1, 2, 4)]
    for batch_id, audio in zip((1, 2, 4), blocks):  # batch 3 never arrives: a gap of one step
        (job,) = [j for c in context_chunks(batch_id, audio) if (j := session.receive(c, 0.0)[1]) is not None]
        session.run(job)
    session.receive(Print(), 0.0)
    session.recorder.close()
    context, rate = sf.read(tmp_path / "session-001-context.wav", dtype="float32")
    assert rate == 44100 and context.shape == (4 * STEP,)
    np.testing.assert_array_equal(context, np.repeat(np.float32([1, 2, 0, 4]), STEP))
    bass, _ = sf.read(tmp_path / "session-001-bass.wav", dtype="float32")  # content windows [P + step, P + 2 step)
    np.testing.assert_array_equal(bass[2 * STEP:], np.repeat(np.float32([1, 2, 0, 3]), STEP))
    dumped, _ = sf.read(tmp_path / "print-001-context.wav", dtype="float32")
    assert dumped.shape == (264600,) and np.all(dumped[-STEP:] == 4)
    assert "print-001-bass.wav" in h.lines[-1]
    session.receive(Reset(), 0.0)
    (job,) = [j for c in context_chunks(1, blocks[0]) if (j := session.receive(c, 0.0)[1]) is not None]
    session.run(job)
    session.recorder.close()
    assert (tmp_path / "session-002-context.wav").is_file()  # a new stream, a new file; nothing overwritten


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


SOAK_STEPS, SOAK_GROWTH_BOUND = 1000, 64 << 20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads resident memory from Linux /proc")
def test_soak_a_thousand_steps_at_r_one_eighth(warmed):
    """The whole server (UDP loop, worker, session, engine, tiny model) for 1,000 steps of 0.75 s,
    as fast as it answers: resident memory grows less than SOAK_GROWTH_BOUND between step 100 and
    the end, and nothing is compiled (r = 1/8 differs from the warm-up's 1/4: no recompilation)."""
    step = int(264600 * 0.125)
    client = free_udp_socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    client.settimeout(30)
    rng = np.random.default_rng(4)
    blocks = [(0.1 * rng.standard_normal(step)).astype(np.float32) for _ in range(8)]
    with running_server(warmed.make_engine, client.getsockname(), Settings(StreamSettings(r=0.125))) as (server, _), free_udp_socket() as sender:
        client.recv(65536)  # /ready
        for batch_id in range(1, SOAK_STEPS + 1):
            for data in audio_chunks("/context", batch_id, blocks[batch_id % 8], PACKAGE, sample_offsets=True):
                sender.sendto(data, server.address)
            chunks = receive_until_predicted(client)[:-1]
            assert chunks and chunks[-1].batch_id == batch_id
            if batch_id == 100:
                settled = resident_bytes()
        grown = resident_bytes() - settled
    client.close()
    assert server.session.batches == SOAK_STEPS and server.session.dropped == 0
    assert warmed.generator.compilations == warmed.compiled
    assert grown < SOAK_GROWTH_BOUND, f"resident memory grew {grown / 2**20:.0f} MiB over {SOAK_STEPS - 100} steps"


def test_client_cli_ping_and_one_line_errors(warmed, tmp_path):
    client = [sys.executable, "-m", "jaxaccomp.client"]
    listen = free_address()
    with running_server(warmed.make_engine, listen) as (server, _):
        ping = subprocess.run([*client, "ping", "--server-port", str(server.address[1]), "--port", str(listen[1])],
                              capture_output=True, text=True, timeout=120)
    assert ping.returncode == 0, ping.stderr
    assert "server: jaxaccomp protocol 1, 44100 Hz, T = 264600, extensions: blob, position, stats" in ping.stdout
    assert "packet test: 4410 floats each way" in ping.stdout
    for args, message in ((["play", str(tmp_path / "missing.wav"), "--stem", "bass"], "error: no such audio file"),
                          (["play", str(tmp_path / "x.wav"), "--stem", "bass", "--r", "0.5"], "error: (w+2)*r"),
                          (["ping", "--port", str(listen[1]), "--server-port", str(listen[1]), "--connect-timeout",
                            "0.3"], "error: no /packet_test_response")):
        run = subprocess.run([*client, *args, "--out", str(tmp_path)] if args[0] == "play" else [*client, *args],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 1 and run.stderr.startswith(message) and run.stderr.count("\n") == 1, run.stderr


def test_a_reply_gap_lets_a_client_with_a_small_receive_buffer_keep_every_chunk():
    """A client that reads a datagram every millisecond with a 64 KiB receive buffer (as stock liblo
    or Pd clients keep small ones) loses chunks of a 16-chunk reply sent back to back, and none when
    they come 3 ms apart; the reply then spans at least 15 gaps, its latency cost."""
    def one_reply(gap: float) -> tuple[int, float]:
        client = free_udp_socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        client.settimeout(1.0)
        with running_server(EngineRecorder(step_numbers), client.getsockname(), Settings(package_size=PACKAGE),
                            reply_gap=gap) as (server, _):
            assert parse(client.recv(65536)) == parse(b"/ready\0\0,T\0\0")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                for data in audio_chunks("/context", 1, block(), PACKAGE, sample_offsets=True):
                    sender.sendto(data, server.address)
            chunks, arrivals = 0, []
            try:
                while True:
                    message = parse(client.recv(65536))
                    arrivals.append(time.monotonic())
                    if isinstance(message, ServerPredicted):
                        break
                    chunks += isinstance(message, AudioChunk)
                    time.sleep(0.001)  # a busy client's scheduler tick
            except TimeoutError:
                pass
        client.close()
        return chunks, arrivals[-1] - arrivals[0]

    expected = -(-(STEP + FADE) // PACKAGE)  # chunks of one stem's reply: the step and the lead-in
    assert one_reply(0.0)[0] < expected
    chunks, span = one_reply(0.003)
    assert chunks == expected and span >= (expected - 1) * 0.003
