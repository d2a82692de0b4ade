import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaccomp.codec.embedded import EmbeddedCodec
from jaxaccomp.codec.handover import decode_from_jax, encode_to_jax, shares_device_with_jax


def _audio():
    return (0.1 * np.random.default_rng(0).standard_normal((2, 44100))).astype(np.float32)


def test_numpy_codecs_go_through_numpy():
    codec = EmbeddedCodec()
    assert not shares_device_with_jax(codec)
    latents = encode_to_jax(codec, _audio())
    assert isinstance(latents, jax.Array)
    np.testing.assert_array_equal(np.asarray(latents), codec.encode(_audio()))
    np.testing.assert_array_equal(decode_from_jax(codec, latents, seed=2), codec.decode(codec.encode(_audio()), seed=2))


@pytest.mark.torch
def test_torch_codec_on_jax_device_hands_over_with_dlpack(monkeypatch):
    pytest.importorskip("music2latent")
    from jaxaccomp.codec.music2latent import Music2LatentCodec

    codec = Music2LatentCodec.random("tiny", device="cpu")  # CPU torch and CPU JAX share a device
    assert shares_device_with_jax(codec)
    handed = []
    original = jax.dlpack.from_dlpack
    monkeypatch.setattr(jax.dlpack, "from_dlpack", lambda x: handed.append(x) or original(x))
    latents = encode_to_jax(codec, _audio())
    assert len(handed) == 1
    np.testing.assert_array_equal(np.asarray(latents), codec.encode(_audio()))
    shifted = latents + 0.5  # a JAX computation in between, as the sampler would do
    np.testing.assert_array_equal(decode_from_jax(codec, shifted, seed=1), codec.decode(np.asarray(shifted), seed=1))
    with pytest.raises(ValueError, match="latents contain NaN"):
        decode_from_jax(codec, shifted.at[0, 0, 0].set(jnp.nan))
