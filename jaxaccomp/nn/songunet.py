"""The DDPM++ SongUNet (EDM `training/networks.py` layout) as a Flax NNX module, NHWC.

The encoder/decoder are flat lists of blocks run in order, exactly like the torch ModuleDicts;
`torch_names` keeps the torch name of every sub-module so checkpoints convert by name.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from jaxaccomp.config import UNetConfig
from jaxaccomp.nn.layers import GroupNorm, UNetBlock, conv, linear, positional_embedding


class SongUNet(nnx.Module):
    """F(x, c_noise, labels): x [B, H, W, in_channels] -> [B, H, W, out_channels]."""

    def __init__(self, config: UNetConfig, *, rngs: nnx.Rngs, dtype: jnp.dtype = jnp.float32):
        self.config = config
        self.dtype = dtype  # compute precision; parameters stay float32
        c = config
        emb_channels = c.model_channels * c.channel_mult_emb
        self.noise_channels = c.model_channels * c.channel_mult_noise
        block = dict(emb_channels=emb_channels, dropout=c.dropout, rngs=rngs, dtype=dtype)

        self.map_label = linear(c.label_dim, self.noise_channels, rngs, dtype)
        self.map_layer0 = linear(self.noise_channels, emb_channels, rngs, dtype)
        self.map_layer1 = linear(emb_channels, emb_channels, rngs, dtype)

        top = c.img_resolution
        enc, enc_names, skip_widths = [], [], []
        self.enc_conv = conv(c.in_channels, c.model_channels, 3, rngs, dtype)
        cout = c.model_channels
        skip_widths.append(cout)
        for level, mult in enumerate(c.channel_mult):
            res = top >> level
            if level > 0:
                enc.append(UNetBlock(cout, cout, down=True, **block))
                enc_names.append(f"{res}x{res}_down")
                skip_widths.append(cout)
            for i in range(c.num_blocks):
                cin, cout = cout, c.model_channels * mult
                enc.append(UNetBlock(cin, cout, attention=res in c.attn_resolutions, **block))
                enc_names.append(f"{res}x{res}_block{i}")
                skip_widths.append(cout)

        dec, dec_names, dec_takes_skip = [], [], []
        for level, mult in reversed(list(enumerate(c.channel_mult))):
            res = top >> level
            if level == len(c.channel_mult) - 1:
                dec += [UNetBlock(cout, cout, attention=True, **block), UNetBlock(cout, cout, **block)]
                dec_names += [f"{res}x{res}_in0", f"{res}x{res}_in1"]
            else:
                dec.append(UNetBlock(cout, cout, up=True, **block))
                dec_names.append(f"{res}x{res}_up")
            dec_takes_skip += [False] * (len(dec) - len(dec_takes_skip))
            for i in range(c.num_blocks + 1):
                cin, cout = cout + skip_widths.pop(), c.model_channels * mult
                attention = i == c.num_blocks and res in c.attn_resolutions
                dec.append(UNetBlock(cin, cout, attention=attention, **block))
                dec_names.append(f"{res}x{res}_block{i}")
                dec_takes_skip.append(True)

        self.enc = nnx.List(enc)
        self.dec = nnx.List(dec)
        self.dec_takes_skip = tuple(dec_takes_skip)
        self.aux_norm = GroupNorm(cout, rngs, dtype)
        self.aux_conv = conv(cout, c.out_channels, 3, rngs, dtype, scale=1e-5)
        self.torch_names = {
            "enc_conv": f"enc.{top}x{top}_conv",
            "aux_norm": f"dec.{top}x{top}_aux_norm",
            "aux_conv": f"dec.{top}x{top}_aux_conv",
            **{f"enc.{i}": f"enc.{n}" for i, n in enumerate(enc_names)},
            **{f"dec.{i}": f"dec.{n}" for i, n in enumerate(dec_names)},
        }

    def embed(self, noise_labels: jax.Array, class_labels: jax.Array) -> jax.Array:
        """Noise + label embedding shared by every block: [B] and [B, label_dim] -> [B, emb]."""
        emb = positional_embedding(noise_labels, self.noise_channels)
        emb = emb + self.map_label(class_labels * math.sqrt(self.config.label_dim))
        return nnx.silu(self.map_layer1(nnx.silu(self.map_layer0(emb))))

    def __call__(
        self,
        x: jax.Array,
        noise_labels: jax.Array,
        class_labels: jax.Array,
        dropout_key: jax.Array | None = None,
    ) -> jax.Array:
        """`dropout_key` None runs inference (no dropout); a key gives training-mode dropout."""
        emb = self.embed(noise_labels, class_labels)
        n_blocks = len(self.enc) + len(self.dec)
        keys = list(jax.random.split(dropout_key, n_blocks)) if dropout_key is not None else [None] * n_blocks
        x = self.enc_conv(x)
        skips = [x]
        for block in self.enc:
            x = block(x, emb, keys.pop())
            skips.append(x)
        for block, takes_skip in zip(self.dec, self.dec_takes_skip):
            if takes_skip:
                x = jnp.concatenate([x, skips.pop()], axis=-1)
            x = block(x, emb, keys.pop())
        return self.aux_conv(nnx.silu(self.aux_norm(x)))


def count_params(model: nnx.Module) -> int:
    return sum(p.size for p in jax.tree.leaves(nnx.state(model, nnx.Param)))


def abstract_unet(config: UNetConfig, dtype: jnp.dtype = jnp.float32) -> SongUNet:
    """The model's structure with shape-only parameters: no 257M-parameter random init."""
    return nnx.eval_shape(lambda: SongUNet(config, rngs=nnx.Rngs(0), dtype=dtype))
