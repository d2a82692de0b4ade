"""Remembering an expensive function of audio for the last few signals it was given.

A sweep scores one context against many stems (every model and reference row of a song), and a
metric with several modes features the same stem more than once; tracking beats or computing HPSS
again each time would dominate the run. Results are keyed by a hash of the audio's bytes, dtype and
shape plus the other (hashable) arguments, and the least recently used is forgotten first.
"""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

import numpy as np

Result = TypeVar("Result")


def remember_audio(size: int) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """Decorator: f(audio, *args) computed once per distinct (audio, args) among the last `size`.
    Callers must not modify what it returns (the remembered value is shared)."""

    def decorate(fn: Callable[..., Result]) -> Callable[..., Result]:
        remembered: OrderedDict[tuple, Result] = OrderedDict()

        @functools.wraps(fn)
        def wrapper(audio: np.ndarray, *args: Hashable) -> Result:
            audio = np.ascontiguousarray(audio)
            key = (hashlib.blake2b(audio.tobytes(), digest_size=16).digest(), audio.dtype.str, audio.shape, args)
            if key not in remembered:
                remembered[key] = fn(audio, *args)
                if len(remembered) > size:
                    remembered.popitem(last=False)
            remembered.move_to_end(key)
            return remembered[key]

        return wrapper

    return decorate
