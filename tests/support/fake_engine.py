"""One scripted stand-in for the streaming engine, for tests of the server session and the client.

It records every step it is asked for and "generates" audio a test can trace back: with
`step_numbers` each reply is the number of the step that made it, with `timeline_positions` each
sample is its own absolute timeline position (exact in float32 up to 2^24), so audio written in the
wrong place shows up as a wrong number.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jaxaccomp.server.session import Settings
from jaxaccomp.streaming.engine import StepResult
from jaxaccomp.streaming.timeline import StepPlan, plan_step

Fill = Callable[[StepPlan, int], np.ndarray]  # (the step's plan, how many steps so far) -> its audio


def step_numbers(plan: StepPlan, steps: int) -> np.ndarray:
    return np.full(plan.length, steps, np.float32)


def timeline_positions(plan: StepPlan, steps: int) -> np.ndarray:
    return np.arange(plan.write_start, plan.write_start + plan.length, dtype=np.float32)


class ScriptedEngine:
    """Plans each step as the real engine does and answers every stem with `fill`'s audio."""

    TIMINGS = {"encode_ms": 1.0, "sample_ms": 2.0, "decode_ms": 3.0}

    def __init__(self, settings: Settings, fill: Fill = step_numbers):
        self.settings, self.fill = settings, fill
        self.step_size = settings.stream.step
        self.calls: list[tuple[np.ndarray, int]] = []  # (the audio it was given, the playback position)

    @property
    def ends(self) -> list[int]:
        """The playback positions it was stepped to."""
        return [end for _, end in self.calls]

    def step(self, audio: np.ndarray, end: int | None = None) -> StepResult:
        assert audio.shape == (self.step_size,) and end is not None
        self.calls.append((audio.copy(), end))
        stream = self.settings.stream
        plan = plan_step(end, self.step_size, stream.w, stream.fade_samples)
        out = self.fill(plan, len(self.calls))
        return StepResult(plan.write_start, {stem: out for stem in self.settings.stems}, dict(self.TIMINGS), plan, 0)


class EngineRecorder:
    """An engine factory for a Session that keeps every engine it made (the latest is the live one)."""

    def __init__(self, fill: Fill = step_numbers):
        self.fill = fill
        self.engines: list[ScriptedEngine] = []

    def __call__(self, settings: Settings) -> ScriptedEngine:
        self.engines.append(ScriptedEngine(settings, self.fill))
        return self.engines[-1]
