"""The reference client: its Max-like logic alone, then client and server over a faulty in-process network.

The fault tests run a real `ClientCore` against a real `Session` whose engine "generates" each
sample's own timeline position (`timeline_positions`). Whatever the network loses, duplicates or reorders,
every generated sample the client holds must then equal its position (or be silence where nothing
came): audio in the wrong window would show up as a wrong number.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxaccomp.client.core import ClientCore, ClientSettings
from jaxaccomp.server.session import Session, Settings
from jaxaccomp.protocol import (AudioChunk, BatchDropped, Hello, LoadModel, Message, PacketTest, Predict,
                                   PredictInstruments, Print, Ready, Reset, ServerPredicted, Stats, UpdateFade,
                                   UpdatePackageSize, UpdateR, Verbose, W, audio_chunks, parse)
from jaxaccomp.stream_settings import StreamSettings
from tests.support.fake_engine import EngineRecorder, timeline_positions

T, R = 264600, 0.125
STEP = int(T * R)  # 33075 samples, not a whole number of latent columns
PACKAGE = 4410


# ----------------------------------------------------------------------------------------------
# The client alone


def test_predict_sends_the_block_just_played_and_clears_the_window():
    settings = ClientSettings(StreamSettings(T, R, 1, 0.0), package_size=PACKAGE)
    core = ClientCore(settings, 10 * STEP)
    core.tracks[:] = 7.0
    context = np.arange(10 * STEP, dtype=np.float32)
    chunks = [parse(d) for d in core.predict(3 * STEP, context, now=0.0)]
    assert core.batch_id == 1 and {c.batch_id for c in chunks} == {1}
    assert [c.index for c in chunks] == list(range(0, STEP, PACKAGE)) and chunks[0].total == len(chunks)
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]), context[2 * STEP:3 * STEP])
    assert chunks[0].position is None and not chunks[0].blob  # the reference protocol until negotiated
    assert np.all(core.tracks[0, 4 * STEP:5 * STEP] == 0) and np.all(core.tracks[0, :4 * STEP] == 7)
    extended = ClientCore(ClientSettings(StreamSettings(T, R), blob=True, position=True), 10 * STEP)
    first = parse(extended.predict(3 * STEP, context, now=0.0)[1])
    assert first.blob and first.position == 2 * STEP + PACKAGE


def reply(batch_id: int, start: int, audio: np.ndarray, **extension) -> list[AudioChunk]:
    return [parse(d) for d in audio_chunks("/bass", batch_id, audio, PACKAGE, **extension)]


def test_a_reply_is_placed_from_its_batch_even_without_chunk_0():
    settings = ClientSettings(StreamSettings(T, R, 0, 0.02), package_size=PACKAGE)
    core = ClientCore(settings, 10 * STEP)
    core.predict(2 * STEP, np.zeros(10 * STEP, np.float32), now=0.0)
    fade = settings.stream.fade_samples
    write_start = 2 * STEP - fade
    audio = np.arange(write_start, write_start + STEP + fade, dtype=np.float32)
    for chunk in reply(1, write_start, audio)[1:]:  # chunk 0 lost: the external would drop them all
        core.receive(chunk, now=0.5)
    track = core.tracks[0]
    placed = np.arange(write_start + PACKAGE, 3 * STEP)
    np.testing.assert_array_equal(track[placed], placed.astype(np.float32))
    assert not np.any(track[:write_start + PACKAGE]) and not np.any(track[3 * STEP:])


def test_positions_place_chunks_of_any_size_and_the_lead_in_crossfades():
    settings = ClientSettings(StreamSettings(T, R, 1, 0.02), package_size=PACKAGE, position=True, ramped=False)
    core = ClientCore(settings, 10 * STEP)
    core.tracks[:] = 1.0
    core.predict(STEP, np.zeros(10 * STEP, np.float32), now=0.0)
    fade = settings.stream.fade_samples
    write_start = 2 * STEP - fade
    for chunk in [parse(d) for d in audio_chunks("/bass", 1, np.full(STEP + fade, 3.0, np.float32), 1000,
                                                 position=write_start)]:
        core.receive(chunk, now=0.1)  # the server's chunk size differs from the client's: positions rule
    track = core.tracks[0]
    np.testing.assert_allclose(track[write_start:2 * STEP], 1 + 2 * np.arange(fade) / fade, rtol=1e-6)
    assert np.all(track[2 * STEP:3 * STEP] == 3.0) and np.all(track[3 * STEP:] == 1.0)


def test_old_replies_are_dropped_and_late_samples_counted():
    settings = ClientSettings(StreamSettings(T, R, 0, 0.0), package_size=PACKAGE)
    core = ClientCore(settings, 10 * STEP, keep=2, drop_late=True)
    for k in (1, 2, 3):
        core.predict(k * STEP, np.zeros(10 * STEP, np.float32), now=float(k))
    for chunk in reply(1, STEP, np.ones(STEP, np.float32)):  # batch 1 is no longer kept
        core.receive(chunk, now=3.5)
    assert core.stats.stale_chunks == -(-STEP // PACKAGE) and not np.any(core.tracks)
    late = 100
    for chunk in reply(3, 3 * STEP, np.ones(STEP, np.float32)):
        core.receive(chunk, now=3.5, playhead=3 * STEP + late)
    core.receive(ServerPredicted(), now=3.6)
    core.receive(BatchDropped(2), now=3.6)
    assert core.stats.late_samples == late
    assert not np.any(core.tracks[0, 3 * STEP:3 * STEP + late]) and np.all(core.tracks[0, 3 * STEP + late:4 * STEP])
    summary = core.stats.summary()
    assert (summary["complete"], summary["dropped"], summary["incomplete"]) == (1, 1, 1)
    assert summary["round_trip_median_ms"] == pytest.approx(600.0)


def test_a_pre_ramped_lead_in_is_faded_once():
    settings = ClientSettings(StreamSettings(T, R, 1, 0.02), package_size=PACKAGE, ramped=True)
    core = ClientCore(settings, 10 * STEP)
    core.tracks[:] = 1.0
    core.predict(STEP, np.zeros(10 * STEP, np.float32), now=0.0)
    fade = settings.stream.fade_samples
    reply_audio = np.full(STEP + fade, 3.0, np.float32)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    reply_audio[:fade] *= ramp  # what the reference server sends
    for chunk in reply(1, 2 * STEP - fade, reply_audio):
        core.receive(chunk, now=0.1)
    np.testing.assert_allclose(core.tracks[0, 2 * STEP - fade:2 * STEP], 1 + 2 * ramp, rtol=1e-6)  # no dip


@pytest.mark.parametrize("bad", [{"r": 0.5, "w": 1}, {"stems": ("flute",)}, {"package_size": 20_000},
                                 {"stems": ()}, {"fade": 2.0}])
def test_impossible_client_settings_are_one_line_errors(bad):
    stream = {name: bad.pop(name) for name in ("r", "w", "fade") if name in bad}
    with pytest.raises(ValueError) as error:
        ClientSettings(StreamSettings(**stream), **bad)
    assert "\n" not in str(error.value)


# ----------------------------------------------------------------------------------------------
# Client and server over a faulty network, in process


class Network:
    """One client, one server and what lies between: loss, duplicates, reordering, a held-back batch."""

    def __init__(self, core: ClientCore, seed: int = 0, stream: StreamSettings = StreamSettings(T, R)):
        self.core, self.rng = core, np.random.default_rng(seed)
        self.settings = Settings(stream, package_size=PACKAGE, ramp_lead_in=False)
        self.make_engine = EngineRecorder(timeline_positions)
        self.engines = self.make_engine.engines
        self.session = self.start_server()
        self.jobs: list = []
        self.loss = self.duplicates = self.batch_loss = 0.0
        self.reorder = False
        self.held: list[bytes] = []

    def start_server(self, settings: Settings | None = None) -> Session:
        """A server process starting (with `settings`, default this network's): it sends `/ready`."""
        self.session = Session(self.make_engine, settings or self.settings, log=lambda line: None)
        self.core.receive(Ready(), 0.0)
        return self.session

    @property
    def ends(self) -> list[int]:
        """The playback positions the current engine was stepped to."""
        return self.engines[-1].ends

    def faults(self, datagrams: list[bytes]) -> list[bytes]:
        kept = [d for d in datagrams if self.rng.random() >= self.loss]
        kept += [d for d in kept if self.rng.random() < self.duplicates]
        if self.reorder:
            kept = [kept[i] for i in self.rng.permutation(len(kept))]
        return kept

    def to_server(self, datagrams: list[bytes], now: float) -> None:
        for data in self.faults(datagrams):
            out, job = self.session.receive(parse(data), now)
            self.to_client(out, now)
            self.jobs += [job] if job is not None else []
        out, job = self.session.poll(now + 0.5)  # the watchdog, before the next step's chunks
        self.to_client(out, now)
        self.jobs += [job] if job is not None else []
        while self.jobs:
            datagrams, _ = self.session.run(self.jobs.pop(0))
            self.to_client(datagrams, now)

    def to_client(self, datagrams: list[bytes], now: float) -> None:
        for data in self.faults(datagrams):
            self.core.receive(parse(data), now)

    def step(self, k: int, context: np.ndarray, hold: bool = False) -> None:
        now = k * STEP / 44100
        datagrams = self.core.due_setup() + self.core.predict(k * STEP, context, now)
        if self.rng.random() < self.batch_loss:
            return
        if hold:
            self.held = datagrams
            return
        self.to_server(datagrams, now)
        if self.held:  # a held-back batch arrives after a newer one
            self.to_server(self.held, now)
            self.held = []


def assert_in_place(core: ClientCore, complete: Sequence[int] = ()) -> None:
    """Every generated sample is its own position or silence, and the content windows of the steps
    in `complete` are all there."""
    track = core.tracks[0]
    positions = np.arange(track.shape[0], dtype=np.float32)
    wrong = np.flatnonzero((track != 0) & (track != positions))
    assert wrong.size == 0, f"{wrong.size} samples written into the wrong place, first at {wrong[:5]}"
    for k in complete:
        start = max(0, k * STEP + core.settings.content_offset)
        end = min(track.shape[0], start + STEP)
        np.testing.assert_array_equal(track[start:end], positions[start:end], err_msg=f"step {k}")


def stream(network: Network, steps: range, context: np.ndarray, hold: int | None = None) -> None:
    for k in steps:
        network.step(k, context, hold=k == hold)


def new_network(extensions: bool, w: int = 1, steps: int = 40, seed: int = 0) -> tuple[Network, np.ndarray]:
    settings = ClientSettings(StreamSettings(T, R, w, 0.0), package_size=PACKAGE, blob=extensions,
                              position=extensions)
    core = ClientCore(settings, steps * STEP)
    network = Network(core, seed, StreamSettings(T, R, w, 0.0))
    for data in settings.setup_messages() + [core.reset()]:
        network.session.receive(parse(data), 0.0)
    context = np.random.default_rng(seed).standard_normal(steps * STEP).astype(np.float32)
    return network, context


@pytest.mark.parametrize("extensions", [False, True], ids=["reference", "extensions"])
@pytest.mark.parametrize("w", [-1, 0, 1])
def test_ten_percent_loss_each_way(extensions, w):
    network, context = new_network(extensions, w)
    network.loss = network.batch_loss = 0.10  # of the chunks, and of whole batches
    stream(network, range(1, 31), context)
    network.loss = network.batch_loss = 0.0
    stream(network, range(31, 38), context)
    assert_in_place(network.core, range(31, 38))  # the timeline recovered: nothing lost, nothing shifted
    assert network.ends[-7:] == [k * STEP for k in range(31, 38)]


@pytest.mark.parametrize("extensions", [False, True], ids=["reference", "extensions"])
def test_duplicated_and_reordered_chunks(extensions):
    network, context = new_network(extensions)
    network.duplicates, network.reorder = 0.3, True
    stream(network, range(1, 31), context)
    assert_in_place(network.core, range(1, 31))  # every chunk arrived at least once, order does not matter
    assert network.ends == [k * STEP for k in range(1, 31)]


@pytest.mark.parametrize("extensions", [False, True], ids=["reference", "extensions"])
def test_a_stale_batch_arriving_late_is_not_written(extensions):
    network, context = new_network(extensions)
    stream(network, range(1, 21), context, hold=10)  # batch 10 arrives after batch 11
    assert_in_place(network.core, [*range(1, 10), *range(11, 21)])
    assert 10 * STEP not in network.ends and network.ends[-10:] == [k * STEP for k in range(11, 21)]
    window = network.core.tracks[0, 11 * STEP:12 * STEP]  # batch 10's content window (w = 1) stays silent
    assert not np.any(window) and np.all(network.core.tracks[0, 12 * STEP:21 * STEP])


@pytest.mark.parametrize("extensions", [False, True], ids=["reference", "extensions"])
def test_a_client_restart_mid_stream(extensions):
    network, context = new_network(extensions)
    stream(network, range(1, 16), context)
    restarted = ClientCore(network.core.settings, network.core.tracks.shape[1])  # batch ids from 1 again
    network.core = restarted
    for data in restarted.settings.setup_messages() + [restarted.reset()]:  # what a restarted Max sends
        network.session.receive(parse(data), 20.0)
    stream(network, range(1, 21), context)
    assert_in_place(restarted, range(1, 21))
    assert network.ends == [k * STEP for k in range(1, 21)]


def test_a_server_restart_mid_stream_with_positions():
    network, context = new_network(extensions=True)
    stream(network, range(1, 16), context)
    network.start_server(Settings())  # a fresh process with default flags (r = 1/4): no history, ids go on at 16
    stream(network, range(16, 31), context)  # the client sends its settings again on /ready
    assert_in_place(network.core, range(1, 31))
    assert network.ends == [k * STEP for k in range(16, 31)]


def test_a_timeline_that_goes_back_starts_a_fresh_stream():
    network, context = new_network(extensions=True)
    stream(network, range(1, 11), context)
    first = network.engines[-1]
    network.core.tracks[:] = 0.0
    network.core.batch_id += 5  # a loop in the patch: ids go on, positions start over without /reset
    stream(network, range(1, 6), context)
    assert network.engines[-1] is not first and network.ends == [k * STEP for k in range(1, 6)]
    assert_in_place(network.core, range(1, 6))


# ----------------------------------------------------------------------------------------------
# Any sequence of well-formed messages, however hostile its values, leaves the session serving

BATCH_IDS = st.integers(0, 40) | st.integers(0, 2**31 - 1)
CONTEXT_CHUNKS = st.builds(
    lambda batch, index, total, n, position, blob: AudioChunk("/context", batch, index, total,
                                                              np.ones(n, np.float32), position, blob),
    BATCH_IDS, st.integers(0, STEP) | st.integers(0, 2**31 - 1), st.integers(1, 20), st.integers(1, 600),
    st.none() | st.integers(0, 50 * STEP) | st.integers(-2**63, 2**63 - 1), st.booleans())
MESSAGES = st.one_of(
    CONTEXT_CHUNKS, CONTEXT_CHUNKS, CONTEXT_CHUNKS,
    st.builds(UpdateR, st.floats(0, 1, exclude_min=True)), st.builds(W, st.sampled_from([-1, 0, 1])),
    st.builds(UpdateFade, st.floats(0, 1)), st.builds(UpdatePackageSize, st.integers(128, 13_000)),
    st.builds(PredictInstruments, st.lists(st.booleans(), min_size=1, max_size=8).map(tuple)),
    st.builds(Verbose, st.booleans()), st.builds(lambda n: PacketTest(n, np.zeros(n, np.float32)), st.integers(1, 64)),
    st.sampled_from([Reset(), Print(), Hello(), Stats(), LoadModel(), Predict()]))


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(st.tuples(MESSAGES, st.floats(0, 1)), max_size=40))
def test_fuzz_hostile_message_sequences_leave_the_session_serving(sequence):
    network, context = new_network(extensions=True)
    session, now = network.session, 0.0
    for message, gap in sequence:
        now += gap
        for out, job in (session.receive(message, now), session.poll(now)):
            datagrams = [*out, *(session.run(job)[0] if job is not None else [])]
            assert all(isinstance(parse(data), Message) for data in datagrams)
    network.core = ClientCore(network.core.settings, network.core.tracks.shape[1])  # a client (re)connects
    for data in network.core.settings.setup_messages() + [network.core.reset()]:
        session.receive(parse(data), now)
    stream(network, range(1, 6), context)
    assert_in_place(network.core, range(1, 6))


def test_play_refuses_a_folder_it_would_overwrite_before_streaming(tmp_path):
    import subprocess
    import sys

    (tmp_path / "mix.wav").write_bytes(b"earlier session")
    for out, message in ((tmp_path, "is not empty; choose a new folder or pass --force"),
                         (tmp_path / "mix.wav", "is a file, not a folder")):
        run = subprocess.run([sys.executable, "-m", "jaxaccomp.client", "play", str(tmp_path / "song.wav"), "--stem",
                              "bass", "--out", str(out), "--connect-timeout", "0.3"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 1 and message in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert (tmp_path / "mix.wav").read_bytes() == b"earlier session"


def test_play_fails_loudly_when_no_server_answers(tmp_path):
    """A dead port: a short song ends with a failed-session error, a long one stops early; both exit 1."""
    import subprocess
    import sys

    import soundfile as sf

    from tests.support.servers import free_address

    dead = free_address()
    for seconds, message in ((4, "no reply at all: is the server running?"),
                             (30, "no answer from the server in")):
        song = tmp_path / f"song{seconds}.wav"
        sf.write(song, np.zeros((seconds * 44100, 4), np.float32), 44100)
        run = subprocess.run([sys.executable, "-m", "jaxaccomp.client", "play", str(song), "--stem", "bass", "--out",
                              str(tmp_path / f"out{seconds}"), "--server-port", str(dead[1]), "--port", "0",
                              "--connect-timeout", "0.5"], capture_output=True, text=True, timeout=60)
        assert run.returncode == 1 and message in run.stderr.splitlines()[-1], run.stderr
    assert f"{dead[0]}:{dead[1]}: is serve.py running there" in run.stderr
    assert not (tmp_path / "out30").exists()  # stopped before writing a silent session
