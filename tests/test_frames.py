"""The frame transformer family: shapes and parameters, the known-target conditioning, its streaming
masks, checkpoints that record their network, the compiled generator, and that it learns to continue."""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxaccomp.codec.embedded import EmbeddedCodec
from jaxaccomp.config import DiffusionConfig, FrameTransformerConfig, preset
from jaxaccomp.diffusion.loss import dsm_loss
from jaxaccomp.diffusion.masks import frame_aligned_masks, known_target_context, stream_mask_pairs
from jaxaccomp.nn.frames import FrameTransformer
from jaxaccomp.nn.networks import abstract_network, build_network
from jaxaccomp.nn.precond import Denoiser
from jaxaccomp.nn.songunet import count_params
from jaxaccomp.streaming import Generator, StepPlan
from jaxaccomp.nn.checkpoint import CheckpointError, load_denoiser, save_denoiser

TINY = preset("frames_tiny")


def test_parameter_count_of_the_frames_preset():
    # Per block (4 blocks): modulation 256*1536+1536, qkv 256*768+768, proj 256*256+256, MLP 256*1024+1024 and
    # 1024*256+256; around them: frame embedding 256*256+256 (no position table: rotary), label 4*256+256, two
    # embedding layers 2*(256*256+256), output modulation 256*512+512, output 256*64+64.
    block = 394_752 + 197_376 + 65_792 + 263_168 + 262_400
    around = 65_792 + 1_280 + 131_584 + 131_584 + 16_448
    assert count_params(abstract_network(preset("frames"))) == 4 * block + around


def test_starts_as_a_zero_map_so_the_denoiser_starts_as_its_skip():
    net = build_network(TINY, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (2, 64, 64, 4))
    out = net(x, jnp.zeros(2), jnp.eye(4)[:2])
    assert out.shape == (2, 64, 64, 1) and float(jnp.abs(out).max()) == 0.0


def test_every_frame_sees_every_other_frame():
    net = build_network(TINY, rngs=nnx.Rngs(0))
    params = nnx.state(net, nnx.Param)
    # Give the zero-initialised gates and output weights values, so the map is not trivially zero.
    perturbed = jax.tree.map(lambda p: p + 0.05 * jax.random.normal(jax.random.key(2), p.shape), params)
    nnx.update(net, perturbed)
    x = jax.random.normal(jax.random.key(3), (1, 64, 64, 4))
    changed = x.at[:, :, 5, :].add(1.0)  # only frame 5
    delta = jnp.abs(net(changed, jnp.zeros(1), jnp.eye(4)[:1]) - net(x, jnp.zeros(1), jnp.eye(4)[:1]))
    assert float(delta[0, :, 60].max()) > 1e-4  # a frame far away responds
    assert float(delta[0, :, 5].max()) > 1e-4


def test_stream_masks_are_the_servers_masks():
    expected = {frame_aligned_masks(g / 64, w) for g in (1, 2, 4, 8, 16, 32) for w in (-1, 0, 1)
                if (w + 2) * g <= 64}
    assert set(stream_mask_pairs(64)) == expected


def test_known_target_context_layout():
    context = jnp.full((2, 64, 8), 3.0)
    source = jnp.arange(2 * 64 * 8, dtype=jnp.float32).reshape(2, 64, 8)
    cond = known_target_context(context, source, jnp.array([3, 8]))
    assert cond.shape == (2, 192, 8)
    np.testing.assert_array_equal(cond[:, :64], context)
    np.testing.assert_array_equal(cond[0, 64:128, :3], source[0, :, :3])
    assert float(jnp.abs(cond[0, 64:128, 3:]).max()) == 0.0
    np.testing.assert_array_equal(cond[1, 64:128], source[1])
    np.testing.assert_array_equal(cond[0, 128:, :], np.broadcast_to(np.arange(8) < 3, (64, 8)))


def test_checkpoint_records_and_checks_the_network(tmp_path):
    denoiser = Denoiser(build_network(TINY, rngs=nnx.Rngs(0)), mode="consistency")
    save_denoiser(tmp_path / "m", denoiser, codec=EmbeddedCodec.name)
    loaded, meta = load_denoiser(tmp_path / "m", expected_codec=EmbeddedCodec.name)
    assert meta["network"] == "frames" and isinstance(loaded.net, FrameTransformer)
    assert loaded.net.config == TINY and loaded.mode == "consistency"
    with pytest.raises(CheckpointError, match="embedded"):
        load_denoiser(tmp_path / "m", expected_codec="embedded")
    meta_file = tmp_path / "m" / "meta.json"
    meta_file.write_text(meta_file.read_text().replace('"network": "frames"', '"network": "songunet"'))
    with pytest.raises(CheckpointError, match="unknown UNetConfig keys"):
        load_denoiser(tmp_path / "m")


SAVE_ON_FOUR_DEVICES = """
import sys, jax
from flax import nnx
from jaxaccomp.config import preset
from jaxaccomp.nn.networks import build_network
from jaxaccomp.nn.precond import Denoiser
from jaxaccomp.nn.checkpoint import save_denoiser
net = build_network(preset("frames_tiny"), rngs=nnx.Rngs(3))
mesh = jax.sharding.Mesh(jax.devices(), ("d",))
state = nnx.state(net, nnx.Param)
nnx.update(net, jax.device_put(state, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())))
save_denoiser(sys.argv[1], Denoiser(net), codec="embedded-2")
"""


def test_an_export_saved_on_other_devices_loads_here(tmp_path):
    # A model trained on a GPU (or a 4-device mesh) and loaded on a CPU: orbax would refuse the
    # saved device topology unless loading places the parameters on this process's device.
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    subprocess.run([sys.executable, "-c", SAVE_ON_FOUR_DEVICES, str(tmp_path / "m")], env=env, check=True)
    loaded, _ = load_denoiser(tmp_path / "m")
    expected = nnx.to_pure_dict(nnx.state(build_network(TINY, rngs=nnx.Rngs(3)), nnx.Param))
    got = nnx.to_pure_dict(nnx.state(loaded.net, nnx.Param))
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)), expected, got)  # same tree
    assert all(leaf.sharding.device_set == {jax.devices()[0]} for leaf in jax.tree.leaves(got))


def test_generator_conditions_on_the_known_columns_and_compiles_once():
    net = build_network(TINY, rngs=nnx.Rngs(0))
    nnx.update(net, jax.tree.map(lambda p: p + 0.05 * jax.random.normal(jax.random.key(4), p.shape),
                                 nnx.state(net, nnx.Param)))
    generator = Generator(Denoiser(net, mode="consistency"))
    generator.warm_up(1)
    plan = StepPlan(playback=0, write_start=0, content_start=0, content_end=0, window_start=0,
                    first_masked=40, first_generated=48, decode_start_column=47, decode_end_column=64)
    rng = np.random.default_rng(0)
    source, context = rng.standard_normal((2, 1, 64, 64)).astype(np.float32), rng.standard_normal((64, 64)).astype(np.float32)
    labels = np.eye(4, dtype=np.float32)[:1]
    first = generator(plan, source[0], context, labels, jax.random.key(0))
    other = generator(plan, source[1], context, labels, jax.random.key(0))
    np.testing.assert_array_equal(first[:, :, :48], source[0][:, :, :48])  # known columns kept
    assert np.abs(first[:, :, 48:] - other[:, :, 48:]).max() > 1e-3  # the known target is an input
    assert generator.compilations == 1


def test_generator_withholds_the_known_target_at_short_steps_only():
    """At steps up to the recommended length the network is shown no known target: exactly the sampler
    with the conditioning's known columns empty; longer steps show it as before. No recompilation
    either way."""
    from jaxaccomp.diffusion.masks import column_mask, mask_future_context
    from jaxaccomp.diffusion.samplers import consistency_sample
    from jaxaccomp.streaming.generator import sigma_schedule

    net = build_network(TINY, rngs=nnx.Rngs(0))
    nnx.update(net, jax.tree.map(lambda p: p + 0.05 * jax.random.normal(jax.random.key(4), p.shape),
                                 nnx.state(net, nnx.Param)))
    denoiser = Denoiser(net, mode="consistency")
    generator = Generator(denoiser, steps=3, withhold_target_max_step_s=0.375)
    rng = np.random.default_rng(1)
    source, context = rng.standard_normal((1, 64, 64)).astype(np.float32), rng.standard_normal((64, 64)).astype(np.float32)
    labels, key = np.eye(4, dtype=np.float32)[:1], jax.random.key(3)

    def run(generator: Generator, step: int) -> np.ndarray:
        plan = StepPlan(playback=0, write_start=0, content_start=0, content_end=step, window_start=0, first_masked=40,
                        first_generated=48, decode_start_column=47, decode_end_column=64)
        return generator(plan, source, context, labels, key)

    showing = Generator(denoiser, steps=3)
    withheld, shown = run(generator, 16537), run(showing, 16537)  # r = 1/16 of the 6-s window: 0.375 s
    conditioning = known_target_context(mask_future_context(jnp.asarray(context)[None], 40), jnp.asarray(source),
                                        jnp.zeros((1,), jnp.int32))
    expected = consistency_sample(denoiser, key, jnp.asarray(source), column_mask(jnp.full((1,), 48), 64), conditioning,
                                  jnp.asarray(labels), jnp.asarray(sigma_schedule("consistency", 3), jnp.float32))
    np.testing.assert_allclose(withheld, np.asarray(expected), atol=1e-5)
    np.testing.assert_array_equal(withheld[:, :, :48], source[:, :, :48])  # the known columns are still kept
    assert np.abs(withheld[:, :, 48:] - shown[:, :, 48:]).max() > 1e-3
    np.testing.assert_array_equal(run(generator, 33075), run(showing, 33075))  # r = 1/8: shown
    assert generator.compilations == 1
    assert "known target withheld at steps up to 0.375 s" in generator.sampler_name()
    with pytest.raises(ValueError, match="0 \\(never\\) or more"):
        Generator(denoiser, withhold_target_max_step_s=-1.0)


def test_learns_to_continue_a_pattern_it_can_only_see_in_the_known_target():
    """Each example is a random-phase pattern of period 8 columns; the context is noise, so only the
    known target columns tell the phase. After a short training (noise levels drawn high, where the
    noisy input says little) the estimate at sigma 80 follows the pattern; without the known
    columns the same network cannot know the phase."""
    config = FrameTransformerConfig(model_channels=64, num_blocks=2, num_heads=2, mlp_ratio=2, dropout=0.0)

    def batch(key):
        phase_key, ctx_key = jax.random.split(key)
        phase = jax.random.randint(phase_key, (32, 1, 1), 0, 8)
        cols = jnp.arange(64)[None, None, :]
        target = jnp.broadcast_to(jnp.sin(2 * jnp.pi * (cols + phase) / 8) * 1.4, (32, 64, 64))
        return target, jax.random.normal(ctx_key, target.shape), jnp.eye(4)[jnp.zeros(32, jnp.int32)]

    diffusion = DiffusionConfig(p_mean=1.5, p_std=1.0)
    graphdef, params = nnx.split(Denoiser(build_network(config, rngs=nnx.Rngs(0)), diffusion), nnx.Param)
    optimizer = optax.adam(2e-3)
    opt_state = optimizer.init(params)

    @jax.jit
    def step(params, opt_state, key):
        def loss(p):
            return dsm_loss(nnx.merge(graphdef, p), *batch(key), jax.random.fold_in(key, 1))
        grads = jax.grad(loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state)
        return optax.apply_updates(params, updates), opt_state

    for i in range(300):
        params, opt_state = step(params, opt_state, jax.random.key(i))
    denoiser = nnx.merge(graphdef, params)
    target, context, labels = batch(jax.random.key(10_000))
    noisy = target + 80.0 * jax.random.normal(jax.random.key(7), target.shape)

    def error(first_generated: int) -> float:
        cond = known_target_context(context, target, jnp.full((32,), first_generated))
        estimate = denoiser(noisy, jnp.full((32,), 80.0), cond, labels)
        return float(jnp.mean((estimate[..., 48:] - target[..., 48:]) ** 2))

    variance = float(jnp.mean(target**2))
    assert error(48) < 0.1 * variance, (error(48), variance)
    assert error(0) > 0.5 * variance, (error(0), variance)  # nothing known: the phase is a guess


def test_known_target_augmentation_withholds_or_perturbs():
    from jaxaccomp.diffusion.masks import augment_known_target

    source = jnp.ones((256, 64, 8))
    first = jnp.full((256,), 6)
    same, visible = augment_known_target(jax.random.key(0), source, first, hide=0.0, noise=0.0)
    np.testing.assert_array_equal(same, source)
    np.testing.assert_array_equal(visible, first)
    _, visible = augment_known_target(jax.random.key(0), source, first, hide=1.0, noise=0.0)
    assert int(visible.max()) == 0
    perturbed, visible = augment_known_target(jax.random.key(1), source, first, hide=0.25, noise=0.5)
    hidden = float(jnp.mean(visible == 0))
    assert 0.15 < hidden < 0.35, hidden
    spread = jnp.std(perturbed - source, axis=(1, 2))
    assert float(spread.max()) <= 0.5 * 1.05 and float(spread.min()) < 0.05  # scales uniform in [0, 0.5]


def test_training_can_start_from_an_export(tmp_path):
    from jaxaccomp.training import config as train_config
    from jaxaccomp.training import edm
    from jaxaccomp.training import state as train_state

    base = train_config.from_data({"preset": "frames_tiny"}, train_config.load("tiny"))
    export = train_state.export_denoiser(edm.init_state(base)["params"], base.unet_config())
    save_denoiser(tmp_path / "start", export, codec=EmbeddedCodec.name)
    program = edm.EDMProgram(train_config.from_data({"init_from": str(tmp_path / "start"), "seed": 5}, base))
    start = program.init_state()["params"]
    for a, b in zip(jax.tree.leaves(start), jax.tree.leaves(edm.init_state(base)["params"])):
        np.testing.assert_array_equal(a, b)  # the export's parameters, not seed 5's
    with pytest.raises(CheckpointError, match="not the configured"):
        edm.EDMProgram(train_config.from_data({"init_from": str(tmp_path / "start"), "preset": "frames",
                                               "window": 64}, base))
