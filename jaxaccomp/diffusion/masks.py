"""Look-ahead masks on the latent time axis (the last axis of a [B, H, W] latent image).

A context mask is described by one number per example, the first masked column: columns at or
after it are "future" and are zeroed (the literal 0.0 of the reference, kept for checkpoint
compatibility). Training and sampling use the same function, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

# The reference trains with r in {0, 0.125, 0.25} and window multiplier 2: {0, 16, 32} of 64 columns.
TRAIN_MASK_RATIOS = (0.0, 0.125, 0.25)
TRAIN_WINDOW_MULTS = (2,)


def mask_future_context(context: jax.Array, first_masked: jax.Array) -> jax.Array:
    """Zero context columns >= first_masked (per example [B], or a scalar for the whole batch)."""
    columns = jnp.arange(context.shape[-1])
    first = jnp.reshape(jnp.asarray(first_masked), (-1,) + (1,) * (context.ndim - 1))
    return jnp.where(columns < first, context, jnp.zeros_like(context))


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
