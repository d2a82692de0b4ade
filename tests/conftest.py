"""Shared fixtures (the torch reference helpers are in tests/support/torch_reference.py)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

# As serve.py does (jaxaccomp/server/cli.py): one BLAS thread beside XLA's pool, or on a busy 2-core
# machine the in-process servers of the live tests decode 25x slower and drop real-time batches.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Compiled programs go to a throw-away cache shared by this run and its subprocesses, never the user's.
_COMPILE_CACHE = tempfile.mkdtemp(prefix="jaxaccomp-test-xla-")
os.environ["JAXACCOMP_COMPILE_CACHE"] = _COMPILE_CACHE
atexit.register(shutil.rmtree, _COMPILE_CACHE, ignore_errors=True)

import pytest  # noqa: E402 - after the settings above, which the imports below read

# Fixtures every test module may ask for by name: `slakh_root` (a tiny Slakh2100 copy) and `server`
# (a recording serve.py server for the C++ clients).
pytest_plugins = ["tests.support.slakh", "tests.support.max_server"]


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


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, tiny_net):
    """Two rendered test songs (seed 6 composes 8.2 s and 9.0 s: whole sections) and two tiny
    random-weight checkpoints (diffusion and consistency): `data/`, `edm/` and `cd/` of one folder."""
    pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth not installed")
    from jaxaccomp.codec.embedded import EmbeddedCodec
    from jaxaccomp.data.render import DEFAULT_SOUNDFONT, render_dataset
    from jaxaccomp.nn.precond import Denoiser
    from jaxaccomp.nn.checkpoint import save_denoiser

    if not Path(DEFAULT_SOUNDFONT).is_file():
        pytest.skip(f"{DEFAULT_SOUNDFONT} absent (Debian package fluid-soundfont-gm)")
    root = tmp_path_factory.mktemp("eval")
    render_dataset(root / "data", 2, "test", seed=6, workers=1, seconds=6.0)
    save_denoiser(root / "edm", Denoiser(tiny_net), codec=EmbeddedCodec.name)
    save_denoiser(root / "cd", Denoiser(tiny_net, mode="consistency"), codec=EmbeddedCodec.name)
    return root
