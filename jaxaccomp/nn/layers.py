"""The DDPM++ building blocks of the SongUNet, in NHWC, with torch-compatible attribute names.

Attribute names (norm0, conv0, affine, norm1, conv1, skip, attn.{norm,qkv,proj}) mirror the
physicsnemo/EDM modules so that `jaxaccomp.convert` maps weights by name, not by position.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

SKIP_SCALE = math.sqrt(0.5)
NORM_EPS = 1e-6


def xavier_uniform(scale: float = 1.0) -> nnx.Initializer:
    """EDM's init: xavier-uniform (fan over in/out channels x kernel area), times `scale`."""
    base = jax.nn.initializers.xavier_uniform(in_axis=-2, out_axis=-1)
    return lambda key, shape, dtype=jnp.float32: base(key, shape, dtype) * scale


def conv(cin: int, cout: int, kernel: int, rngs: nnx.Rngs, dtype: jnp.dtype, scale: float = 1.0) -> nnx.Conv:
    return nnx.Conv(cin, cout, (kernel, kernel), padding="SAME", kernel_init=xavier_uniform(scale), dtype=dtype, rngs=rngs)


def linear(cin: int, cout: int, rngs: nnx.Rngs, dtype: jnp.dtype) -> nnx.Linear:
    return nnx.Linear(cin, cout, kernel_init=xavier_uniform(), dtype=dtype, rngs=rngs)


class GroupNorm(nnx.Module):
    """EDM GroupNorm: min(32, C/4) groups, eps 1e-6, biased two-pass variance, statistics in float32.

    Reductions run over the spatial axis with channels minor and the group sums on the tiny
    [B, C] results, which XLA's CPU backend runs about 2x faster than a (B, HW, G, C/G) reduction.
    """

    def __init__(self, channels: int, rngs: nnx.Rngs, dtype: jnp.dtype = jnp.float32):
        del rngs  # scale and bias start at 1 and 0
        self.groups = min(32, channels // 4)
        self.dtype = dtype
        self.scale = nnx.Param(jnp.ones((channels,), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((channels,), jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        b, h, w, c = x.shape
        per_group = c // self.groups
        flat = x.astype(jnp.float32).reshape(b, h * w, c)
        count = h * w * per_group

        def group_mean(values: jax.Array) -> jax.Array:  # [B, C] channel sums -> [B, 1, C] group means
            means = values.reshape(b, self.groups, per_group).sum(-1) / count
            return jnp.repeat(means, per_group, axis=-1)[:, None, :]

        mean = group_mean(flat.sum(axis=1))
        var = group_mean(jnp.square(flat - mean).sum(axis=1))
        gain = jax.lax.rsqrt(var + NORM_EPS) * self.scale[...]
        shift = self.bias[...] - mean * gain
        return (flat * gain + shift).reshape(b, h, w, c).astype(self.dtype)


def downsample(x: jax.Array) -> jax.Array:
    """resample_filter [1, 1] downsampling: 2x2 average pooling."""
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def upsample(x: jax.Array) -> jax.Array:
    """resample_filter [1, 1] upsampling: nearest neighbour x2."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def positional_embedding(x: jax.Array, channels: int, max_positions: int = 10000) -> jax.Array:
    """Sinusoidal embedding of scalars, endpoint=True frequencies, sin half first (EDM's swap)."""
    half = channels // 2
    freqs = (1.0 / max_positions) ** (jnp.arange(half, dtype=jnp.float32) / (half - 1))
    angles = x.astype(jnp.float32)[:, None] * freqs[None, :]
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=1)


def dropout(x: jax.Array, rate: float, key: jax.Array | None) -> jax.Array:
    """Inverted dropout driven by an explicit key; no key means inference (identity).

    Explicit keys keep the model's state pure parameters: checkpoints, conversion and
    `jax.jit` over `nnx.split` need no RNG-counter bookkeeping.
    """
    if key is None or rate == 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros_like(x))


class Attention(nnx.Module):
    """Single-head self-attention over all positions; qkv channels interleaved as (C, 3)."""

    def __init__(self, channels: int, rngs: nnx.Rngs, dtype: jnp.dtype):
        self.dtype = dtype
        self.norm = GroupNorm(channels, rngs, dtype)
        self.qkv = conv(channels, 3 * channels, 1, rngs, dtype, scale=math.sqrt(0.2))
        self.proj = conv(channels, channels, 1, rngs, dtype, scale=1e-5)

    def __call__(self, x: jax.Array) -> jax.Array:
        b, h, w, c = x.shape
        tokens = self.norm(x).reshape(b, h * w, c).astype(self.dtype)
        # Slicing the interleaved (C, 3) weights is cheaper than slicing the [B, HW, 3C] activations.
        kernel = self.qkv.kernel[...].reshape(c, c, 3).astype(self.dtype)
        bias = self.qkv.bias[...].reshape(c, 3).astype(self.dtype)
        q, k, v = (tokens @ kernel[..., i] + bias[:, i] for i in range(3))
        logits = jnp.einsum("bqc,bkc->bqk", q / math.sqrt(c), k, preferred_element_type=jnp.float32)
        weights = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
        out = jnp.einsum("bqk,bkc->bqc", weights, v).reshape(b, h, w, c)
        return self.proj(out) + x


class UNetBlock(nnx.Module):
    """DDPM++ residual block: GN-SiLU-(resample)-conv, + affine(emb), GN-SiLU-dropout-conv, skip, [attn]."""

    def __init__(
        self,
        cin: int,
        cout: int,
        emb_channels: int,
        *,
        rngs: nnx.Rngs,
        up: bool = False,
        down: bool = False,
        attention: bool = False,
        dropout: float = 0.0,
        dtype: jnp.dtype = jnp.float32,
    ):
        self.up, self.down = up, down
        self.norm0 = GroupNorm(cin, rngs, dtype)
        self.conv0 = conv(cin, cout, 3, rngs, dtype)
        self.affine = linear(emb_channels, cout, rngs, dtype)
        self.norm1 = GroupNorm(cout, rngs, dtype)
        self.dropout_rate = dropout
        self.conv1 = conv(cout, cout, 3, rngs, dtype, scale=1e-5)
        # resample_proj=True: a resampling block always gets a 1x1 skip conv, as does a width change.
        self.skip = conv(cin, cout, 1, rngs, dtype) if (cin != cout or up or down) else None
        self.attn = Attention(cout, rngs, dtype) if attention else None

    def _resample(self, x: jax.Array) -> jax.Array:
        if self.up:
            return upsample(x)
        if self.down:
            return downsample(x)
        return x

    def __call__(self, x: jax.Array, emb: jax.Array, dropout_key: jax.Array | None = None) -> jax.Array:
        h = self.conv0(self._resample(nnx.silu(self.norm0(x))))
        h = nnx.silu(self.norm1(h + self.affine(emb)[:, None, None, :]))
        h = self.conv1(dropout(h, self.dropout_rate, dropout_key))
        shortcut = self.skip(self._resample(x)) if self.skip is not None else x
        x = (h + shortcut) * SKIP_SCALE
        if self.attn is not None:
            x = self.attn(x) * SKIP_SCALE
        return x
