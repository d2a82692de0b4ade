"""Issue 5's whole path: render songs, read them back as Slakh, train-ready batches from audio and latents."""

from pathlib import Path

import numpy as np
import pytest

from jaxaccomp.codec.base import PAD
from jaxaccomp.constants import HOP
from jaxaccomp.codec.embedded import EmbeddedCodec
from jaxaccomp.data.latent_cache import LatentCache, build_cache
from jaxaccomp.data.pipeline import AudioWindows, LatentWindows, epoch_dataset
from jaxaccomp.data.render import DEFAULT_SOUNDFONT, render_dataset
from jaxaccomp.data.slakh import load_split
from latent_fixture import assert_window_latents

FRAMES = 16
WINDOW = HOP * FRAMES + PAD


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth not installed")
    if not Path(DEFAULT_SOUNDFONT).is_file():
        pytest.skip(f"{DEFAULT_SOUNDFONT} absent (Debian package fluid-soundfont-gm)")
    root = tmp_path_factory.mktemp("rendered")
    render_dataset(root, 3, "train", seed=5, workers=1, seconds=12.0)
    return root


def test_rendered_songs_read_back_as_four_stem_tracks(rendered):
    split = load_split(rendered, "train")
    assert len(split.tracks) == 3 and split.skipped == () and split.layout == "slakh"
    for track in split.tracks:
        stems = track.stems
        assert stems.shape == (4, track.length) and stems.dtype == np.float32
        assert np.all(np.sqrt(np.mean(stems**2, axis=1)) > 1e-3), "every class is rendered"


def test_audio_and_latent_batches_from_rendered_songs(rendered, tmp_path):
    split = load_split(rendered, "train")
    codec = EmbeddedCodec()
    audio = AudioWindows(split.tracks, WINDOW, frame_aligned=True)
    latent = LatentWindows(build_cache(split, codec, tmp_path / "cache"), FRAMES)
    assert len(audio) == len(latent) >= 6

    batches = list(epoch_dataset(audio, epoch=0, batch_size=2, seed=3, shard_index=0, shard_count=1))
    for batch in batches:
        assert batch["target"].shape == batch["context"].shape == (2, WINDOW)
        assert np.all(batch["label"].sum(axis=1) == 1)
    # The context is the mixture minus the target: check against a fresh read of the same stems.
    first = audio.item(0, seed=3, epoch=0)
    window = audio.plan.draw(0, np.random.default_rng([3, 0, 0]))
    stems = audio.tracks[window.track].read(window.start * HOP, WINDOW)
    np.testing.assert_allclose(first["context"], stems.sum(axis=0) - stems[window.stem], atol=1e-6)
    np.testing.assert_array_equal(first["target"], stems[window.stem])

    again = list(epoch_dataset(audio, epoch=0, batch_size=2, seed=3, shard_index=0, shard_count=1))
    np.testing.assert_array_equal(np.stack([b["target"] for b in batches]), np.stack([b["target"] for b in again]))
    # Sharding (disjoint, covering, per JAX process) is tested on the fixture in test_pipeline.py.

    for a, lat in zip(batches, epoch_dataset(latent, epoch=0, batch_size=2, seed=3, shard_index=0, shard_count=1)):
        assert_window_latents(lat["target"], codec.encode(a["target"]), atol=2e-2)  # float16 cache
        assert_window_latents(lat["context"], codec.encode(a["context"]), atol=2e-2)
    assert LatentCache(tmp_path / "cache", EmbeddedCodec.name).tracks[0].frames > FRAMES
