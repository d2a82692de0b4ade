"""Preconditioned denoisers D(x; sigma) around the SongUNet: EDM (the LDM) and consistency (CD student).

Latent images are [B, H, W] (H = codec channels, W = time frames); the network sees NHWC with the
noisy target (scaled by c_in) and the raw, unscaled context latent as its two input channels.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from jaxaccomp.config import DiffusionConfig
from jaxaccomp.nn.songunet import SongUNet

Mode = Literal["edm", "consistency"]


def edm_scalings(sigma: jax.Array, sigma_data: float) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(c_skip, c_out, c_in) of EDM: D = c_skip x + c_out F(c_in x)."""
    total = sigma**2 + sigma_data**2
    return sigma_data**2 / total, sigma * sigma_data / jnp.sqrt(total), 1.0 / jnp.sqrt(total)


def consistency_scalings(sigma: jax.Array, sigma_data: float, sigma_min: float) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Consistency-model (c_skip, c_out, c_in): exactly the identity at sigma = sigma_min."""
    shifted = sigma - sigma_min
    c_skip = sigma_data**2 / (shifted**2 + sigma_data**2)
    c_out = shifted * sigma_data / jnp.sqrt(sigma**2 + sigma_data**2)
    return c_skip, c_out, 1.0 / jnp.sqrt(sigma**2 + sigma_data**2)


def scalings(sigma: jax.Array, diffusion: DiffusionConfig, mode: Mode) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(c_skip, c_out, c_in) of the given parameterisation."""
    if mode == "edm":
        return edm_scalings(sigma, diffusion.sigma_data)
    return consistency_scalings(sigma, diffusion.sigma_data, diffusion.sigma_min)


class Denoiser(nnx.Module):
    """D(x_noisy; sigma, context, labels) for a SongUNet with in_channels 2, out_channels 1."""

    def __init__(self, net: SongUNet, diffusion: DiffusionConfig = DiffusionConfig(), mode: Mode = "edm"):
        if (net.config.in_channels, net.config.out_channels) != (2, 1):
            raise ValueError("the denoiser needs a SongUNet with in_channels=2 (target + context), out_channels=1")
        if mode not in ("edm", "consistency"):
            raise ValueError(f"unknown denoiser mode {mode!r}; choose 'edm' or 'consistency'")
        self.net = net
        self.diffusion = diffusion
        self.mode = mode

    def __call__(
        self,
        x: jax.Array,
        sigma: jax.Array,
        context: jax.Array,
        labels: jax.Array,
        dropout_key: jax.Array | None = None,
    ) -> jax.Array:
        """x, context: [B, H, W]; sigma: [B] (or scalar); labels: one-hot [B, label_dim] -> [B, H, W]."""
        sigma = jnp.broadcast_to(jnp.asarray(sigma, jnp.float32), x.shape[:1])
        c_skip, c_out, c_in = (c[:, None, None] for c in scalings(sigma, self.diffusion, self.mode))
        net_in = jnp.stack([c_in * x, context], axis=-1)
        f = self.net(net_in, jnp.log(sigma) / 4.0, labels, dropout_key)[..., 0]
        return c_skip * x + c_out * f.astype(jnp.float32)
