"""Training items and grain pipelines: shapes, one-hot labels, context = mixture - target,
determinism per seed and epoch, disjoint covering shards, workers, silence filter."""

from __future__ import annotations

import numpy as np
import pytest
from tests.support.slakh import SR

from jaxaccomp.constants import HOP
from jaxaccomp.data.pipeline import AudioWindows, WindowPlan, WindowSource, epoch_dataset, iterate, run_dataset
from jaxaccomp.data.slakh import load_split

SMALL = 8 * HOP + 1536  # 8 latent frames: ~28 items per epoch of the fixture


@pytest.fixture(scope="module")
def tracks(slakh_root):
    return load_split(slakh_root, "train").tracks


def as_list(dataset) -> list[dict]:
    return [dataset[i] for i in range(len(dataset))]


def assert_same_batches(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])


def test_default_items_shapes_and_labels(tracks):
    source = AudioWindows(tracks)
    assert len(source) == (12 + 10) * SR // 264600
    batches = as_list(epoch_dataset(source, epoch=0, batch_size=2, seed=0))
    assert len(batches) == 1
    batch = batches[0]
    assert batch["target"].shape == batch["context"].shape == (2, 264600)
    assert batch["target"].dtype == batch["context"].dtype == batch["label"].dtype == np.float32
    assert batch["label"].shape == (2, 4)
    assert np.all(batch["label"].sum(axis=1) == 1) and set(np.unique(batch["label"])) <= {0.0, 1.0}


def test_context_is_mixture_minus_target(tracks):
    source = AudioWindows(tracks, SMALL)
    for index in range(6):
        item = source.item(index, seed=3, epoch=1)
        window = source.plan.draw(index, np.random.default_rng([3, 1, index]))  # the same draw
        stems = tracks[window.track].read(window.start, SMALL)
        assert np.argmax(item["label"]) == window.stem
        np.testing.assert_array_equal(item["target"], stems[window.stem])
        np.testing.assert_array_equal(item["context"], stems.sum(axis=0) - stems[window.stem])
        others = np.delete(stems, window.stem, axis=0).sum(axis=0)
        np.testing.assert_allclose(item["context"], others, atol=1e-6)


def test_window_plan_matches_reference_sampling():
    plan = WindowPlan([100, 50, 70], window=40, shift=True)
    assert len(plan) == 220 // 40
    rng = np.random.default_rng(0)
    for index in range(len(plan)):
        for _ in range(50):
            w = plan.draw(index, rng)
            assert 0 <= w.start <= plan.lengths[w.track] - 40 and 0 <= w.stem < 4
            begin = plan.offsets[w.track] + w.start
            assert abs(begin - index * 40) <= 20 + 40  # shifted by < T/2, pushed back by < T/2
    fixed = WindowPlan([100, 50, 70], window=40, shift=False)
    assert [(w.track, w.start) for w in (fixed.draw(i, rng) for i in range(5))] == [
        (0, 0), (0, 40), (1, 0), (1, 10), (2, 10)]  # by midpoint (20, 60, 100, 140, 180), clamped inside
    with pytest.raises(ValueError, match="at least one window"):
        WindowPlan([30], window=40)


def test_determinism_per_seed_and_epoch(tracks):
    source = AudioWindows(tracks, SMALL)
    run = lambda seed, epoch: as_list(epoch_dataset(source, epoch=epoch, batch_size=4, seed=seed))  # noqa: E731
    first = run(0, 0)
    assert_same_batches(first, run(0, 0))
    assert_same_batches(first, list(iterate(epoch_dataset(source, epoch=0, batch_size=4, seed=0))))
    for other in (run(0, 1), run(1, 0)):
        assert not all(np.array_equal(a["target"], b["target"]) for a, b in zip(first, other))


class IndexSource(WindowSource):
    """Items that are their own window index, to check which indices each shard sees."""

    def __init__(self, n: int) -> None:
        self.plan = WindowPlan([n], 1)

    def item(self, index: int, seed: int, epoch: int) -> dict:
        return {"index": np.int64(index)}


@pytest.mark.parametrize("count", [1, 3, 4])
def test_shards_are_disjoint_and_cover_the_epoch(count):
    source = IndexSource(50)
    shards = [np.concatenate([b["index"] for b in as_list(epoch_dataset(
        source, epoch=2, batch_size=4, seed=0, shard_index=i, shard_count=count, drop_remainder=False))])
        for i in range(count)]
    every = np.concatenate(shards)
    assert sorted(every) == list(range(50))  # disjoint and covering
    even = [len(epoch_dataset(source, epoch=2, batch_size=4, shard_index=i, shard_count=count)) for i in range(count)]
    assert len(set(even)) == 1 and even[0] == 50 // count // 4  # equal full batches per shard
    with pytest.raises(ValueError, match="shard index 3 is not in"):
        epoch_dataset(source, epoch=0, batch_size=1, shard_index=3, shard_count=3)


def test_default_shard_is_the_jax_process(tracks):
    source = IndexSource(20)
    default = as_list(epoch_dataset(source, epoch=0, batch_size=2))
    assert_same_batches(default, as_list(epoch_dataset(source, epoch=0, batch_size=2, shard_index=0, shard_count=1)))


def test_items_do_not_depend_on_sharding(tracks):
    source = AudioWindows(tracks, SMALL)
    key = lambda b: (b["target"].tobytes(), b["context"].tobytes(), b["label"].tobytes())  # noqa: E731
    whole = {key(b) for b in as_list(epoch_dataset(source, epoch=0, batch_size=1, seed=5))}
    shard = as_list(epoch_dataset(source, epoch=0, batch_size=1, seed=5, shard_index=1, shard_count=2))
    assert shard and all(key(b) in whole for b in shard)


def test_workers_give_the_same_batches(tracks):
    source = AudioWindows(tracks, SMALL)
    plain = list(iterate(epoch_dataset(source, epoch=1, batch_size=4, seed=7)))
    batches = iterate(epoch_dataset(source, epoch=1, batch_size=4, seed=7), num_workers=2)
    iterator = iter(batches)
    workers = list(iterator)
    del iterator
    assert_same_batches(plain, workers)


def test_a_run_is_its_epochs_end_to_end_in_every_shard(tracks):
    source = AudioWindows(tracks, SMALL)
    for index, count in ((0, 1), (1, 2)):
        shard = dict(shard_index=index, shard_count=count)
        epochs = [b for e in (2, 3, 4) for b in as_list(epoch_dataset(source, epoch=e, batch_size=3, seed=7, **shard))]
        run = run_dataset(source, first_epoch=2, epochs=3, batch_size=3, seed=7, **shard)
        assert len(epochs) >= 6
        assert_same_batches(epochs, as_list(run))
    assert not len(run_dataset(source, first_epoch=0, epochs=0, batch_size=3))
    with pytest.raises(ValueError, match="epochs >= 0"):
        run_dataset(source, first_epoch=0, epochs=-1, batch_size=3)


def test_workers_serve_a_run_across_epochs(tracks):
    source = AudioWindows(tracks, SMALL)
    run = run_dataset(source, first_epoch=1, epochs=3, batch_size=4, seed=7)
    iterator = iter(iterate(run[2:], num_workers=2))
    workers = list(iterator)
    del iterator
    assert_same_batches(as_list(run)[2:], workers)


def test_frame_aligned_windows(tracks):
    source = AudioWindows(tracks, SMALL + 500, frame_aligned=True)
    assert source.plan.window == 8 and source.plan.lengths.tolist() == [(t.length - 1536) // HOP for t in tracks]
    rng = np.random.default_rng(0)
    assert all(source.plan.draw(i, rng).start * source.unit % HOP == 0 for i in range(len(source)))
    assert source.item(0, 0, 0)["target"].shape == (SMALL + 500,)


def test_silence_filter(tracks):
    rms = lambda x: np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=-1))  # noqa: E731
    plain, filtered = AudioWindows(tracks, SMALL), AudioWindows(tracks, SMALL, min_rms=1e-3)
    quiet = sum(int((rms(b["target"]) < 1e-3).sum()) for e in range(3)
                for b in as_list(epoch_dataset(plain, epoch=e, batch_size=1)))
    assert quiet > 0  # the reference trains on silent targets (Track00002 has no piano)
    for e in range(3):
        for batch in as_list(epoch_dataset(filtered, epoch=e, batch_size=1)):
            assert rms(batch["target"]).min() >= 1e-3 and rms(batch["context"]).min() >= 1e-3


def test_no_track_holds_a_window(tracks):
    with pytest.raises(ValueError, match="no tracks hold a whole window"):
        AudioWindows(tracks, 20 * SR)
