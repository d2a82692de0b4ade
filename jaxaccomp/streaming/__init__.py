"""Streaming: the absolute-timeline step planner, the compiled model call and the sliding-window engine."""

from jaxaccomp.streaming.engine import StepResult, StreamingEngine
from jaxaccomp.streaming.generator import Generator, Predictor
from jaxaccomp.streaming.timeline import StepPlan, plan_step

__all__ = ["Generator", "Predictor", "StepPlan", "StepResult", "StreamingEngine", "plan_step"]
