"""Fake Predictors for the streaming engine: what a plain generator carries, and one that records."""

from __future__ import annotations

import numpy as np


class FakePredictor:
    """The settings a Predictor (`jaxaccomp.streaming.generator`) carries, as a plain one has them: a
    64-column window, the context as played (no continuation), notes as generated, no make-up gain and
    no voicing stretch. Subclasses answer `__call__(plan, source, context, labels, key)`."""

    width = 64
    continues_context = False
    tuning = "off"
    makeup_gain_db: dict = {}
    voicing_stretch: dict = {}


class Recorder(FakePredictor):
    """Plays silence and keeps each step's plan and the context latents the engine showed it."""

    def __init__(self, continues_context: bool = False):
        self.continues_context = continues_context
        self.seen: list[tuple[object, np.ndarray]] = []

    def __call__(self, plan, source, context, labels, key):
        self.seen.append((plan, np.array(context)))
        return np.zeros_like(source)
