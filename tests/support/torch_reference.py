"""The torch reference for the SongUNet tests: physicsnemo networks and blocks with random weights,
those weights in our Flax modules, and comparisons whose failures name the layer that differs.

torch and physicsnemo are imported lazily, so importing this module costs nothing; a test module
that needs torch calls `pytest.importorskip("torch")` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxaccomp.config import UNetConfig
from jaxaccomp.convert.torch_weights import _BUFFER, _LEAF_TO_TORCH, _from_torch_layout, import_state_dict

# ---------------------------------------------------------------------------------------------
# Whole networks
# ---------------------------------------------------------------------------------------------


def randomize_(module, seed: int = 0):
    """Re-draw every parameter of a torch module at unit gain, in place; returns the module.

    The stock init scales conv1/proj/aux_conv by 1e-5; left that way a broken residual, attention
    or skip path could still "match", so every weight is re-drawn: matrices and kernels as
    N(0, 1/fan_in), GroupNorm scales as 1 + 0.1 N(0, 1), biases as 0.1 N(0, 1).
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.ndim > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float32).to(p.dtype) / np.sqrt(fan_in))
            elif name.endswith("weight"):  # GroupNorm scale
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen, dtype=torch.float32).to(p.dtype))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen, dtype=torch.float32).to(p.dtype))
    return module


def randomized_reference(config: UNetConfig, seed: int = 0):
    """A physicsnemo SongUNet (train mode, dropout 0: the reference's inference forward) whose every
    parameter carries signal (see `randomize_`)."""
    from jaxaccomp.convert.physicsnemo import build_physicsnemo_unet

    return randomize_(build_physicsnemo_unet(config), seed)


def convert_reference(config: UNetConfig, reference, dtype: jnp.dtype = jnp.float32):
    """Our Flax SongUNet holding the reference's weights, through the project's converter."""
    return import_state_dict(config, reference.state_dict(), dtype=dtype)


def reference_inputs(batch: int, seed: int = 0, resolution: int = 64):
    """(x NCHW [B, 2, R, R], noise labels [B], one-hot labels [B, 4]) as float32 numpy."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 2, resolution, resolution)).astype(np.float32)
    noise = (np.log(rng.uniform(1e-3, 80.0, batch)) / 4).astype(np.float32)
    labels = np.eye(4, dtype=np.float32)[rng.integers(0, 4, batch)]
    return x, noise, labels


def nchw_to_nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x).transpose(0, 2, 3, 1))


def nhwc_to_nchw(x) -> np.ndarray:
    return np.asarray(x).transpose(0, 3, 1, 2)


def run_reference(reference, x: np.ndarray, noise: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The torch network's output for NCHW numpy inputs, as NCHW numpy."""
    import torch

    with torch.inference_mode():
        return reference(torch.from_numpy(x), torch.from_numpy(noise), torch.from_numpy(labels)).numpy()


def run_flax(net, x: np.ndarray, noise: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Our jitted network's output for the same NCHW inputs, as NCHW numpy."""
    return nhwc_to_nchw(jax.jit(lambda m, *a: m(*a))(net, nchw_to_nhwc(x), noise, labels))


def compare_network(config: UNetConfig, batch: int, seed: int = 0) -> float:
    """Max |Flax - torch| over the output of a randomized reference network and its conversion."""
    reference = randomized_reference(config, seed)
    ours = convert_reference(config, reference)
    x, noise, labels = reference_inputs(batch, seed)
    expected = run_reference(reference, x, noise, labels)
    actual = run_flax(ours, x, noise, labels)
    assert actual.shape == expected.shape == (batch, config.out_channels, config.img_resolution, config.img_resolution)
    assert np.abs(expected).max() > 0.1, "reference output too small for the comparison to mean anything"
    return float(np.abs(actual - expected).max())


# ---------------------------------------------------------------------------------------------
# Single blocks
# ---------------------------------------------------------------------------------------------


def load_block_weights(flax_module: nnx.Module, torch_module) -> None:
    """Copy a torch block's parameters into the same-named Flax block, in place.

    Uses the converter's per-parameter rule (kernel/scale -> weight; OIHW -> HWIO, (out, in) -> (in, out));
    keeps the torch dtype, so a float64 torch block fills a float64 Flax block (under `jax.enable_x64`).
    A torch parameter without a Flax counterpart, or the reverse, or a shape mismatch, is an error.
    """
    weights = {k: v for k, v in torch_module.state_dict().items() if not _BUFFER.search(k)}
    filled, problems = [], []
    for path, variable in nnx.to_flat_state(nnx.state(flax_module, nnx.Param)):
        key = ".".join([*(str(p) for p in path[:-1]), _LEAF_TO_TORCH[path[-1]]])
        if key not in weights:
            problems.append(f"missing {key}")
            continue
        value = _from_torch_layout(weights.pop(key).detach().cpu().numpy())
        if value.shape != variable.get_value().shape:
            problems.append(f"{key} {value.shape} != {variable.get_value().shape}")
            continue
        filled.append((path, variable.replace(jnp.asarray(value))))
    problems += [f"unexpected {k}" for k in sorted(weights)]
    assert not problems, f"{type(torch_module).__name__} -> {type(flax_module).__name__}: {'; '.join(problems)}"
    nnx.update(flax_module, nnx.from_flat_state(filled))


def max_error(actual, expected) -> tuple[float, float]:
    """(max |actual - expected|, max |expected|) in float64."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != torch {expected.shape}"
    return float(np.abs(actual - expected).max()), float(np.abs(expected).max())


def assert_layer_close(layer: str, actual, expected, *, atol: float, rtol: float) -> None:
    """Assert max |actual - expected| <= atol + rtol * max |expected|; the message names the layer."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{layer}: Flax shape {actual.shape} != torch shape {expected.shape}"
    error, scale = max_error(actual, expected)
    assert np.isfinite(error), f"{layer}: non-finite output"
    limit = atol + rtol * scale
    assert error <= limit, f"{layer}: max |flax - torch| = {error:.3e} > {limit:.1e} (max |torch| = {scale:.3g})"


# ---------------------------------------------------------------------------------------------
# Layer-by-layer walks
# ---------------------------------------------------------------------------------------------


def torch_layer_outputs(module, *inputs: Any) -> dict[str, Any]:
    """Every named sub-module's output (and "" for the whole module), in the order they finished.

    Outputs are cloned as they are produced: the reference adds into some of them in place later
    (conv0's output receives the affine term, conv1's the skip).
    """
    import torch

    outputs: dict[str, Any] = {}

    def record(name: str) -> Callable:
        def hook(_module, _inputs, output):
            assert name not in outputs, f"{name} ran twice; the walk assumes one call per layer"
            outputs[name] = output.detach().clone()

        return hook

    handles = [m.register_forward_hook(record(name)) for name, m in module.named_modules()]
    try:
        with torch.inference_mode():
            module(*(torch.from_numpy(np.asarray(a)) for a in inputs))
    finally:
        for handle in handles:
            handle.remove()
    return outputs


def flax_layer_outputs(module: nnx.Module, *inputs: Any) -> dict[tuple, Any]:
    """Every sub-module method's output, keyed by module path + method name (nnx.capture)."""
    _, captured = nnx.capture(module, nnx.Intermediate, method_outputs=nnx.Intermediate)(*inputs)
    out = {}
    for path, variable in nnx.to_flat_state(captured):
        values = variable.get_value()
        assert len(values) == 1, f"{path} ran {len(values)} times; the walk assumes one call per layer"
        out[tuple(path)] = values[0]
    return out


def first_mismatches(
    pairs: Iterable[tuple[str, Any, Any]], *, atol: float, rtol: float
) -> list[tuple[str, float, float]]:
    """(layer, max error, limit) for each (layer, flax, torch) pair beyond atol + rtol * max |torch|, in order."""
    bad = []
    for layer, actual, expected in pairs:
        error, scale = max_error(actual, expected)
        limit = atol + rtol * scale
        if not error <= limit:  # NaN counts as a mismatch
            bad.append((layer, error, limit))
    return bad
