"""The latent cache: CLI writing and reading, stitching, accompaniment latents, codec checks, resuming,
and latent batches equal to encoding the audio pipeline's frame-aligned windows."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
from latent_fixture import assert_window_latents

from jaxaccomp.codec.base import PAD, num_frames
from jaxaccomp.constants import HOP
from jaxaccomp.codec import get_codec
from jaxaccomp.codec.embedded import EmbeddedCodec
from jaxaccomp.data.latent_cache import LatentCache, build_cache, chunk_plan, encode_long, main
from jaxaccomp.data.pipeline import AudioWindows, LatentWindows, epoch_dataset
from jaxaccomp.data.slakh import accompaniment, load_split

ATOL = 1e-4  # the embedded codec is deterministic; batch shape may change the last float bits, which
# standardisation scales by up to 1/std (about 3 for the pitch channels)


@pytest.fixture(scope="module")
def codec():
    return get_codec("embedded")  # what `--codec embedded` encodes with: the standardised embedded codec


@pytest.fixture(scope="module")
def split(slakh_root):
    return load_split(slakh_root, "train")


@pytest.fixture(scope="module")
def cache_dir(slakh_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache") / "train"
    assert main(["--data", str(slakh_root), "--split", "train", "--out", str(out), "--codec", "embedded",
                 "--dtype", "float32", "--chunk", "24", "--overlap", "6"]) == 0
    return out


def test_cli_writes_a_readable_cache(cache_dir, split):
    index = json.loads((cache_dir / "index.json").read_text())
    assert index["format"] == "jaxaccomp-latent-cache" and index["version"] == 1 and index["complete"]
    assert index["codec"] == EmbeddedCodec.name and index["is_pretrained"] is False
    assert index["source"]["split"] == "train" and len(index["source"]["skipped"]) == 2
    cache = LatentCache(cache_dir, EmbeddedCodec.name)
    assert [t.id for t in cache.tracks] == [t.id for t in split.tracks]
    for i, track in enumerate(split.tracks):
        frames = num_frames(track.length)
        assert cache.tracks[i].frames == frames
        assert cache.latents(i).shape == (2, 4, 64, frames) and cache.energy(i).shape == (2, 4, frames)


def test_cached_latents_equal_encoding_each_signal(cache_dir, split, codec):
    cache = LatentCache(cache_dir, codec)
    track = split.tracks[0]
    stems = track.stems
    latents = cache.latents(0)
    for k in range(4):
        np.testing.assert_allclose(latents[0, k], codec.encode(stems[k:k + 1])[0], atol=ATOL)
        np.testing.assert_allclose(latents[1, k], codec.encode(accompaniment(stems, k)[None])[0], atol=ATOL)
        frame = stems[k, 5 * HOP: 6 * HOP].astype(np.float64)
        np.testing.assert_allclose(cache.energy(0)[0, k, 5], np.mean(frame**2), rtol=1e-5)
    # the context latent is not the difference of latents: codecs are not linear
    mixture = codec.encode((stems[0] + stems[1] + stems[2] + stems[3])[None])[0]
    assert np.abs(latents[1, 0] - (mixture - latents[0, 0])).max() > 0.1


@pytest.mark.parametrize("frames,chunk,overlap", [(5, 8, 2), (8, 8, 2), (9, 8, 2), (100, 24, 6), (101, 64, 16)])
def test_chunk_plan_covers_once_with_margins(frames, chunk, overlap):
    plan = chunk_plan(frames, chunk, overlap)
    assert [keep for _, keep, _ in plan] == [0] + [end for _, _, end in plan[:-1]] and plan[-1][2] == frames
    for j, (start, keep, end) in enumerate(plan):
        assert 0 <= start and start + min(chunk, frames) <= frames and start <= keep < end
        assert j == 0 or keep - start >= overlap // 2
        assert j == len(plan) - 1 or start + chunk - end >= overlap // 2


def test_stitching_is_exact_for_a_frame_local_codec(split, codec):
    audio = split.tracks[1].read(0, 40 * HOP + PAD + 700)[[0, 2]]
    whole = codec.encode(audio)
    np.testing.assert_allclose(encode_long(codec, audio, chunk=7, overlap=2, batch=3), whole, atol=ATOL)
    with pytest.raises(ValueError, match="overlap must be in"):
        encode_long(codec, audio, chunk=4, overlap=4)


def test_latent_batches_equal_encoded_audio_batches(cache_dir, split, codec):
    frames = 16
    audio = AudioWindows(split.tracks, HOP * frames + PAD, frame_aligned=True)
    latent = LatentWindows(LatentCache(cache_dir, codec), frames)
    assert len(audio) == len(latent) > 4
    for epoch in (0, 1):
        a_batches = list(epoch_dataset(audio, epoch=epoch, batch_size=3, seed=11))
        l_batches = list(epoch_dataset(latent, epoch=epoch, batch_size=3, seed=11))
        assert len(a_batches) == len(l_batches) > 0
        for a, lat in zip(a_batches, l_batches):
            assert lat["target"].shape == lat["context"].shape == (3, 64, frames)
            np.testing.assert_array_equal(a["label"], lat["label"])
            assert_window_latents(lat["target"], codec.encode(a["target"]))
            assert_window_latents(lat["context"], codec.encode(a["context"]))


def test_silence_filter_agrees_between_audio_and_latents(cache_dir, split, codec):
    frames = 8
    audio = AudioWindows(split.tracks, HOP * frames + PAD, frame_aligned=True, min_rms=1e-3)
    latent = LatentWindows(LatentCache(cache_dir, codec), frames, min_rms=1e-3)
    for index in range(len(audio)):
        a, lat = audio.item(index, 0, 0), latent.item(index, 0, 0)
        np.testing.assert_array_equal(a["label"], lat["label"])
        assert_window_latents(lat["target"], codec.encode(a["target"][None])[0])


def test_default_float16_cache_is_compact_and_close(slakh_root, tmp_path, codec):
    split = load_split(slakh_root, "validation")
    cache = build_cache(split, codec, tmp_path / "val")
    assert cache.latents(0).dtype == np.float16
    stems = split.tracks[0].stems
    np.testing.assert_allclose(cache.latents(0)[0, 2].astype(np.float32), codec.encode(stems[2:3])[0], atol=5e-3, rtol=2e-3)


def test_int8_cache_is_half_of_float16_and_within_half_a_step(slakh_root, tmp_path, codec):
    split = load_split(slakh_root, "validation")
    exact = build_cache(split, codec, tmp_path / "f32", dtype="float32")
    small = build_cache(split, codec, tmp_path / "int8", dtype="int8")
    halves = build_cache(split, codec, tmp_path / "f16", dtype="float16")
    for track in range(len(split.tracks)):
        want, got = np.asarray(exact.latents(track)), small.latents(track)
        step = np.asarray(np.load(tmp_path / "int8" / f"{split.tracks[track].id}.scale.npy"))
        assert got.shape == want.shape and np.asarray(got).dtype == np.float32
        assert np.all(np.abs(np.asarray(got) - want) <= step / 2 + 1e-6)
        assert np.all(step <= np.abs(want).max(axis=-1, keepdims=True) / 127 + 1e-6)
        window = (slice(None), 2, slice(None), slice(3, 11))  # how LatentWindows reads one
        np.testing.assert_array_equal(got[window], np.asarray(got)[window])
        size = (tmp_path / "int8" / f"{split.tracks[track].id}.latents.npy").stat().st_size
        assert size < 0.51 * (tmp_path / "f16" / f"{split.tracks[track].id}.latents.npy").stat().st_size
    windows = LatentWindows(small, 8), LatentWindows(halves, 8)
    for index in range(len(windows[0])):
        a, b = (w.item(index, 0, 0) for w in windows)
        np.testing.assert_array_equal(a["label"], b["label"])
        np.testing.assert_allclose(a["target"], b["target"], atol=0.03)


def test_codec_mismatch_is_one_line_error(cache_dir):
    with pytest.raises(ValueError, match=rf"holds latents of codec '{EmbeddedCodec.name}' \(not pretrained\), not of 'music2latent'$"):
        LatentCache(cache_dir, "music2latent")

    class Pretrained(EmbeddedCodec):
        is_pretrained = True

    with pytest.raises(ValueError, match=rf"not of '{EmbeddedCodec.name}' \(pretrained\)"):
        LatentCache(cache_dir, Pretrained())
    with pytest.raises(FileNotFoundError, match="is not a latent cache"):
        LatentCache(cache_dir.parent, EmbeddedCodec.name)


def test_resume_and_refusals(slakh_root, tmp_path, codec):
    split = load_split(slakh_root, "validation")
    out = tmp_path / "cache"
    build_cache(split, codec, out, dtype="float32")
    written = (out / "Track01501.latents.npy").stat().st_mtime_ns
    index = json.loads((out / "index.json").read_text())
    (out / "index.json").write_text(json.dumps({**index, "complete": False}))
    with pytest.raises(ValueError, match="unfinished latent cache"):
        LatentCache(out)
    build_cache(split, codec, out, dtype="float32")  # resumes: the finished track is kept
    assert (out / "Track01501.latents.npy").stat().st_mtime_ns == written and LatentCache(out).tracks
    with pytest.raises(ValueError, match=r"other settings \(dtype\); choose another --out"):
        build_cache(split, codec, out, dtype="float16")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        build_cache(split, codec, tmp_path / "other")


def test_cache_pickles_without_open_arrays(cache_dir):
    cache = LatentCache(cache_dir)
    cache.latents(0)
    clone = pickle.loads(pickle.dumps(cache))
    assert clone._open == {} and np.array_equal(clone.latents(0), cache.latents(0))


def test_cli_errors_are_one_line(tmp_path):
    (tmp_path / "train").mkdir()
    result = subprocess.run([sys.executable, "-m", "jaxaccomp.data.latent_cache", "--data", str(tmp_path),
                             "--split", "train", "--out", str(tmp_path / "out"), "--codec", "embedded"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"error: no usable tracks in {tmp_path / 'train'} (0 skipped)"
