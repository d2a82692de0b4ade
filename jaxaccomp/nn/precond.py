"""Preconditioned denoisers D(x; sigma) around a network: EDM (the LDM) and consistency (CD student).

Latent images are [B, H, W] (H = codec channels, W = time frames); the network sees NHWC with the
noisy target (scaled by c_in) as its first input channel and the unscaled conditioning after it.
The conditioning is the masked context latent [B, H, W] for the reference's SongUNet (2 input
channels), or [B, 3H, W] for a network that also sees the known target columns (4 input channels):
context, known target (zero where unknown) and the known-column mask (`masks.known_target_context`).
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from jaxaccomp.config import DiffusionConfig
from jaxaccomp.nn.networks import Network

Mode = Literal["diffusion", "consistency"]  # EDM preconditioning (ADPM2 sampling) or consistency


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
    if mode == "diffusion":
        return edm_scalings(sigma, diffusion.sigma_data)
    return consistency_scalings(sigma, diffusion.sigma_data, diffusion.sigma_min)


class Denoiser(nnx.Module):
    """D(x_noisy; sigma, conditioning, labels) for a network with out_channels 1 and in_channels 2 or 4."""

    def __init__(self, net: Network, diffusion: DiffusionConfig = DiffusionConfig(), mode: Mode = "diffusion"):
        if net.config.in_channels not in (2, 4) or net.config.out_channels != 1:
            raise ValueError("the denoiser needs a network with in_channels 2 (target + context) or 4 "
                             "(+ known target and its mask) and out_channels 1")
        if mode not in ("diffusion", "consistency"):
            raise ValueError(f"unknown denoiser mode {mode!r}; choose 'diffusion' or 'consistency'")
        self.net = net
        self.diffusion = diffusion
        self.mode = mode

    @property
    def conditions_on_target(self) -> bool:
        """Whether the network also sees the known target columns (a [B, 3H, W] conditioning)."""
        return self.net.config.in_channels == 4

    def __call__(
        self,
        x: jax.Array,
        sigma: jax.Array,
        context: jax.Array,
        labels: jax.Array,
        dropout_key: jax.Array | None = None,
    ) -> jax.Array:
        """x: [B, H, W]; context: [B, (in_channels - 1) H, W]; sigma: [B] (or scalar); labels: one-hot
        [B, label_dim] -> [B, H, W]."""
        sigma = jnp.broadcast_to(jnp.asarray(sigma, jnp.float32), x.shape[:1])
        c_skip, c_out, c_in = (c[:, None, None] for c in scalings(sigma, self.diffusion, self.mode))
        b, h, w = x.shape
        conditioning = jnp.moveaxis(context.reshape(b, -1, h, w), 1, -1)
        if conditioning.shape[-1] != self.net.config.in_channels - 1:
            raise ValueError(f"the network takes {self.net.config.in_channels - 1} conditioning latents, "
                             f"got {conditioning.shape[-1]}")
        net_in = jnp.concatenate([(c_in * x)[..., None], conditioning.astype(x.dtype)], axis=-1)
        f = self.net(net_in, jnp.log(sigma) / 4.0, labels, dropout_key)[..., 0]
        return c_skip * x + c_out * f.astype(jnp.float32)
