"""The stream vocabulary: window T, step ratio r, write window w and crossfade, and the rules they obey.

A client keeps the last T samples (its window). Every step = int(T r) samples it sends the step just
played and asks for audio w steps ahead: w = 1 one step ahead (look-ahead), 0 the step being played
(immediate), -1 the step just played (retrospective). A reply starts `fade` seconds before its content
so the client can crossfade it into what it holds. The client's window holds the read block, the gap
and the write window, hence (w + 2) r <= 1. These rules and defaults are the Max external's and the
reference server's; they are defined here once and used by the server session, the Python client,
`accompany`, the evaluation and every command line. Pure integer arithmetic: no jax, no numpy.

The fade is in seconds everywhere (the wire's `/update_fade` value, "a ratio of a second", is the same
number); `fade_samples` is its length at 44.1 kHz.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from fractions import Fraction

from jaxaccomp.constants import HOP, SAMPLE_RATE, WINDOW_FRAMES

VALID_W = (-1, 0, 1)  # retrospective, immediate, one step ahead
DEFAULT_WINDOW = 264600  # T of the Max external and the reference server: 6 s
DEFAULT_R = 0.25
DEFAULT_W = 1
DEFAULT_FADE = 0.02  # seconds: 882 samples


def check_r_and_w(r: float, w: int) -> None:
    """The rules on r and w alone, as a one-line ValueError naming the rule broken."""
    if w not in VALID_W:
        raise ValueError(f"w must be -1, 0 or 1, got {w}")
    if not 0 < r <= 1:
        raise ValueError(f"r must be in (0, 1], got {r}")
    if not window_holds(r, w):
        raise ValueError(f"(w+2)*r must be at most 1 (the client's window holds the read block, the gap and "
                         f"the write window), got w={w}, r={r}")


def window_holds(r: float, w: int) -> bool:
    """Whether a client's window holds the read block, the gap and the write window: (w + 2) r <= 1."""
    return (w + 2) * r <= 1


@dataclass(frozen=True)
class StreamSettings:
    """One stream's settings, checked on construction (a one-line ValueError names the rule broken)."""

    window: int = DEFAULT_WINDOW  # T: samples the client keeps
    r: float = DEFAULT_R  # step ratio: a step is int(T r) samples
    w: int = DEFAULT_W  # write window, in steps after the playback position
    fade: float = DEFAULT_FADE  # crossfade lead-in in seconds

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"the window must be at least one sample, got {self.window}")
        check_r_and_w(self.r, self.w)
        if self.step < 1:
            raise ValueError(f"r={self.r} of a {self.window}-sample window is a step of {self.step} samples; "
                             "it must be at least 1")
        if 1 <= self.step < HOP:
            raise ValueError(f"r={self.r:g} of a {self.window}-sample window is a step of {self.step} samples, shorter than "
                             f"one latent frame ({HOP} samples, {1e3 * HOP / SAMPLE_RATE:.0f} ms): every step would "
                             "generate a whole frame for a fraction of it; choose a larger --r or --window")
        if not 0 <= self.fade <= 1:
            raise ValueError(f"the fade must be from 0 to 1 s, got {self.fade:g} s")
        self.check_fits(WINDOW_FRAMES, HOP)

    @property
    def step(self) -> int:
        """Samples per step: int(T r), as the Max external computes it."""
        return int(self.window * self.r)

    @property
    def fade_samples(self) -> int:
        return int(self.fade * SAMPLE_RATE)

    @property
    def step_budget_ms(self) -> float:
        """How long one step lasts in real time: the whole cycle must fit in it."""
        return 1e3 * self.step / SAMPLE_RATE

    @property
    def first_written(self) -> int:
        """The first content sample a stream writes: its first step comes at playback = step."""
        return (1 + self.w) * self.step

    @property
    def lookahead_seconds(self) -> float:
        """Net look-ahead w r T in seconds: how far ahead of playback a step's content starts."""
        return self.w * self.step / SAMPLE_RATE

    def check_fits(self, width: int, hop: int) -> None:
        """Refuse settings whose steps do not fit a model window of `width` columns of `hop` samples.

        Checked for every step of a client that advances the playback position by whole steps (as the
        Max external does): the worst grid alignment such positions reach must still fit the window.
        Positions k step put the content's end at every multiple of gcd(step, hop) modulo hop: up to
        hop - gcd samples short of the next column boundary, where the window must end.
        """
        span = max(self.w + 1, 1) * self.step + hop - math.gcd(self.step, hop)
        if span > width * hop:
            raise ValueError(
                f"a step of {self.step} samples (window {self.window}, r={self.r}) at w={self.w} does not fit the "
                f"model window of {width} columns ({width * hop} samples) at every grid alignment: it needs {span}"
            )

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser, *, r_and_w: bool = True) -> None:
        """--window and --fade, and unless `r_and_w` is False (a sweep defines its own) --r and --w."""
        parser.add_argument("--window", type=int, default=DEFAULT_WINDOW,
                            help=f"the client's window T in samples (default: {DEFAULT_WINDOW}, 6 s)")
        if r_and_w:
            parser.add_argument("--r", type=ratio, default=DEFAULT_R,
                                help=f"step ratio, a step is int(T r) samples; fractions allowed (default: {DEFAULT_R})")
            parser.add_argument("--w", type=int, default=DEFAULT_W, choices=VALID_W,
                                help=f"write window: -1 retrospective, 0 immediate, 1 one step ahead "
                                     f"(default: {DEFAULT_W})")
        parser.add_argument("--fade", type=float, default=DEFAULT_FADE,
                            help=f"crossfade lead-in in seconds (default: {DEFAULT_FADE})")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> StreamSettings:
        """The settings of parsed `add_arguments` flags."""
        return cls(args.window, args.r, args.w, args.fade)


def ratio(text: str) -> float:
    """An argparse type for r: a number or a fraction such as 1/16."""
    try:
        return float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a number or fraction: {text!r}") from None
