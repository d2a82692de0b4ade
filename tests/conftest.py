"""Shared test helpers: random torch reference networks and NCHW <-> NHWC plumbing."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# As serve.py does (jaxaccomp/server/cli.py): one BLAS thread beside XLA's pool, or on a busy 2-core
# machine the in-process servers of the live tests decode 25x slower and drop real-time batches.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Compiled programs go to a throw-away cache shared by this run and its subprocesses, never the user's.
_COMPILE_CACHE = tempfile.mkdtemp(prefix="jaxaccomp-test-xla-")
os.environ["JAXACCOMP_COMPILE_CACHE"] = _COMPILE_CACHE
atexit.register(shutil.rmtree, _COMPILE_CACHE, ignore_errors=True)

import numpy as np  # noqa: E402 - after the BLAS setting, which numpy reads when it loads
import pytest

from jaxaccomp.config import UNetConfig


def randomized_reference(config: UNetConfig, seed: int = 0):
    """A physicsnemo SongUNet whose every parameter carries signal.

    The stock init scales conv1/proj/aux_conv by 1e-5; left that way a broken residual, attention
    or skip path could still "match", so every weight is re-drawn at unit gain.
    """
    torch = pytest.importorskip("torch")
    from jaxaccomp.convert.physicsnemo import build_physicsnemo_unet

    net = build_physicsnemo_unet(config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.ndim > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / np.sqrt(fan_in))
            elif name.endswith("weight"):  # GroupNorm scale
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
    return net


def reference_inputs(batch: int, seed: int = 0, resolution: int = 64):
    """(x NCHW [B, 2, R, R], noise labels [B], one-hot labels [B, 4]) as float32 numpy."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 2, resolution, resolution)).astype(np.float32)
    noise = (np.log(rng.uniform(1e-3, 80.0, batch)) / 4).astype(np.float32)
    labels = np.eye(4, dtype=np.float32)[rng.integers(0, 4, batch)]
    return x, noise, labels


def nchw_to_nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def nhwc_to_nchw(x) -> np.ndarray:
    return np.asarray(x).transpose(0, 3, 1, 2)


@pytest.fixture(scope="session")
def tiny_net():
    """One randomly initialised `tiny` SongUNet per session (eager NNX init costs seconds); clone to modify."""
    from flax import nnx

    from jaxaccomp.config import preset
    from jaxaccomp.nn.songunet import SongUNet

    return SongUNet(preset("tiny"), rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def fast_compile():
    """Compile train steps at XLA optimisation level 0: a third of the compile time, about half the speed."""
    from jaxaccomp.training import state

    saved = dict(state.COMPILER_OPTIONS)
    state.COMPILER_OPTIONS.update(xla_backend_optimization_level=0)
    yield
    state.COMPILER_OPTIONS.clear()
    state.COMPILER_OPTIONS.update(saved)


@pytest.fixture(scope="module")
def latent_caches(tmp_path_factory):
    """(train, validation) latent caches: 4 tracks x 48 frames = 12 windows of 16 = 3 batches of 4 per
    epoch, so 8 steps cross two epochs; 2 validation tracks of 32 frames."""
    from latent_fixture import write_cache

    root = tmp_path_factory.mktemp("caches")
    return write_cache(root / "train", 4, 48, seed=0), write_cache(root / "val", 2, 32, seed=1)
