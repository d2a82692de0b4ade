"""Training items and grain pipelines: a random window, a random target stem, the other stems as context.

Sampling follows the reference (`TracksDataset`): the usable tracks are laid end to end on one
virtual timeline; an epoch has floor(total / window) items; item i starts at i * window plus a shift
drawn from U{-window/2, ..., window/2 - 1}, belongs to the track holding its midpoint, and is pushed
back inside that track if it overflows. The target stem is uniform over the four stems, even when it
is silent (the reference filters nothing); an optional RMS filter (`min_rms`) redraws the window at a
uniform position in the same track and the stem, up to `max_tries` times, while target or context is
quieter than the threshold (the last draw is kept, so an epoch always has the same number of items).

Every random choice comes from numpy's generator seeded by (seed, epoch, window index): an item does
not depend on the shuffle, on sharding or on worker count, the same seed and epoch give the same
batches, and another epoch gives another shuffle, shifts and stems.

Two item sources share that sampling. `AudioWindows` reads audio items
{"target": [T], "context": [T], "label": [4]}; with `frame_aligned=True` positions are counted in
4096-sample latent frames, so the same seed picks the same windows as `LatentWindows`, which serves
{"target": [64, W], "context": [64, W], "label": [4]} from a latent cache (`data.latent_cache`), and
with `rollouts` the target stem's free-running model output "rollout": [64, W] (`data.rollouts`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from jaxaccomp.codec.base import num_frames
from jaxaccomp.constants import HOP, STEMS, WINDOW_FRAMES
from jaxaccomp.data.slakh import Track, accompaniment
from jaxaccomp.stream_settings import DEFAULT_WINDOW

if TYPE_CHECKING:
    import grain

    from jaxaccomp.data.latent_cache import LatentCache

log = logging.getLogger("jaxaccomp.data")

LABELS = np.eye(len(STEMS), dtype=np.float32)
Item = dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Window:
    track: int
    start: int  # in the plan's units (samples or latent frames)
    stem: int


class WindowPlan:
    """The reference's window sampling over tracks of `lengths` units laid end to end."""

    def __init__(self, lengths: Sequence[int], window: int, shift: bool = True) -> None:
        self.lengths = np.asarray(lengths, np.int64)
        self.window = int(window)
        self.shift = shift
        if self.window < 1 or not len(self.lengths) or self.lengths.min() < self.window:
            raise ValueError("every track must hold at least one window of at least one unit")
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])

    def __len__(self) -> int:
        return int(self.offsets[-1] // self.window)

    def draw(self, index: int, rng: np.random.Generator) -> Window:
        """Item `index`: shifted by up to half a window, in the track of its midpoint, kept inside it."""
        half = self.window // 2
        shift = int(rng.integers(-half, half)) if self.shift and half else 0
        begin = index * self.window + shift
        track = int(np.searchsorted(self.offsets, begin + half, side="right")) - 1
        track = min(max(track, 0), len(self.lengths) - 1)
        start = min(max(begin - int(self.offsets[track]), 0), int(self.lengths[track]) - self.window)
        return Window(track, start, int(rng.integers(len(STEMS))))

    def redraw(self, track: int, rng: np.random.Generator) -> Window:
        """A uniformly placed window and stem in the same track (the silence filter's retry)."""
        start = int(rng.integers(int(self.lengths[track]) - self.window + 1))
        return Window(track, start, int(rng.integers(len(STEMS))))


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


class WindowSource:
    """Random-access training items: `item(index, seed, epoch)`; subclasses say how a window loads."""

    plan: WindowPlan
    min_rms: float | None = None
    max_tries: int = 10

    def __len__(self) -> int:
        return len(self.plan)

    def item(self, index: int, seed: int, epoch: int) -> Item:
        if seed < 0 or epoch < 0:
            raise ValueError(f"seed and epoch must be >= 0, got {seed} and {epoch}")
        rng = np.random.default_rng([seed, epoch, index])
        window = self.plan.draw(index, rng)
        item, loudness = self.load(window)
        for _ in range(self.max_tries - 1):
            if self.min_rms is None or min(loudness) >= self.min_rms:
                break
            window = self.plan.redraw(window.track, rng)
            item, loudness = self.load(window)
        return item

    def load(self, window: Window) -> tuple[Item, tuple[float, float]]:
        """The item of `window` and the (target, context) RMS the silence filter checks."""
        raise NotImplementedError


def _keep_long(count: int, lengths: Sequence[int], window: int, what: str) -> list[int]:
    keep = [i for i, length in enumerate(lengths) if length >= window]
    if len(keep) < count:
        log.warning("%d of %d %s are shorter than one window and are not used", count - len(keep), count, what)
    if not keep:
        raise ValueError(f"no {what} hold a whole window of {window}")
    return keep


class AudioWindows(WindowSource):
    """Audio items from Slakh tracks: {"target": [T], "context": [T] = mixture - target, "label": [4]}.

    `frame_aligned` puts window starts on the 4096-sample latent grid and counts track lengths in
    latent frames, so windows coincide with `LatentWindows` over a cache of the same tracks; the
    silence filter then measures the 4096 * num_frames(T) samples the codec encodes.
    """

    def __init__(self, tracks: Sequence[Track], window: int = DEFAULT_WINDOW, *, shift: bool = True,
                 frame_aligned: bool = False, min_rms: float | None = None, max_tries: int = 10) -> None:
        self.unit = HOP if frame_aligned else 1
        units = (lambda samples: num_frames(samples)) if frame_aligned else (lambda samples: samples)
        if units(window) < 1:
            raise ValueError(f"a window of {window} samples holds no whole latent frame")
        lengths = [units(track.length) for track in tracks]
        keep = _keep_long(len(tracks), lengths, units(window), "tracks")
        self.tracks = [tracks[i] for i in keep]
        self.window = window
        self.plan = WindowPlan([lengths[i] for i in keep], units(window), shift)
        self.min_rms, self.max_tries = min_rms, max_tries

    def load(self, window: Window) -> tuple[Item, tuple[float, float]]:
        stems = self.tracks[window.track].read(window.start * self.unit, self.window)
        target, context = stems[window.stem], accompaniment(stems, window.stem)
        measured = self.plan.window * self.unit
        item = {"target": target, "context": context, "label": LABELS[window.stem]}
        return item, (_rms(target[:measured]), _rms(context[:measured]))


class LatentWindows(WindowSource):
    """Latent items from a cache: {"target": [64, W], "context": [64, W], "label": [4]} on the frame grid.

    The context is the cached encoding of the mixture minus the target stem (codecs are not linear,
    so it is not the difference of latents). The silence filter uses the cached per-frame energies,
    which measure the same samples as `AudioWindows(frame_aligned=True)`.
    """

    def __init__(self, cache: LatentCache, window: int = WINDOW_FRAMES, *, shift: bool = True,
                 min_rms: float | None = None, max_tries: int = 10, rollouts: bool = False) -> None:
        lengths = [track.frames for track in cache.tracks]
        self.indices = _keep_long(len(lengths), lengths, window, "cached tracks")
        self.cache = cache
        self.plan = WindowPlan([lengths[i] for i in self.indices], window, shift)
        self.min_rms, self.max_tries = min_rms, max_tries
        self.rollouts = rollouts
        if rollouts:
            for track in self.indices:
                cache.rollout(track)  # every one is there, or a one-line error now

    def load(self, window: Window) -> tuple[Item, tuple[float, float]]:
        track = self.indices[window.track]
        frames = slice(window.start, window.start + self.plan.window)
        latents = self.cache.latents(track)[:, window.stem, :, frames].astype(np.float32)  # [2, 64, W]
        energy = self.cache.energy(track)[:, window.stem, frames].astype(np.float64)  # [2, W]
        item = {"target": latents[0], "context": latents[1], "label": LABELS[window.stem]}
        if self.rollouts:
            item["rollout"] = self.cache.rollout(track)[window.stem, :, frames].astype(np.float32)
        target_rms, context_rms = np.sqrt(energy.mean(axis=1))
        return item, (float(target_rms), float(context_rms))


class _MakeItem:
    """Picklable index -> item map (grain workers are spawned and unpickle it)."""

    def __init__(self, source: WindowSource, seed: int, epoch: int) -> None:
        self.source, self.seed, self.epoch = source, seed, epoch

    def __call__(self, index: int) -> Item:
        return self.source.item(int(index), self.seed, self.epoch)


def _shard(shard_index: int | None, shard_count: int | None) -> tuple[int, int]:
    if shard_index is None or shard_count is None:
        import jax

        shard_index = jax.process_index() if shard_index is None else shard_index
        shard_count = jax.process_count() if shard_count is None else shard_count
    if not 0 <= shard_index < shard_count:
        raise ValueError(f"shard index {shard_index} is not in [0, {shard_count})")
    return shard_index, shard_count


def epoch_dataset(source: WindowSource, *, epoch: int, batch_size: int, seed: int = 0,
                  shard_index: int | None = None, shard_count: int | None = None,
                  drop_remainder: bool = True) -> grain.MapDataset:
    """One epoch of batches for this shard, as a random-access grain dataset.

    The epoch's window indices are shuffled (seeded by seed and epoch) and dealt round-robin to
    `shard_count` shards (default: one per JAX process), so shards are disjoint and together cover
    the epoch. With `drop_remainder` every shard gets the same number of full batches (SPMD steps
    stay in lockstep), dropping fewer than shard_count * batch_size items of the epoch.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    index, count = _shard(shard_index, shard_count)
    shard = _epoch_order(len(source), seed, epoch, index, count)
    if drop_remainder:
        shard = shard[: _epoch_items(len(source), batch_size, count)]
    return shard.map(_MakeItem(source, seed, epoch)).batch(batch_size, drop_remainder=drop_remainder)


def run_dataset(source: WindowSource, *, first_epoch: int, epochs: int, batch_size: int, seed: int = 0,
                shard_index: int | None = None, shard_count: int | None = None) -> grain.MapDataset:
    """Epochs first_epoch, first_epoch + 1, ... end to end: the batches of `epoch_dataset` for each in turn.

    One dataset for a whole run, so `iterate`'s worker processes start once instead of once per
    epoch: a small cache at a large batch is a few batches an epoch, and respawning workers then
    costs more than the batches do.
    """
    if batch_size < 1 or epochs < 0 or first_epoch < 0:
        raise ValueError(f"need batch size >= 1, epochs >= 0 and first epoch >= 0, got {batch_size}, {epochs}, {first_epoch}")
    import grain

    index, count = _shard(shard_index, shard_count)
    per_epoch = _epoch_items(len(source), batch_size, count)
    items = _RunItems(source, seed, first_epoch, per_epoch, index, count)
    return grain.MapDataset.range(epochs * per_epoch).map(items).batch(batch_size, drop_remainder=True)


@functools.lru_cache(maxsize=8)  # a run's workers read a few neighbouring epochs at a time
def _epoch_order(length: int, seed: int, epoch: int, shard_index: int, shard_count: int) -> grain.MapDataset:
    """This shard's window indices of `epoch`, in the epoch's shuffled order."""
    import grain

    shuffle_seed = int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])
    return grain.MapDataset.range(length).shuffle(seed=shuffle_seed)[shard_index::shard_count]


def _epoch_items(length: int, batch_size: int, shard_count: int) -> int:
    """Items of one shard's epoch in whole batches, the same for every shard."""
    return length // shard_count // batch_size * batch_size


class _RunItems:
    """Picklable run position -> item map for `run_dataset` (grain workers are spawned and unpickle it)."""

    def __init__(self, source: WindowSource, seed: int, first_epoch: int, per_epoch: int, shard_index: int,
                 shard_count: int) -> None:
        self.source, self.seed, self.first_epoch, self.per_epoch = source, seed, first_epoch, per_epoch
        self.shard_index, self.shard_count = shard_index, shard_count

    def __call__(self, position: int) -> Item:
        epoch, rank = divmod(int(position), self.per_epoch)
        epoch += self.first_epoch
        order = _epoch_order(len(self.source), self.seed, epoch, self.shard_index, self.shard_count)
        return self.source.item(int(order[rank]), self.seed, epoch)


def iterate(dataset: grain.MapDataset, *, start: int = 0, num_workers: int = 0) -> grain.IterDataset:
    """Batches `start`, `start + 1`, ... of an epoch dataset, prefetched by `num_workers` processes.

    Workers are spawned: they unpickle the source, and a script using them must guard its entry
    point with `if __name__ == "__main__":`. The batch order does not depend on `num_workers`.
    """
    import grain

    batches = dataset[start:].to_iter_dataset(grain.ReadOptions(num_threads=1 if num_workers else 2,
                                                                prefetch_buffer_size=2))
    if num_workers:
        from absl import flags

        if not flags.FLAGS.is_parsed():  # grain's worker processes read absl flags and fail on unparsed ones
            flags.FLAGS.mark_as_parsed()
        batches = batches.mp_prefetch(grain.MultiprocessingOptions(num_workers=num_workers))
    return batches
