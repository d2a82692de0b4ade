"""The OSC wire layer: python-osc's bytes exactly, the reference's datagram sizes, strict validation,
and `parse` never failing with anything but WireError, whatever bytes arrive."""

import json
import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_bundle_builder import IMMEDIATELY as PYTHON_OSC_IMMEDIATELY
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from jaxaccomp.bench.osc_time import benchmark
from jaxaccomp.protocol import (
    CAPABILITIES,
    MAX_BUNDLE_DEPTH,
    MAX_DATAGRAM,
    MAX_PACKAGE_SIZE,
    AudioChunk,
    BatchDropped,
    Bundle,
    Hello,
    HelloReply,
    LoadModel,
    Message,
    PacketTest,
    PacketTestResponse,
    Predict,
    PredictInstruments,
    Print,
    Ready,
    Reset,
    ServerPredicted,
    Stats,
    StatsReply,
    UpdateFade,
    UpdatePackageSize,
    UpdateR,
    Verbose,
    W,
    WireError,
    audio_chunks,
    parse,
)


def osc(address, *args):
    """python-osc's datagram for (type tag, value) arguments."""
    builder = OscMessageBuilder(address)
    for tag, value in args:
        builder.add_arg(value, tag)
    return builder.build().dgram


def osc_chunk(address, ints, samples, blob=False):
    """python-osc's audio chunk: int32 header (an int64 position as a 4th value), then floats or one blob."""
    tags = ["i", "i", "i", "h"][: len(ints)]
    payload = [("b", samples.astype(">f4").tobytes())] if blob else [("f", float(x)) for x in samples]
    return osc(address, *zip(tags, ints), *payload)


def audio(n, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, n).astype(np.float32)


def assert_chunk(message, address, ints, samples, blob=False):
    """`ints` is (batch id, index, total) plus the position when there is one."""
    assert isinstance(message, AudioChunk)
    fields = (message.address, message.batch_id, message.index, message.total, message.position, message.blob)
    assert fields == (address, *ints[:3], ints[3] if len(ints) == 4 else None, blob)
    assert message.samples.dtype == np.float32
    np.testing.assert_array_equal(message.samples, samples)


# --- audio chunks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("address, n", [("/context", 4410), ("/guitar", 1), ("/bass", 7)])
def test_float_chunks_are_python_osc_bytes_both_ways(address, n):
    samples = audio(n)
    ours = AudioChunk(address, 3, 2 * n, 15, samples).encode()
    assert ours == osc_chunk(address, (3, 2 * n, 15), samples)
    assert_chunk(parse(ours), address, (3, 2 * n, 15), samples)
    assert OscMessage(ours).params == [3, 2 * n, 15, *samples.tolist()]


@pytest.mark.parametrize("n, size", [(4410, 22_080), (5120, 25_632), (10240, 51_232)])
def test_reference_datagram_sizes(n, size):
    assert len(AudioChunk("/context", 1, 0, 1, np.zeros(n)).encode()) == size


@pytest.mark.parametrize("position", [None, 2**40 + 5, -882])
@pytest.mark.parametrize("blob", [False, True])
def test_extensions_are_python_osc_bytes_both_ways(position, blob):
    samples = audio(4410, seed=1)
    ints = (9, 1, 16) + (() if position is None else (position,))
    ours = AudioChunk("/context", *ints[:3], samples, position, blob).encode()
    assert ours == osc_chunk("/context", ints, samples, blob)
    assert_chunk(parse(ours), "/context", ints, samples, blob)
    assert OscMessage(ours).params[: len(ints)] == list(ints)
    header = 12 + 8 + 12 + (0 if position is None else 8)  # address, type tags (padded), ints
    if blob:
        assert len(ours) == header + 4 + 4 * 4410
        assert np.array_equal(np.frombuffer(OscMessage(ours).params[-1], ">f4"), samples)


def test_chunks_take_float64_and_keep_float32_exact_values():
    samples = np.array([0.1, -1.0, 3e-39, 65504.0])
    parsed = parse(AudioChunk("/piano", 1, 0, 1, samples).encode())
    np.testing.assert_array_equal(parsed.samples, samples.astype(np.float32))


def test_audio_chunks_split_a_stem_like_the_reference_server():
    stem = audio(67_032)  # r T + fade at r = 0.25, fade 0.02
    chunks = [parse(d) for d in audio_chunks("/drums", 4, stem, 4410)]
    assert [(c.batch_id, c.index, c.total, len(c.samples)) for c in chunks] == [
        (4, k, 16, 4410 if k < 15 else 882) for k in range(16)]
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]), stem)
    assert [len(parse(d).samples) for d in audio_chunks("/drums", 4, stem, 10240)] == [10240] * 6 + [5592]


def test_audio_chunks_upstream_offsets_positions_and_blobs():
    block = audio(66_150)
    chunks = [parse(d) for d in audio_chunks("/context", 2, block, 4410, position=10**6,
                                              sample_offsets=True, blob=True)]
    assert [(c.address, c.batch_id, c.index, c.total, c.position, c.blob) for c in chunks] == [
        ("/context", 2, 4410 * k, 15, 10**6 + 4410 * k, True) for k in range(15)]
    for k, chunk in enumerate(chunks):  # each chunk holds its own slice of the block, bit for bit
        np.testing.assert_array_equal(chunk.samples, block[4410 * k:4410 * (k + 1)])


def test_the_largest_package_fits_one_datagram_and_larger_chunks_are_refused():
    chunk = AudioChunk("/fifteen_chars__", 1, 0, 1, np.zeros(MAX_PACKAGE_SIZE), position=0)
    assert len(chunk.address) == 16 and len(chunk.encode()) <= MAX_DATAGRAM
    with pytest.raises(WireError, match="do not fit one UDP datagram"):
        AudioChunk("/context", 1, 0, 1, np.zeros(16384)).encode()


@pytest.mark.parametrize("make, match", [
    (lambda: AudioChunk("/context", 1, 0, 1, np.array([0.0, np.nan])), "NaN or infinite"),
    (lambda: AudioChunk("/context", 1, 0, 1, np.array([np.inf])), "NaN or infinite"),
    (lambda: AudioChunk("/context", 1, 0, 1, np.zeros(0)), "non-empty 1-D"),
    (lambda: AudioChunk("/context", 1, 0, 1, np.zeros((2, 2))), "non-empty 1-D"),
    (lambda: AudioChunk("/context", 1, 0, 0, np.zeros(4)), "total must be an int32 >= 1"),
    (lambda: AudioChunk("/context", -1, 0, 1, np.zeros(4)), "batch id must be an int32 >= 0"),
    (lambda: AudioChunk("/context", 1, 2**31, 1, np.zeros(4)), "index must be an int32"),
    (lambda: AudioChunk("context", 1, 0, 1, np.zeros(4)), "bad OSC address"),
    (lambda: AudioChunk("/my stem", 1, 0, 1, np.zeros(4)), "bad OSC address"),
    (lambda: audio_chunks("/bass", 1, np.zeros(10), 0), "package size must be positive"),
])
def test_invalid_chunks_cannot_be_built(make, match):
    with pytest.raises(WireError, match=match):
        make()


# --- control and reply messages -----------------------------------------------------------------

MESSAGES = [
    (UpdateR(0.25), [("d", 0.25)]),
    (W(-1), [("d", -1.0)]),
    (UpdateFade(0.02), [("d", 0.02)]),
    (UpdatePackageSize(4410), [("i", 4410)]),
    (PredictInstruments((False, True, False, False)), [("i", 0), ("i", 1), ("i", 0), ("i", 0)]),
    (Verbose(True), [("i", 1)]),
    (LoadModel(), []),
    (Reset(), [("i", 1)]),
    (Print(), [("T", True)]),
    (Predict(), []),
    (Hello(), []),
    (Stats(), []),
    (Ready(), [("T", True)]),
    (ServerPredicted(), [("T", True)]),
    (BatchDropped(7), [("i", 7)]),
    (HelloReply("jaxaccomp 0.1.0", 1, 44100, 264600),
     [("s", "jaxaccomp 0.1.0"), ("i", 1), ("i", 44100), ("i", 264600), *(("s", c) for c in CAPABILITIES)]),
    (StatsReply((("infer_ms", 812.5), ("batches_dropped", 3.0))),
     [("s", "infer_ms"), ("d", 812.5), ("s", "batches_dropped"), ("d", 3.0)]),
]


@pytest.mark.parametrize("message, args", MESSAGES, ids=[type(m).__name__ for m, _ in MESSAGES])
def test_messages_are_python_osc_bytes_both_ways(message, args):
    ours = message.encode()
    assert ours == osc(message.ADDRESS, *args)
    assert parse(ours) == message
    assert OscMessage(ours).params == [value for _, value in args]


@pytest.mark.parametrize("cls", [PacketTest, PacketTestResponse])
def test_packet_tests_are_python_osc_bytes_both_ways(cls):
    samples = np.random.default_rng(2).uniform(0, 1, 4410).astype(np.float32)
    ours = cls(4410, samples).encode()
    assert ours == osc(cls.ADDRESS, ("i", 4410), *(("f", float(x)) for x in samples))
    parsed = parse(ours)
    assert type(parsed) is cls and parsed.count == 4410 and not parsed.blob
    np.testing.assert_array_equal(parsed.samples, samples)


def test_packet_test_response_bundle_is_python_osc_bytes_both_ways():
    response = PacketTestResponse(3, np.array([0.5, 0.25, 0.0]))
    builder = OscBundleBuilder(PYTHON_OSC_IMMEDIATELY)
    builder.add_content(OscMessage(osc(response.ADDRESS, ("i", 3), ("f", 0.5), ("f", 0.25), ("f", 0.0))))
    ours = Bundle((response,)).encode()
    assert ours == builder.build().dgram
    (parsed,) = parse(ours).elements
    assert parse(ours).timetag == 1 and parsed.count == 3 and parsed.samples.tolist() == [0.5, 0.25, 0.0]
    (element,) = OscBundle(ours)
    assert OscBundle(ours).timestamp == PYTHON_OSC_IMMEDIATELY and element.params == [3, 0.5, 0.25, 0.0]


def test_nested_bundles_parse_recursively():
    inner = Bundle((Ready(), BatchDropped(2)), timetag=2**63 + 1)
    parsed = parse(Bundle((inner, ServerPredicted())).encode())
    assert parsed == Bundle((inner, ServerPredicted()))
    assert parse(Bundle(()).encode()) == Bundle(())


@pytest.mark.parametrize("datagram, expected", [
    (osc("/update_r", ("f", 0.5)), UpdateR(0.5)),  # python-osc clients send f
    (osc("/update_r", ("i", 1)), UpdateR(1.0)),
    (osc("/w", ("i", 1)), W(1)),
    (osc("/w", ("f", 0.0)), W(0)),
    (osc("/update_fade", ("h", 0)), UpdateFade(0.0)),
    (osc("/update_package_size", ("d", 10240.0)), UpdatePackageSize(10240)),
    (osc("/verbose", ("i", 5)), Verbose(True)),
    (osc("/verbose", ("f", 0.0)), Verbose(False)),
    (osc("/reset", ("i", 0)), Reset()),
    (osc("/predict", ("s", "now"), ("i", 3)), Predict()),
    (osc("/predict_instruments", *[("i", 1)] * 8), PredictInstruments((True,) * 8)),
    (b"/predict\0\0\0\0", Predict()),  # no type tag string: no arguments
])
def test_harmless_variants_are_accepted(datagram, expected):
    assert parse(datagram) == expected


@pytest.mark.parametrize("datagram, match", [
    (osc("/update_r", ("d", 0.0)), r"r must be in \(0, 1\]"),
    (osc("/update_r", ("d", 1.5)), r"r must be in \(0, 1\]"),
    (osc("/update_r", ("d", math.nan)), "NaN or infinite"),
    (osc("/update_r", ("f", math.inf)), "NaN or infinite"),
    (osc("/update_r", ("s", "0.25")), "must be a number"),
    (osc("/update_r"), "missing a number"),
    (osc("/update_r", ("d", 0.25), ("d", 0.5)), "1 unexpected arguments"),
    (osc("/w", ("d", 0.5)), "must be an integer"),
    (osc("/w", ("d", 2.0)), "w must be -1, 0 or 1"),
    (osc("/update_fade", ("d", -0.01)), r"fade must be in \[0, 1\]"),
    (osc("/update_fade", ("d", 1.01)), r"fade must be in \[0, 1\]"),
    (osc("/update_package_size", ("i", 127)), r"size must be in \[128, 13000\]"),
    (osc("/update_package_size", ("i", 16384)), r"size must be in \[128, 13000\]"),
    (osc("/update_package_size", ("d", 4410.5)), "must be an integer"),
    (osc("/predict_instruments", ("i", 1), ("i", 2)), "must be 0 or 1"),
    (osc("/predict_instruments"), "needs 1 to 8 flags"),
    (osc("/predict_instruments", *[("i", 0)] * 9), "needs 1 to 8 flags"),
    (osc("/predict_instruments", ("T", True)), "must be an integer"),
    (osc("/load_model", ("i", 1)), "1 unexpected arguments"),
    (osc("/print", ("F", False)), "must be T"),
    (osc("/ready"), "missing T"),
    (osc("/reset"), "missing an integer"),
    (osc("/hello", ("s", "hi")), "1 unexpected arguments"),
    (osc("/batch_dropped", ("i", -1)), "batch id must be an int32 >= 0"),
    (osc("/stats_reply", ("s", "infer_ms")), "missing a number"),
    (osc("/hello_reply", ("s", "x"), ("i", 1), ("i", 0), ("i", 1)), "sample rate must be an int32 >= 1"),
    (osc("/foo", ("s", "x")), "unknown address /foo "),
    (osc("/context", ("i", 1), ("i", 0), ("i", 1)), "non-empty 1-D"),
    (osc("/context", ("i", 1), ("i", 0), ("i", 1), ("f", 0.0), ("f", math.nan)), "NaN or infinite samples"),
    (osc("/context", ("i", 1), ("i", 0), ("i", 1), ("b", struct.pack(">f", math.inf))), "NaN or infinite samples"),
    (osc("/context", ("i", 1), ("i", 0), ("i", 1), ("d", 0.0)), "expected float samples or one blob"),
    (osc("/context", ("i", 1), ("i", 0), ("i", 1), ("b", b"\0" * 6)), "not whole float32 samples"),
    (osc("/context", ("i", 1), ("i", 0), ("f", 0.0)), "not an audio chunk"),
    (osc("/context", ("i", 1), ("i", 0), ("i", 0), ("f", 0.0)), "total must be an int32 >= 1"),
    (osc("/packet_test", ("f", 0.0)), "takes ,i then samples"),
    (osc("/bass", ("N", None)), "not an audio chunk"),
    (osc("/update_r", ("N", None)), "unsupported type tag 'N'"),
    (b"", "datagram of 0 bytes"),
    (b"/big" + b"\0" * MAX_DATAGRAM, "datagram of 65511 bytes"),
    (b"/w\0", "not a multiple of 4"),
    (b"/reset\0\0,i\0\0", "truncated at argument 1"),
    (osc("/reset", ("i", 1)) + b"\0" * 4, "4 bytes after the last argument"),
    (osc("/context", ("i", 1), ("i", 0), ("i", 1), ("f", 0.0))[:-4], "1 float samples need 4 bytes, got 0"),
    (b"/reset\0", "not a multiple of 4"),
    (b"/reset\0\x01", "not padded with NULs"),
    (b"/upd", "address is not NUL-terminated"),
    (b"/\xff\xfe\0", "address is not UTF-8"),
    (b"/w\0\0i\0\0\0", "must be ',' then ASCII"),
    (b"/w\0\0,\xc3\xa9\0", "must be ',' then ASCII"),
    (b"/w\0\0,d\n\0", r"/w ',d\\n': truncated at argument 1"),
    (b"/a\nb\0\0\0\0", "bad OSC address"),
    (b"xyz\0", "not an OSC packet"),
    (b"#bundle\0", "malformed bundle header"),
    (b"#bundlX\0" + b"\0" * 8, "malformed bundle header"),
    (b"#bundle\0" + b"\0" * 8 + struct.pack(">i", 12) + b"/w\0\0", "bad size 12"),
    (b"#bundle\0" + b"\0" * 8 + struct.pack(">i", 3) + b"/w\0\0", "not a multiple of 4"),
], ids=lambda value: value if isinstance(value, str) else "datagram")
def test_bad_datagrams_raise_one_line_wire_errors(datagram, match):
    with pytest.raises(WireError, match=match) as info:
        parse(datagram)
    assert "\n" not in str(info.value)


def test_bundles_nest_only_so_deep():
    message = Ready()
    for _ in range(MAX_BUNDLE_DEPTH):
        message = Bundle((message,))
    assert parse(message.encode()) == message
    with pytest.raises(WireError, match="nested deeper"):
        parse(Bundle((message,)).encode())


@pytest.mark.parametrize("make, match", [
    (lambda: UpdateR(math.nan), r"r must be in \(0, 1\]"),
    (lambda: W(2), "w must be -1, 0 or 1"),
    (lambda: UpdatePackageSize(MAX_PACKAGE_SIZE + 1), "size must be in"),
    (lambda: PredictInstruments(()), "needs 1 to 8 flags"),
    (lambda: StatsReply((("x", math.inf),)), "values must be finite"),
    (lambda: HelloReply("a\0b", 1, 44100, 264600).encode(), "cannot contain NUL"),
    (lambda: Bundle((), timetag=-1), "uint64"),
])
def test_invalid_messages_cannot_be_built(make, match):
    with pytest.raises(WireError, match=match):
        make()


# --- fuzzing: random and mutated datagrams (4 x 2500 examples) -----------------------------------

SEEDS = [message.encode() for message, _ in MESSAGES] + [
    AudioChunk("/context", 5, 8, 3, audio(8)).encode(),
    AudioChunk("/guitar", 5, 2, 3, audio(3), position=-7, blob=True).encode(),
    AudioChunk("/context", 5, 8, 3, audio(2), position=2**40).encode(),
    AudioChunk("/bass", 1, 0, 1, audio(5), blob=True).encode(),
    PacketTest(4, audio(4)).encode(),
    Bundle((PacketTestResponse(2, audio(2)), Bundle((Ready(),)))).encode(),
]
FUZZ = settings(max_examples=2500, deadline=None, database=None)


def check_parse(datagram):
    """Only a Message or a one-line WireError may come out, and what parses round-trips unchanged."""
    try:
        message = parse(datagram)
    except WireError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(message, Message)
    sent = message.encode()
    again = parse(sent)  # sending it back loses nothing: the same message, the same bytes
    assert type(again) is type(message) and again.encode() == sent
    if type(message).__eq__ is not object.__eq__ and not isinstance(message, Bundle):  # no audio inside
        assert again == message


@FUZZ
@given(st.one_of(st.binary(max_size=96), st.binary(max_size=96).map(lambda b: b"/" + b),
                 st.binary(max_size=96).map(lambda b: b"#bundle\0" + b)))
def test_fuzz_random_bytes(datagram):
    check_parse(datagram)


@FUZZ
@given(st.sampled_from(SEEDS), st.integers(0, 2**16), st.lists(st.tuples(st.integers(0, 2**16), st.integers(1, 255)),
                                                                  max_size=4))
def test_fuzz_truncated_and_flipped_valid_datagrams(seed, cut, flips):
    datagram = bytearray(seed[: len(seed) - cut % (len(seed) + 1)] if cut % 3 else seed)
    for index, xor in flips:
        if datagram:
            datagram[index % len(datagram)] ^= xor
    check_parse(bytes(datagram))


@FUZZ
@given(st.sampled_from(["/context", "/bass", "/packet_test", "/stats_reply", "/hello_reply", "/reset", "/predict",
                        "/w", "/predict_instruments", "/print"]),
       st.text("ifdhsbTFN[]x,", max_size=12), st.binary(max_size=64))
def test_fuzz_random_type_tags(address, tags, payload):
    def osc_string(text):
        raw = text.encode()
        return raw + b"\0" * (4 - len(raw) % 4)

    check_parse(osc_string(address) + osc_string("," + tags) + payload)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(SEEDS), st.integers(-8, 8)), max_size=3), st.integers(0, 2**64 - 1),
       st.integers(0, 3))
def test_fuzz_bundles_with_lying_element_sizes(elements, timetag, depth):
    body = b"".join(struct.pack(">i", len(data) + lie) + data for data, lie in elements)
    datagram = b"#bundle\0" + struct.pack(">Q", timetag) + body
    for _ in range(depth):
        datagram = b"#bundle\0" + struct.pack(">Q", 1) + struct.pack(">i", len(datagram)) + datagram
    check_parse(datagram)


def test_benchmark_compares_python_osc_with_the_fast_paths(tmp_path, capsys):
    result = benchmark(["--sizes", "128", "--warmup", "0", "--repeats", "1", "--json", str(tmp_path / "osc.json")])
    assert [(r["floats"], r["format"], r["bytes"]) for r in result["rows"]] == [
        (128, "python-osc ,iii f...", 672), (128, "wire ,iii f...", 672), (128, "wire ,iiib (blob)", 548)]
    assert result["rows"][0]["speedup"] == 1.0
    assert "| 128 " in capsys.readouterr().out
    assert json.loads((tmp_path / "osc.json").read_text()) == result
