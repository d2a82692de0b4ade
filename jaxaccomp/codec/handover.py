"""Latents between a codec and JAX without a trip through host memory where both share a device.

A torch codec on the same device as JAX's default backend hands its tensors over with DLPack
(zero-copy); every other codec goes through numpy, as the Codec contract says.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxaccomp.codec.base import Codec

_JAX_PLATFORM_OF_TORCH = {"cpu": "cpu", "cuda": "gpu"}


def shares_device_with_jax(codec: Codec) -> bool:
    """True when the codec computes in torch on the platform JAX is using."""
    device = getattr(codec, "device", None)
    return (hasattr(codec, "encode_tensor") and device is not None
            and _JAX_PLATFORM_OF_TORCH.get(device.type) == jax.default_backend())


def encode_to_jax(codec: Codec, audio: np.ndarray) -> jax.Array:
    """codec.encode, returned as a JAX array (zero-copy from torch where devices match)."""
    if shares_device_with_jax(codec):
        return jax.dlpack.from_dlpack(codec.encode_tensor(audio).contiguous())
    return jnp.asarray(codec.encode(audio))


def decode_from_jax(codec: Codec, latents: jax.Array, seed: int = 0) -> np.ndarray:
    """codec.decode of JAX latents (handed to torch zero-copy where devices match)."""
    if shares_device_with_jax(codec):
        import torch

        return codec.decode_tensor(torch.from_dlpack(latents), seed)
    return codec.decode(np.asarray(latents, np.float32), seed)
