"""`--dtype bfloat16`: the network computes in bfloat16, everything else stays float32, and one served
prediction stays within a few percent of float32 (the figures: docs/benchmarks.md, Precision)."""

import jax.numpy as jnp
import pytest

from jaxaccomp.bench import precision
from jaxaccomp.runtime import Runtime
from jaxaccomp.streaming.models import load_model


def test_load_model_computes_in_the_runtime_dtype_and_says_so():
    _, generator = load_model(None, "diffusion", None, None, Runtime(dtype="bfloat16"))
    assert generator.dtype == jnp.bfloat16
    assert generator.describe().endswith("cpu, bfloat16 compute, float32 weights")
    _, generator = load_model(None, "diffusion", None, None)
    assert generator.describe() == "cpu, float32 weights"


@pytest.mark.parametrize("model", ["small", "frames_edm"])
def test_bfloat16_stays_close_to_float32_on_one_prediction(model):
    row = precision.compare(model)
    errors = [value for key, value in row.items() if key.startswith("denoiser_") or key == "prediction"]
    assert all(1e-4 < error < 0.05 for error in errors), row  # different (bf16 really ran), and close
