"""Audio <-> latent codecs on one grid: 64 channels per 4096 samples at 44.1 kHz."""

from jaxaccomp.codec.base import Codec, num_frames
from jaxaccomp.codec.factory import get_codec

__all__ = ["Codec", "get_codec", "num_frames"]
