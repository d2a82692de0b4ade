"""Block by block, our Flax SongUNet layers match physicsnemo's torch layers, so a failure names the layer.

Each case builds one torch block with random weights (small channel counts, seeded), copies its
weights into the Flax block with the converter's per-parameter rule, runs both on the same input and
compares. Linear and conv layers (with the resampling the blocks use) run in float64 on both sides;
group norm, attention, the positional embedding and anything containing them compute in float32 in
our port, so those compare at float32 tolerances. The stems (noise/label embedding, encoder input
conv, decoder output norm + conv) only exist inside the network, so they come from a converted
`tiny` network. Our port's skip paths are the UNet blocks' 1x1 resampling convs (conv2d_1x1_*, and
inside every block case) and the decoder's concatenation of encoder outputs, which only the
layer-by-layer network walk at the end sees.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxaccomp.config import preset
from jaxaccomp.nn import layers
from tests.support.torch_reference import (
    assert_layer_close,
    convert_reference,
    first_mismatches,
    flax_layer_outputs,
    load_block_weights,
    nchw_to_nhwc,
    nhwc_to_nchw,
    randomize_,
    randomized_reference,
    reference_inputs,
    torch_layer_outputs,
)

torch = pytest.importorskip("torch")
pnl = pytest.importorskip("physicsnemo.models.diffusion.layers")
pytestmark = pytest.mark.torch

# The whole-network test allows 1e-4 on outputs of order 1; one float32 block is far tighter.
FLOAT32 = dict(atol=1e-5, rtol=1e-5)
FLOAT64 = dict(atol=1e-12, rtol=1e-12)
EMB = 12  # embedding width of the standalone UNet blocks


def torch_unet_block(cin: int, cout: int, emb: int = EMB, **flags):
    """A physicsnemo UNetBlock configured as its SongUNet configures DDPM++ blocks (checked against
    every block of a reference network by test_standalone_blocks_are_built_like_the_network)."""
    return pnl.UNetBlock(
        in_channels=cin,
        out_channels=cout,
        emb_channels=emb,
        num_heads=1,
        dropout=0.0,
        skip_scale=math.sqrt(0.5),
        eps=1e-6,
        resample_filter=[1, 1],
        resample_proj=True,
        adaptive_scale=False,
        act="silu",
        fused_conv_bias=True,
        **flags,
    )


@dataclasses.dataclass(frozen=True)
class Pair:
    """One comparison: torch and Flax callables and their (torch-layout) inputs."""

    torch_fn: Callable
    flax_fn: Callable
    inputs: tuple[np.ndarray, ...]


@dataclasses.dataclass(frozen=True)
class Case:
    build: Callable[[jnp.dtype, np.random.Generator, object], Pair]
    float64: bool = False
    needs_network: bool = False


CASES: dict[str, Case] = {}


def case(name: str, *, float64: bool = False, needs_network: bool = False):
    def register(build):
        CASES[name] = Case(build, float64, needs_network)
        return build

    return register


def _standalone(torch_module, flax_module: nnx.Module, flax_fn: Callable, inputs, dtype, rng) -> Pair:
    """Randomize a torch block, give the Flax block its weights, in `dtype` on both sides."""
    torch_module = randomize_(torch_module, seed=int(rng.integers(2**31)))
    torch_module = torch_module.to(torch.float64 if dtype == jnp.float64 else torch.float32)
    torch_module.train()  # physicsnemo's GroupNorm uses the reference's biased variance only in train mode
    load_block_weights(flax_module, torch_module)
    return Pair(torch_module, flax_fn, tuple(np.asarray(a, dtype) for a in inputs))


def _image(rng: np.random.Generator, channels: int, size: int = 8, batch: int = 2) -> np.ndarray:
    # A non-zero mean and non-unit scale, so normalisation and bias errors cannot hide.
    return 0.5 + 1.5 * rng.standard_normal((batch, channels, size, size))


# --- linear and conv ---------------------------------------------------------------------


@case("linear", float64=True)
def _linear(dtype, rng, _):
    flax_layer = layers.linear(6, 10, nnx.Rngs(0), dtype)
    return _standalone(pnl.Linear(6, 10), flax_layer, flax_layer, [rng.standard_normal((3, 6))], dtype, rng)


def _conv_case(kernel: int, resample: str | None):
    def build(dtype, rng, _):
        up, down = resample == "up", resample == "down"
        reference = pnl.Conv2d(4, 8, kernel, up=up, down=down, resample_filter=[1, 1], fused_conv_bias=True)
        flax_conv = layers.conv(4, 8, kernel, nnx.Rngs(0), dtype)

        def flax_fn(x):  # looked up at call time, so a patched layers.upsample/downsample is seen
            if up:
                x = layers.upsample(x)
            if down:
                x = layers.downsample(x)
            return flax_conv(x)

        return _standalone(reference, flax_conv, flax_fn, [_image(rng, 4)], dtype, rng)

    return build


for _kernel in (3, 1):
    for _resample in (None, "down", "up"):
        _name = f"conv2d_{_kernel}x{_kernel}" + (f"_{_resample}" if _resample else "")
        case(_name, float64=True)(_conv_case(_kernel, _resample))


# --- normalisation, embedding, attention -------------------------------------------------


def _group_norm_case(channels: int, act: str | None):
    def build(dtype, rng, _):
        reference = pnl.get_group_norm(num_channels=channels, eps=1e-6, act=act)
        flax_norm = layers.GroupNorm(channels, nnx.Rngs(0), dtype)
        flax_fn = (lambda x: nnx.silu(flax_norm(x))) if act else flax_norm
        return _standalone(reference, flax_norm, flax_fn, [_image(rng, channels, size=4)], dtype, rng)

    return build


case("group_norm")(_group_norm_case(16, None))
case("group_norm_silu")(_group_norm_case(16, "silu"))  # norm0/norm1 fuse the SiLU in torch
case("group_norm_32_groups")(_group_norm_case(160, None))  # the min(32, C/4) cap


@case("positional_embedding")
def _positional_embedding(dtype, rng, _):
    reference = pnl.PositionalEmbedding(num_channels=16, endpoint=True)

    def torch_fn(x):  # the SongUNet swaps physicsnemo's (cos, sin) halves to EDM's (sin, cos)
        emb = reference(x)
        return emb.reshape(emb.shape[0], 2, -1).flip(1).reshape(*emb.shape)

    noise = np.concatenate([rng.uniform(-2.0, 2.0, 4), [0.0, 5.0]])
    return Pair(torch_fn, lambda x: layers.positional_embedding(x, 16), (noise.astype(dtype),))


@case("attention")
def _attention(dtype, rng, _):
    flax_attn = layers.Attention(8, nnx.Rngs(0), dtype)
    reference = pnl.Attention(out_channels=8, num_heads=1, eps=1e-6)
    return _standalone(reference, flax_attn, flax_attn, [_image(rng, 8, size=6)], dtype, rng)


# --- UNet blocks -------------------------------------------------------------------------


def _unet_block_case(cin: int, cout: int, **flags):
    def build(dtype, rng, _):
        flax_block = layers.UNetBlock(cin, cout, EMB, rngs=nnx.Rngs(0), dtype=dtype, **flags)
        inputs = [_image(rng, cin), rng.standard_normal((2, EMB))]
        return _standalone(torch_unet_block(cin, cout, **flags), flax_block, flax_block, inputs, dtype, rng)

    return build


case("unet_block")(_unet_block_case(8, 8))
case("unet_block_skip")(_unet_block_case(8, 16))  # width change: 1x1 skip conv
case("unet_block_attn")(_unet_block_case(8, 8, attention=True))
case("unet_block_skip_attn")(_unet_block_case(16, 8, attention=True))  # a decoder level's last block
case("down_block")(_unet_block_case(8, 8, down=True))
case("up_block")(_unet_block_case(8, 8, up=True))


# --- stems, from a converted network -----------------------------------------------------


@case("embedding_stem", needs_network=True)
def _embedding_stem(dtype, rng, network):
    reference, ours = network
    silu = torch.nn.functional.silu

    def torch_fn(noise, labels):  # the reference's mapping network, written out
        emb = reference.map_noise(noise)
        emb = emb.reshape(emb.shape[0], 2, -1).flip(1).reshape(*emb.shape)
        emb = emb + reference.map_label(labels * math.sqrt(reference.map_label.in_features))
        return silu(reference.map_layer1(silu(reference.map_layer0(emb))))

    noise = rng.uniform(-2.0, 2.0, 3)
    labels = np.eye(4)[rng.integers(0, 4, 3)]
    return Pair(torch_fn, ours.embed, (noise.astype(dtype), labels.astype(dtype)))


@case("encoder_stem", needs_network=True)
def _encoder_stem(dtype, rng, network):
    reference, ours = network
    top = ours.config.img_resolution
    return Pair(reference.enc[f"{top}x{top}_conv"], ours.enc_conv, (_image(rng, 2, size=16).astype(dtype),))


@case("decoder_stem", needs_network=True)
def _decoder_stem(dtype, rng, network):
    reference, ours = network
    top = ours.config.img_resolution
    norm, conv = reference.dec[f"{top}x{top}_aux_norm"], reference.dec[f"{top}x{top}_aux_conv"]
    channels = ours.config.model_channels
    return Pair(
        lambda x: conv(torch.nn.functional.silu(norm(x))),
        lambda x: ours.aux_conv(nnx.silu(ours.aux_norm(x))),
        (_image(rng, channels, size=16).astype(dtype),),
    )


# --- tests -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_network():
    """(randomized physicsnemo `tiny` SongUNet, our conversion of it through import_state_dict)."""
    config = preset("tiny")
    reference = randomized_reference(config, seed=11)
    return reference, convert_reference(config, reference)


def _to_flax(a: np.ndarray) -> jax.Array:
    return jnp.asarray(nchw_to_nhwc(a) if a.ndim == 4 else a)


def _from_flax(a) -> np.ndarray:
    a = np.asarray(a)
    return nhwc_to_nchw(a) if a.ndim == 4 else a


@pytest.mark.parametrize("name", list(CASES))
def test_block_matches_torch(name, request):
    spec = CASES[name]
    network = request.getfixturevalue("tiny_network") if spec.needs_network else None
    dtype = jnp.float64 if spec.float64 else jnp.float32
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    with jax.enable_x64(spec.float64):
        pair = spec.build(dtype, rng, network)
        with torch.inference_mode():
            expected = pair.torch_fn(*(torch.from_numpy(a) for a in pair.inputs)).numpy()
        actual = _from_flax(pair.flax_fn(*(_to_flax(a) for a in pair.inputs)))
    assert actual.dtype == expected.dtype == np.dtype(dtype), f"{name}: dtypes {actual.dtype} / {expected.dtype}"
    assert np.abs(expected).max() > 0.1, f"{name}: reference output too small for the comparison to mean anything"
    assert_layer_close(name, actual, expected, **(FLOAT64 if spec.float64 else FLOAT32))


def _signature(module) -> list[tuple]:
    """What decides a torch block's forward: each sub-module's type, settings and parameter shapes."""
    settings = ("eps", "num_groups", "act", "fused_conv_bias", "fused_resample", "up", "down", "num_heads",
                "skip_scale", "adaptive_scale", "dropout", "in_channels", "out_channels")
    rows = []
    for name, sub in module.named_modules():
        values = tuple((s, getattr(sub, s)) for s in settings if isinstance(getattr(sub, s, None), (int, float, str)))
        shapes = tuple((n, tuple(p.shape)) for n, p in sub.named_parameters(recurse=False))
        buffers = tuple((n, None if b is None else b.tolist()) for n, b in sub.named_buffers(recurse=False))
        rows.append((name, type(sub).__name__, values, shapes, buffers))
    return rows


def test_standalone_blocks_are_built_like_the_network(tiny_network):
    """The block cases above test physicsnemo blocks built by hand; this checks that hand-built blocks
    are configured exactly like the ones physicsnemo's SongUNet builds, for every block of `tiny`."""
    reference, _ = tiny_network
    blocks = {n: b for n, b in reference.named_modules() if isinstance(b, pnl.UNetBlock)}
    assert len(blocks) > 10
    for name, block in blocks.items():
        kinds = dict(up=block.conv0.up, down=block.conv0.down, attention=block.attn is not None)
        own = torch_unet_block(block.in_channels, block.out_channels, block.emb_channels, **kinds)
        assert _signature(own) == _signature(block), f"standalone UNetBlock differs from {name}"


# Torch modules with no Flax counterpart of their own (checked exactly in the walk): the positional
# embedding map_noise (a function in our port) and attention's qkv conv (our Attention slices its
# kernel instead of calling it). The other way, SongUNet.embed is silu(map_layer1).
UNMATCHED_FLAX = {("embed",)}


def test_network_walk_matches_torch(tiny_network):
    """Every layer of the converted `tiny` network against the reference's, in execution order: a
    mismatch names the first layer that differs (torch forward hooks vs nnx.capture). A layer's
    sub-layers finish before it does, so the first named is the innermost. 32x32 input for speed."""
    reference, ours = tiny_network
    x, noise, labels = reference_inputs(2, seed=3, resolution=32)
    torch_out = torch_layer_outputs(reference, x, noise, labels)
    flax_out = flax_layer_outputs(ours, nchw_to_nhwc(x), noise, labels)

    flax_by_torch_name, unmatched_flax = {}, set()
    for path, value in flax_out.items():
        *module, method = path
        if method != "__call__":
            unmatched_flax.add(tuple(path))
            continue
        split = 2 if module and module[0] in ("enc", "dec") else 1
        head = ".".join(str(p) for p in module[:split])
        flax_by_torch_name[".".join([ours.torch_names.get(head, head), *map(str, module[split:])]).strip(".")] = value
    assert unmatched_flax == UNMATCHED_FLAX

    pairs, unmatched_torch = [], []
    for name, expected in torch_out.items():
        if name not in flax_by_torch_name:
            unmatched_torch.append(name)
            continue
        actual = _from_flax(flax_by_torch_name.pop(name))
        if getattr(reference.get_submodule(name), "act_fn", None) is not None:  # torch fuses SiLU into norm0/norm1
            actual = torch.nn.functional.silu(torch.from_numpy(np.array(actual))).numpy()
        pairs.append((name or "output", actual, expected.numpy()))
    assert not flax_by_torch_name, f"Flax layers without a torch counterpart: {sorted(flax_by_torch_name)}"
    expected_unmatched = {"map_noise", *(n for n in torch_out if n.endswith(".attn.qkv"))}
    assert set(unmatched_torch) == expected_unmatched, f"torch layers without a Flax counterpart: {unmatched_torch}"
    assert len(pairs) > 100 and pairs[-1][0] == "output"

    bad = first_mismatches(pairs, atol=1e-5, rtol=1e-4)
    assert not bad, (
        f"first differing layer: {bad[0][0]} (max |flax - torch| = {bad[0][1]:.3e} > {bad[0][2]:.1e}); "
        f"{len(bad) - 1} later layers differ too: {', '.join(b[0] for b in bad[1:6])}"
    )
