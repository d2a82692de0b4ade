"""OSC 1.0 encoding and decoding primitives: strings, scalars, blobs, float runs, typed argument reading.

Big-endian throughout, no sockets and no message meanings (those live in `protocol.messages`). Every
failure is a WireError, a ValueError whose message is one line, so a bad datagram can be logged and
dropped without a traceback.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

MAX_DATAGRAM = 65_507  # the largest UDP payload over IPv4

Arg = tuple[str, object]  # (type tag, value); T and F carry True and False

INT32 = struct.Struct(">i")
UINT64 = struct.Struct(">Q")
SCALARS = {"i": INT32, "h": struct.Struct(">q"), "f": struct.Struct(">f"), "d": struct.Struct(">d")}


class WireError(ValueError):
    """A datagram (or a message to build) that breaks the protocol; the message is one line."""


def require(ok: bool, message: str) -> None:
    if not ok:
        raise WireError(message)


def check_int(what: str, value: int, low: int = 0, bits: int = 32) -> None:
    require(low <= value < 2 ** (bits - 1), f"{what} must be an int{bits} >= {low}, got {value}")


def show_tags(tags: str) -> str:
    """Type tags quoted and cut short for a one-line error (audio has thousands; garbage has newlines)."""
    return ascii(f",{tags}" if len(tags) <= 12 else f",{tags[:8]}...({len(tags)} tags)")


# --- encoding ---------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def osc_string(text: str) -> bytes:
    """NUL-terminated, NUL-padded to 4 bytes; cached because addresses and tags repeat."""
    require("\0" not in text, f"OSC strings cannot contain NUL: {text[:40]!r}")
    raw = text.encode()
    return raw + b"\0" * (4 - len(raw) % 4)


@lru_cache(maxsize=32)
def float_tags(header: str, count: int) -> bytes:
    """The type tags of a header plus `count` floats: one byte per float, so worth caching per N."""
    return osc_string("," + header + "f" * count)


@lru_cache(maxsize=8)
def header_struct(header: str) -> struct.Struct:
    return struct.Struct(">" + header.replace("h", "q"))


def datagram(parts: Sequence[bytes]) -> bytes:
    data = b"".join(parts)
    require(len(data) <= MAX_DATAGRAM, f"{len(data)} bytes do not fit one UDP datagram ({MAX_DATAGRAM})")
    return data


def encode_args(address: str, args: Sequence[Arg]) -> bytes:
    """A control message; only the tags controls send (i, d, s, T) need writing."""
    parts = [osc_string(address), osc_string("," + "".join(tag for tag, _ in args))]
    for tag, value in args:
        if tag == "s":
            parts.append(osc_string(value))
        elif tag in SCALARS:
            parts.append(SCALARS[tag].pack(value))
    return datagram(parts)


def encode_samples(address: str, header: str, values: tuple[int, ...], samples: np.ndarray, blob: bool) -> bytes:
    """The fast path: header ints, then float32 samples as N `f` arguments or one blob."""
    body = samples.astype(">f4").tobytes()
    head = header_struct(header).pack(*values)
    if blob:
        return datagram((osc_string(address), osc_string("," + header + "b"), head, INT32.pack(len(body)), body))
    return datagram((osc_string(address), float_tags(header, len(samples)), head, body))


# --- decoding ---------------------------------------------------------------------------------


def read_string(data: bytes, pos: int, what: str) -> tuple[str, int]:
    end = data.find(b"\0", pos)
    require(end >= 0, f"{what} is not NUL-terminated")
    after = (end + 4) & ~3
    require(not data[end:after].strip(b"\0"), f"{what} is not padded with NULs")
    try:
        return data[pos:end].decode(), after
    except UnicodeDecodeError:
        raise WireError(f"{what} is not UTF-8") from None


def read_blob(data: bytes, pos: int, what: str) -> tuple[bytes, int]:
    require(pos + 4 <= len(data), f"{what}: truncated blob size")
    (size,) = INT32.unpack_from(data, pos)
    end = pos + 4 + size
    after = (end + 3) & ~3
    require(0 <= size and after <= len(data), f"{what}: blob of {size} bytes does not fit the datagram")
    require(not data[end:after].strip(b"\0"), f"{what}: blob is not padded with NULs")
    return data[pos + 4 : end], after


def read_args(address: str, tags: str, data: bytes, pos: int) -> tuple[list[Arg], int]:
    args: list[Arg] = []
    for tag in tags:
        value: object
        if tag in SCALARS:
            scalar = SCALARS[tag]
            require(pos + scalar.size <= len(data),
                     f"{address} {show_tags(tags)}: truncated at argument {len(args) + 1}")
            (value,) = scalar.unpack_from(data, pos)
            pos += scalar.size
            require(tag in "ih" or math.isfinite(value), f"{address}: argument {len(args) + 1} is NaN or infinite")
        elif tag == "s":
            value, pos = read_string(data, pos, f"{address}: argument {len(args) + 1}")
        elif tag == "b":
            value, pos = read_blob(data, pos, f"{address}: argument {len(args) + 1}")
        elif tag in "TF":
            value = tag == "T"
        else:
            raise WireError(f"{address}: unsupported type tag {tag!r}")
        args.append((tag, value))
    return args, pos


def check_end(address: str, data: bytes, pos: int) -> None:
    require(pos == len(data), f"{address}: {len(data) - pos} bytes after the last argument")


def read_samples(address: str, tags: str, data: bytes, pos: int) -> tuple[np.ndarray, bool]:
    """The float32 samples that end a message, as N `f` arguments or one blob; (samples, blob)."""
    if tags == "b":
        raw, pos = read_blob(data, pos, address)
        check_end(address, data, pos)
        require(len(raw) % 4 == 0, f"{address}: an audio blob of {len(raw)} bytes is not whole float32 samples")
        return np.frombuffer(raw, ">f4").astype(np.float32), True
    require(tags.count("f") == len(tags),
             f"{address}: expected float samples or one blob, got type tags {show_tags(tags)}")
    require(pos + 4 * len(tags) == len(data),
             f"{address}: {len(tags)} float samples need {4 * len(tags)} bytes, got {len(data) - pos}")
    return np.frombuffer(data, ">f4", count=len(tags), offset=pos).astype(np.float32), False


def check_address(address: str) -> None:
    """Printable ASCII without spaces, so that an address can be quoted in a one-line error."""
    ok = address.startswith("/") and address.isascii() and address.isprintable() and " " not in address
    require(ok, f"bad OSC address {address[:40]!r}")


def check_samples(address: str, samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32)
    require(samples.ndim == 1 and samples.size > 0,
             f"{address}: samples must be a non-empty 1-D array, got shape {samples.shape}")
    require(bool(np.isfinite(samples).all()), f"{address}: audio contains NaN or infinite samples")
    return samples


class ArgReader:
    """Typed, count-checked reading of a control message's arguments."""

    def __init__(self, address: str, tags: str, args: list[Arg]):
        self._where = f"{address} {show_tags(tags)}"
        self._args = args
        self._next = 0

    @property
    def remaining(self) -> int:
        return len(self._args) - self._next

    def _take(self, kind: str, tags: str) -> object:
        require(self.remaining > 0, f"{self._where}: missing {kind} argument")
        tag, value = self._args[self._next]
        require(tag in tags, f"{self._where}: argument {self._next + 1} must be {kind}, got type tag {tag!r}")
        self._next += 1
        return value

    def number(self) -> float:
        return float(self._take("a number", "ifdh"))

    def integer(self) -> int:
        value = self._take("an integer", "ifdh")
        require(float(value).is_integer(), f"{self._where}: argument {self._next} must be an integer, got {value}")
        return int(value)

    def flag(self) -> bool:
        value = self.integer()
        require(value in (0, 1), f"{self._where}: argument {self._next} must be 0 or 1, got {value}")
        return bool(value)

    def true(self) -> None:
        self._take("T (true)", "T")

    def string(self) -> str:
        return str(self._take("a string", "s"))

    def skip_rest(self) -> None:
        self._next = len(self._args)

    def finish(self) -> None:
        require(self.remaining == 0, f"{self._where}: {self.remaining} unexpected arguments")
