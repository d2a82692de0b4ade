"""The messages server and clients exchange, byte-compatible with the multi_track Max external.

Bytes in, frozen dataclasses out, and back (`parse` and `Message.encode`); no sockets, threads or
model; the OSC encoding itself is in `protocol.osc`. Everything is big-endian OSC 1.0.

The reference protocol:

client -> server (UDP 7000)
    /context ,iii f...        AudioChunk: batch id, sample offset of the chunk in its plane,
                              chunks in the batch (all planes), N float32 samples
    /update_r ,d              UpdateR: step ratio r in (0, 1]
    /w ,d                     W: window slot -1 (retrospective), 0 (immediate), 1 (look-ahead)
    /update_fade ,d           UpdateFade: crossfade ratio in [0, 1]
    /update_package_size ,i   UpdatePackageSize: floats per chunk in [128, MAX_PACKAGE_SIZE]
    /predict_instruments ,i.. PredictInstruments: one 0/1 flag per stem (1 to MAX_STEMS)
    /verbose ,i   Verbose     /load_model ,   LoadModel   /reset ,i   Reset (value ignored)
    /print ,T     Print       /predict (any arguments, ignored)   Predict
    /packet_test ,i f...      PacketTest: packet size, then that many floats
server -> client (UDP 8000)
    /ready ,T  Ready     /server_predicted ,T  ServerPredicted     /batch_dropped ,i  BatchDropped
    /<stem> ,iii f...         AudioChunk: batch id, chunk index, chunks of this stem, N float32
    #bundle, time tag IMMEDIATELY, holding /packet_test_response ,i f...   PacketTestResponse

Max sends numbers as `d` and python-osc clients as `f`, so a numeric control argument may come as
`i`, `h`, `f` or `d` (an integer one must then be integral); a wrong count or type is an error.
MAX_PACKAGE_SIZE is stricter than the reference's 16384: larger chunks do not fit one UDP datagram.

Our extensions, which the reference external never sends:
    Audio chunks may carry ONE blob `b` of N big-endian float32 instead of N `f` arguments
    (4 N + 4 bytes instead of 5 N, read by one numpy call), and an int64 `h` after the three ints:
    the absolute timeline sample of samples[0], so the receiver places every chunk without trusting
    chunk 0 or the other side's package size. Type tags: ,iii f...  ,iiih f...  ,iiib  ,iiihb
    (e.g. `/context ,iiihb batch start total position blob`). Packet tests may use a blob too.
    /hello ,           Hello: what does the server support?
    /hello_reply ,siii s...   HelloReply: server name and version, PROTOCOL_VERSION, sample rate,
                              context length in samples, then capability names (CAPABILITIES)
    /stats ,           Stats: ask for the server's timings
    /stats_reply ,sd sd...    StatsReply: (name, value) pairs such as ("infer_ms", 812.0)

`audio_chunks` splits a stem into chunk datagrams. `parse` returns a Message or raises WireError (a
ValueError with a one-line reason), nothing else: malformed, truncated or oversized datagrams, unknown
addresses or type tags, out-of-range values and NaN or infinite floats (in audio too: a NaN would
reach the model or the loudspeaker) are all rejected. Building an invalid message raises it too.
An address the protocol does not name is read as an audio chunk (a stem name can be anything) and
rejected if its type tags do not fit. Bundles are parsed recursively, up to MAX_BUNDLE_DEPTH levels,
into Bundle; time tags are kept but not acted on.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from jaxaccomp.protocol.osc import (MAX_DATAGRAM, INT32, UINT64, Arg, ArgReader, WireError, check_address, check_end, check_int,
    check_samples, datagram, encode_args, encode_samples, read_args, read_samples, read_string, require, show_tags)

MAX_PACKAGE_SIZE = 13_000  # 5 N + 36 bytes (float chunk, stem name up to 15 characters, int64 position) fit
MIN_PACKAGE_SIZE = 128
MAX_STEMS = 8  # the external's limit
MAX_BUNDLE_DEPTH = 4
IMMEDIATELY = 1  # the OSC time tag "now"
PROTOCOL_VERSION = 1
CAPABILITIES = ("blob", "position", "stats")
_BUNDLE_TAG = b"#bundle\0"


class Message(ABC):
    """One decoded datagram; `encode` gives back its bytes."""

    @abstractmethod
    def encode(self) -> bytes: ...


# --- messages ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AudioChunk(Message):
    """A chunk of float32 audio: `/context` upstream, `/<stem>` downstream.

    `index` is a sample offset within the plane upstream but a chunk index downstream, as in the
    reference; `total` counts chunks. `position` (extension) is the absolute timeline sample of
    samples[0]; `blob` (extension) picks the one-blob encoding. `parse` keeps both as received.
    """

    address: str
    batch_id: int
    index: int
    total: int
    samples: np.ndarray
    position: int | None = None
    blob: bool = False

    def __post_init__(self) -> None:
        check_address(self.address)
        check_int(f"{self.address}: batch id", self.batch_id)
        check_int(f"{self.address}: index", self.index)
        check_int(f"{self.address}: total", self.total, low=1)
        if self.position is not None:
            check_int(f"{self.address}: position", self.position, low=-(2**63), bits=64)
        object.__setattr__(self, "samples", check_samples(self.address, self.samples))

    def encode(self) -> bytes:
        ints = (self.batch_id, self.index, self.total)
        if self.position is None:
            return encode_samples(self.address, "iii", ints, self.samples, self.blob)
        return encode_samples(self.address, "iiih", (*ints, self.position), self.samples, self.blob)

    @classmethod
    def _decode(cls, address: str, tags: str, data: bytes, pos: int) -> AudioChunk:
        require(tags.startswith("iii"),
                 f"unknown address {address} (type tags {show_tags(tags)} are not an audio chunk)")
        header = "iiih" if tags.startswith("iiih") else "iii"
        args, pos = read_args(address, header, data, pos)
        samples, blob = read_samples(address, tags[len(header) :], data, pos)
        values = [value for _, value in args]
        return cls(address, *values[:3], samples, values[3] if len(values) == 4 else None, blob)


@dataclass(frozen=True, eq=False)
class _CountedSamples(Message):
    """An int then float32 samples: the packet test and its response."""

    ADDRESS: ClassVar[str]
    count: int
    samples: np.ndarray
    blob: bool = False

    def __post_init__(self) -> None:
        check_int(f"{self.ADDRESS}: count", self.count)
        object.__setattr__(self, "samples", check_samples(self.ADDRESS, self.samples))

    def encode(self) -> bytes:
        return encode_samples(self.ADDRESS, "i", (self.count,), self.samples, self.blob)

    @classmethod
    def _decode(cls, address: str, tags: str, data: bytes, pos: int) -> _CountedSamples:
        require(tags.startswith("i"), f"{address} takes ,i then samples, got type tags {show_tags(tags)}")
        ((_, count),), pos = read_args(address, "i", data, pos)
        samples, blob = read_samples(address, tags[1:], data, pos)
        return cls(count, samples, blob)


class PacketTest(_CountedSamples):
    """Max's `test_packet`: `count` is its packet size (the reference server ignores it)."""

    ADDRESS = "/packet_test"


class PacketTestResponse(_CountedSamples):
    """The reply to PacketTest (send it in a Bundle): `count` is how many floats arrived."""

    ADDRESS = "/packet_test_response"


@dataclass(frozen=True)
class _Control(Message):
    """A message of a few scalar arguments; subclasses say how to read and write them."""

    ADDRESS: ClassVar[str]

    def _args(self) -> list[Arg]:
        return []

    @classmethod
    def _from_args(cls, args: ArgReader) -> _Control:
        return cls()

    def encode(self) -> bytes:
        return encode_args(self.ADDRESS, self._args())

    @classmethod
    def _decode(cls, address: str, tags: str, data: bytes, pos: int) -> _Control:
        args, pos = read_args(address, tags, data, pos)
        check_end(address, data, pos)
        reader = ArgReader(address, tags, args)
        message = cls._from_args(reader)
        reader.finish()
        return message


@dataclass(frozen=True)
class _True(_Control):
    """A message whose only argument is T (true), as the reference sends them."""

    def _args(self) -> list[Arg]:
        return [("T", True)]

    @classmethod
    def _from_args(cls, args: ArgReader) -> _True:
        args.true()
        return cls()


@dataclass(frozen=True)
class UpdateR(_Control):
    """The step ratio r: each inference advances the context by r * T samples."""

    ADDRESS = "/update_r"
    r: float

    def __post_init__(self) -> None:
        require(0 < self.r <= 1, f"{self.ADDRESS}: r must be in (0, 1], got {self.r}")

    def _args(self) -> list[Arg]:
        return [("d", self.r)]

    @classmethod
    def _from_args(cls, args: ArgReader) -> UpdateR:
        return cls(args.number())


@dataclass(frozen=True)
class W(_Control):
    """Where the prediction lands: -1 retrospective, 0 immediate, 1 look-ahead."""

    ADDRESS = "/w"
    w: int

    def __post_init__(self) -> None:
        require(self.w in (-1, 0, 1), f"{self.ADDRESS}: w must be -1, 0 or 1, got {self.w}")

    def _args(self) -> list[Arg]:
        return [("d", float(self.w))]

    @classmethod
    def _from_args(cls, args: ArgReader) -> W:
        return cls(args.integer())


@dataclass(frozen=True)
class UpdateFade(_Control):
    """The crossfade length as a fraction of a second (fade samples = fade * 44100)."""

    ADDRESS = "/update_fade"
    fade: float

    def __post_init__(self) -> None:
        require(0 <= self.fade <= 1, f"{self.ADDRESS}: fade must be in [0, 1], got {self.fade}")

    def _args(self) -> list[Arg]:
        return [("d", self.fade)]

    @classmethod
    def _from_args(cls, args: ArgReader) -> UpdateFade:
        return cls(args.number())


@dataclass(frozen=True)
class UpdatePackageSize(_Control):
    """Floats per outgoing chunk; it must equal the client's packet size."""

    ADDRESS = "/update_package_size"
    size: int

    def __post_init__(self) -> None:
        ok = MIN_PACKAGE_SIZE <= self.size <= MAX_PACKAGE_SIZE
        require(ok, f"{self.ADDRESS}: size must be in [{MIN_PACKAGE_SIZE}, {MAX_PACKAGE_SIZE}], got {self.size}")

    def _args(self) -> list[Arg]:
        return [("i", self.size)]

    @classmethod
    def _from_args(cls, args: ArgReader) -> UpdatePackageSize:
        return cls(args.integer())


@dataclass(frozen=True)
class PredictInstruments(_Control):
    """Which of the client's stems to generate, by position (bass, drums, guitar, piano)."""

    ADDRESS = "/predict_instruments"
    flags: tuple[bool, ...]

    def __post_init__(self) -> None:
        ok = 1 <= len(self.flags) <= MAX_STEMS
        require(ok, f"{self.ADDRESS}: needs 1 to {MAX_STEMS} flags, got {len(self.flags)}")

    def _args(self) -> list[Arg]:
        return [("i", int(flag)) for flag in self.flags]

    @classmethod
    def _from_args(cls, args: ArgReader) -> PredictInstruments:
        return cls(tuple(args.flag() for _ in range(args.remaining)))


@dataclass(frozen=True)
class Verbose(_Control):
    """Per-stage timing logs on or off (any non-zero integer is on)."""

    ADDRESS = "/verbose"
    on: bool

    def _args(self) -> list[Arg]:
        return [("i", int(self.on))]

    @classmethod
    def _from_args(cls, args: ArgReader) -> Verbose:
        return cls(args.integer() != 0)


@dataclass(frozen=True)
class LoadModel(_Control):
    """Load the model; the last message of Max's `load_model` sequence."""

    ADDRESS = "/load_model"


@dataclass(frozen=True)
class Reset(_Control):
    """Zero the rolling context and generated state; its integer (Max sends 1) is ignored."""

    ADDRESS = "/reset"

    def _args(self) -> list[Arg]:
        return [("i", 1)]

    @classmethod
    def _from_args(cls, args: ArgReader) -> Reset:
        args.integer()
        return cls()


@dataclass(frozen=True)
class Print(_True):
    """Write debug dumps of the server's state."""

    ADDRESS = "/print"


@dataclass(frozen=True)
class Predict(_Control):
    """Run an inference on the current state now; any arguments are ignored, as in the reference."""

    ADDRESS = "/predict"

    @classmethod
    def _from_args(cls, args: ArgReader) -> Predict:
        args.skip_rest()
        return cls()


@dataclass(frozen=True)
class Hello(_Control):
    """Extension: the client asks for a HelloReply."""

    ADDRESS = "/hello"


@dataclass(frozen=True)
class Stats(_Control):
    """Extension: the client asks for a StatsReply."""

    ADDRESS = "/stats"


@dataclass(frozen=True)
class Ready(_True):
    """Sent once when the server socket is bound; Max may then run its `load_model`."""

    ADDRESS = "/ready"


@dataclass(frozen=True)
class ServerPredicted(_True):
    """Sent after every stem of a batch went out."""

    ADDRESS = "/server_predicted"


@dataclass(frozen=True)
class BatchDropped(_Control):
    """The batch the server skipped because an inference was still running."""

    ADDRESS = "/batch_dropped"
    batch_id: int

    def __post_init__(self) -> None:
        check_int(f"{self.ADDRESS}: batch id", self.batch_id)

    def _args(self) -> list[Arg]:
        return [("i", self.batch_id)]

    @classmethod
    def _from_args(cls, args: ArgReader) -> BatchDropped:
        return cls(args.integer())


@dataclass(frozen=True)
class Busy(_Control):
    """Extension: the server streams with another client, so this one's messages are ignored for now."""

    ADDRESS = "/busy"
    reason: str

    def _args(self) -> list[Arg]:
        return [("s", self.reason)]

    @classmethod
    def _from_args(cls, args: ArgReader) -> Busy:
        return cls(args.string())


@dataclass(frozen=True)
class HelloReply(_Control):
    """Extension: what the server is and supports, since the reference protocol carries neither."""

    ADDRESS = "/hello_reply"
    server: str
    protocol: int
    sample_rate: int
    context_samples: int
    capabilities: tuple[str, ...] = CAPABILITIES

    def __post_init__(self) -> None:
        for what, value in (("protocol", self.protocol), ("sample rate", self.sample_rate),
                            ("context samples", self.context_samples)):
            check_int(f"{self.ADDRESS}: {what}", value, low=1)

    def _args(self) -> list[Arg]:
        ints = [("i", self.protocol), ("i", self.sample_rate), ("i", self.context_samples)]
        return [("s", self.server), *ints, *(("s", name) for name in self.capabilities)]

    @classmethod
    def _from_args(cls, args: ArgReader) -> HelloReply:
        head = (args.string(), args.integer(), args.integer(), args.integer())
        return cls(*head, tuple(args.string() for _ in range(args.remaining)))


@dataclass(frozen=True)
class StatsReply(_Control):
    """Extension: named timings and counters, e.g. (("infer_ms", 812.0), ("batches_dropped", 3.0))."""

    ADDRESS = "/stats_reply"
    values: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        require(all(math.isfinite(value) for _, value in self.values), f"{self.ADDRESS}: values must be finite")

    def _args(self) -> list[Arg]:
        return [arg for name, value in self.values for arg in (("s", name), ("d", value))]

    @classmethod
    def _from_args(cls, args: ArgReader) -> StatsReply:
        return cls(tuple((args.string(), args.number()) for _ in range((args.remaining + 1) // 2)))


@dataclass(frozen=True)
class Bundle(Message):
    """An OSC bundle; the server sends PacketTestResponse in one timed IMMEDIATELY."""

    elements: tuple[Message, ...]
    timetag: int = IMMEDIATELY

    def __post_init__(self) -> None:
        require(0 <= self.timetag < 2**64, f"bundle time tag must be a uint64 NTP time, got {self.timetag}")

    def encode(self) -> bytes:
        parts = [_BUNDLE_TAG, UINT64.pack(self.timetag)]
        for element in self.elements:
            data = element.encode()
            parts += [INT32.pack(len(data)), data]
        return datagram(parts)


_DECODERS = {cls.ADDRESS: cls._decode for cls in (
    UpdateR, W, UpdateFade, UpdatePackageSize, PredictInstruments, Verbose, LoadModel, Reset, Print, Predict,
    Hello, Stats, Ready, ServerPredicted, BatchDropped, Busy, HelloReply, StatsReply, PacketTest, PacketTestResponse)}


def _parse_message(data: bytes) -> Message:
    address, pos = read_string(data, 0, "address")
    check_address(address)
    tags = ""  # no type tag string at all: no arguments (old OSC; python-osc accepts it too)
    if pos < len(data):
        tags, pos = read_string(data, pos, f"{address}: type tag string")
        require(tags.startswith(",") and tags.isascii(), f"{address}: type tag string must be ',' then ASCII")
        tags = tags[1:]
    return _DECODERS.get(address, AudioChunk._decode)(address, tags, data, pos)


def _parse_bundle(data: bytes, depth: int) -> Bundle:
    require(depth < MAX_BUNDLE_DEPTH, f"bundles nested deeper than {MAX_BUNDLE_DEPTH} levels")
    require(data.startswith(_BUNDLE_TAG) and len(data) >= 16, "malformed bundle header")
    elements: list[Message] = []
    pos = 16
    while pos < len(data):
        (size,) = INT32.unpack_from(data, pos)  # pos and len(data) are multiples of 4
        require(0 < size <= len(data) - pos - 4, f"bundle element {len(elements) + 1} has a bad size {size}")
        elements.append(_parse_packet(data[pos + 4 : pos + 4 + size], depth + 1))
        pos += 4 + size
    return Bundle(tuple(elements), UINT64.unpack_from(data, 8)[0])


def _parse_packet(data: bytes, depth: int) -> Message:
    require(len(data) % 4 == 0, f"packet of {len(data)} bytes is not a multiple of 4")
    if data.startswith(b"/"):
        return _parse_message(data)
    if data.startswith(b"#"):
        return _parse_bundle(data, depth)
    raise WireError(f"not an OSC packet: starts with {data[:8]!r}")


def parse(datagram: bytes) -> Message:
    """Decode one UDP datagram; any malformed or out-of-range input raises WireError, nothing else."""
    data = bytes(datagram)
    require(0 < len(data) <= MAX_DATAGRAM, f"datagram of {len(data)} bytes (must be 1 to {MAX_DATAGRAM})")
    return _parse_packet(data, 0)


def audio_chunks(address: str, batch_id: int, audio: np.ndarray, package_size: int, *, position: int | None = None,
                 sample_offsets: bool = False, blob: bool = False) -> list[bytes]:
    """`audio` as datagrams of `package_size` floats (the last one shorter), as the reference server sends a stem.

    Each carries its chunk index and total = ceil(len / package_size); with `sample_offsets` the index is
    the chunk's sample offset instead, as Max sends `/context`. `position` is the timeline sample of
    audio[0] (extension); each chunk then carries its own.
    """
    audio = check_samples(address, audio)
    require(package_size >= 1, f"package size must be positive, got {package_size}")
    starts = range(0, len(audio), package_size)
    return [AudioChunk(address, batch_id, start if sample_offsets else k, len(starts),
                       audio[start : start + package_size], None if position is None else position + start,
                       blob).encode()
            for k, start in enumerate(starts)]
