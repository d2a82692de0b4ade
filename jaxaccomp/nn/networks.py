"""One place that turns a network config into its module: the SongUNet or the frame transformer."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from jaxaccomp.config import FrameTransformerConfig, NetConfig, UNetConfig
from jaxaccomp.nn.frames import FrameTransformer
from jaxaccomp.nn.songunet import SongUNet

Network = SongUNet | FrameTransformer
_MODULES: dict[type, type] = {UNetConfig: SongUNet, FrameTransformerConfig: FrameTransformer}


def build_network(config: NetConfig, *, rngs: nnx.Rngs, dtype: jnp.dtype = jnp.float32) -> Network:
    """A freshly initialised network of the config's family."""
    return _MODULES[type(config)](config, rngs=rngs, dtype=dtype)


def abstract_network(config: NetConfig, dtype: jnp.dtype = jnp.float32) -> Network:
    """The network's structure with shape-only parameters: no random init of a large model."""
    return nnx.eval_shape(lambda: build_network(config, rngs=nnx.Rngs(0), dtype=dtype))
