"""Look-ahead masks on the latent time axis (the last axis of a [B, H, W] latent image).

A context mask is described by one number per example, the first masked column: columns at or
after it are "future" and are zeroed (the literal 0.0 of the reference, kept for checkpoint
compatibility). Training and sampling use the same function, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from jaxaccomp.stream_settings import VALID_W, check_r_and_w, window_holds

# The reference trains with r in {0, 0.125, 0.25} and window multiplier 2: {0, 16, 32} of 64 columns.
TRAIN_MASK_RATIOS = (0.0, 0.125, 0.25)
TRAIN_WINDOW_MULTS = (2,)


def mask_future_context(context: jax.Array, first_masked: jax.Array) -> jax.Array:
    """Zero context columns >= first_masked (per example [B], or a scalar for the whole batch)."""
    keep = column_mask(first_masked, context.shape[-1])[:, None, :]
    return jnp.where(keep, context, jnp.zeros_like(context))


def sample_training_mask_starts(
    key: jax.Array,
    batch: int,
    width: int,
    ratios: Sequence[float] = TRAIN_MASK_RATIOS,
    window_mults: Sequence[int] = TRAIN_WINDOW_MULTS,
) -> jax.Array:
    """First masked column per example: width - int(width * r * m), r and m uniform and independent."""
    zeroed = jnp.array([int(width * r * m) for r in ratios for m in window_mults], jnp.int32)
    return width - jax.random.choice(key, zeroed, (batch,))


# Networks that see the known target learn on the streaming masks themselves: g generated columns
# (r = g / 64, the step ratios a server can use) with look-ahead w, drawn uniformly over the valid pairs.
STREAM_GENERATED = (1, 2, 4, 8, 16, 32)


def stream_mask_pairs(width: int) -> tuple[tuple[int, int], ...]:
    """Every (first masked context column, first generated column) a stream can ask for."""
    pairs = []
    for frames in sorted({g * width // 64 for g in STREAM_GENERATED} - {0}):
        pairs += [(width - (w + 1) * frames, width - frames) for w in VALID_W if window_holds(frames / width, w)]
    return tuple(pairs)


def sample_stream_masks(key: jax.Array, batch: int, width: int) -> tuple[jax.Array, jax.Array]:
    """([B] first masked context column, [B] first generated column), uniform over `stream_mask_pairs`."""
    pairs = jnp.array(stream_mask_pairs(width), jnp.int32)
    chosen = pairs[jax.random.randint(key, (batch,), 0, pairs.shape[0])]
    return chosen[:, 0], chosen[:, 1]


def generated_column_weights(first_generated: jax.Array, width: int) -> jax.Array:
    """[B, 1, W] loss weights: the generated columns (>= first_generated), each example summing to W,
    so the small steps a server uses count as much as the large ones."""
    generated = 1.0 - column_mask(first_generated, width).astype(jnp.float32)
    return (generated * width / generated.sum(axis=1, keepdims=True))[:, None, :]


def augment_known_target(key: jax.Array, source: jax.Array, first_generated: jax.Array, hide: float,
                         noise: float) -> tuple[jax.Array, jax.Array]:
    """(perturbed source, [B] last-visible column) for training a network that sees the known target.

    A stream feeds the network its own earlier output as the known target, errors included. Trained
    on the true target alone, it learns to continue that and to ignore the song (measured: its
    look-ahead output did not change with another song's context). So, per example: with probability
    `hide` the known target is withheld (the network must follow the context and its noisy input,
    as the reference's does); otherwise it is perturbed by Gaussian noise of a scale drawn uniformly
    from [0, noise]."""
    hide_key, scale_key, noise_key = jax.random.split(key, 3)
    batch = source.shape[0]
    hidden = jax.random.bernoulli(hide_key, hide, (batch,))
    scale = noise * jax.random.uniform(scale_key, (batch, 1, 1))
    return source + scale * jax.random.normal(noise_key, source.shape), jnp.where(hidden, 0, first_generated)


def known_target_context(context: jax.Array, source: jax.Array, first_generated: jax.Array) -> jax.Array:
    """[B, 3H, W] conditioning of a network that sees the known target: the (already masked) context,
    the target columns before `first_generated` (zeros after) and the known-column mask as H rows."""
    known = column_mask(first_generated, source.shape[-1])[:, None, :]
    known = jnp.broadcast_to(known, source.shape)
    context = jnp.broadcast_to(context, source.shape)
    return jnp.concatenate([context, jnp.where(known, source, 0.0), known.astype(source.dtype)], axis=1)


def frame_aligned_masks(r: float, w: int, width: int = 64) -> tuple[int, int]:
    """(first masked context column, first generated column) for step ratio r and look-ahead w.

    The reference's inference masks: context zeroed from int(width (1 - (w+1) r)), the last
    int(width r) target columns generated and the rest kept from the previous step.
    """
    check_r_and_w(r, w)
    frames = r * width
    if not float(frames).is_integer():
        raise ValueError(f"r={r} of a {width}-frame window is not a whole number of frames (r = k/{width})")
    return int(width * (1 - (w + 1) * r)), width - int(frames)


def timeline_masks(window_start: int, playback: int, write_start: int, write_end: int,
                   width: int = 64, hop: int = 4096) -> tuple[int, int]:
    """(first masked context column, first generated column) from absolute sample positions.

    The window's latent column j covers samples [window_start + j hop, window_start + (j+1) hop).
    Context is valid only for columns that end at or before the playback position (a column
    partly in the future counts as future); every column the write window [write_start,
    write_end) touches is generated, through to the end of the window. So step sizes that are not
    whole frames are served exactly.
    """
    window_end = window_start + width * hop
    if not window_start <= playback <= window_end:
        raise ValueError(f"playback position {playback} is outside the window [{window_start}, {window_end}]")
    if not window_start <= write_start < write_end <= window_end:
        raise ValueError(f"write window [{write_start}, {write_end}) is not inside the window [{window_start}, {window_end})")
    return (playback - window_start) // hop, (write_start - window_start) // hop


def column_mask(first: jax.Array, width: int) -> jax.Array:
    """[B, width] booleans, True for the columns before `first` ([B] or scalar): the kept region."""
    first = jnp.reshape(jnp.asarray(first), (-1, 1))
    return jnp.arange(width)[None, :] < first
