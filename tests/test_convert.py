"""Torch <-> Flax weight conversion, reference Lightning checkpoints and the convert CLI."""

import collections
import subprocess
import sys
import types

import jax
import numpy as np
import pytest

from tests.support.torch_reference import nchw_to_nhwc, nhwc_to_nchw, randomized_reference, reference_inputs
from jaxaccomp.config import preset
from jaxaccomp.convert.torch_files import read_unet_state_dict
from jaxaccomp.convert.torch_weights import WeightMismatchError, export_state_dict, import_state_dict
from jaxaccomp.nn.checkpoint import CheckpointError, load_denoiser
from jaxaccomp.codec.embedded import EmbeddedCodec

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
TINY = preset("tiny")


@pytest.fixture(scope="module")
def reference():
    return randomized_reference(TINY, seed=3)


def _edm_style(state_dict):
    """Rename physicsnemo attention keys to the reference's EDM-style names (norm2/qkv/proj on the block)."""
    renamed = {}
    for key, value in state_dict.items():
        key = key.replace(".attn.norm.", ".norm2.").replace(".attn.qkv.", ".qkv.").replace(".attn.proj.", ".proj.")
        renamed[key] = value
    return renamed


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)


def test_export_of_an_import_gives_back_the_torch_weights(reference):
    torch_weights = {k: v.numpy() for k, v in reference.state_dict().items()
                     if not k.endswith(("resample_filter", "freqs", "device_buffer"))}
    net = import_state_dict(TINY, reference.state_dict())
    _assert_same_weights(export_state_dict(net), torch_weights)
    _assert_same_weights(export_state_dict(net, style="edm"), _edm_style(torch_weights))


def test_exported_weights_load_strictly_into_physicsnemo(reference):
    from jaxaccomp.convert.physicsnemo import build_physicsnemo_unet

    exported = export_state_dict(import_state_dict(TINY, reference.state_dict()))
    fresh = build_physicsnemo_unet(TINY)
    result = fresh.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in exported.items()}, strict=False)
    assert result.unexpected_keys == []
    assert all(k.endswith(("resample_filter", "device_buffer")) for k in result.missing_keys)
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value, rtol=0, atol=0)


def test_edm_style_names_import_to_the_same_network(reference):
    a = export_state_dict(import_state_dict(TINY, reference.state_dict()))
    b = export_state_dict(import_state_dict(TINY, _edm_style(reference.state_dict())))
    _assert_same_weights(a, b)


def test_mismatches_name_every_offending_key(reference):
    weights = dict(reference.state_dict())
    weights.pop("map_layer0.weight")
    weights["enc.64x64_block0.extra.weight"] = torch.zeros(1)
    weights["map_label.weight"] = torch.zeros(3, 3)
    with pytest.raises(WeightMismatchError) as info:
        import_state_dict(TINY, weights)
    message = str(info.value)
    assert "missing keys: map_layer0.weight" in message
    assert "unexpected keys: enc.64x64_block0.extra.weight" in message
    assert "shape mismatches: map_label.weight" in message
    with pytest.raises(WeightMismatchError, match="missing keys"):
        import_state_dict(preset("small"), reference.state_dict())


def _write_lightning_ckpt(path, networks):
    """A checkpoint shaped like the reference's: prefixed networks, buffers, and foreign pickled objects."""
    module = types.ModuleType("reference_training_code")
    hparams_cls = type("Hyperparameters", (), {"__module__": module.__name__})
    module.Hyperparameters = hparams_cls
    sys.modules[module.__name__] = module
    hparams = hparams_cls()
    hparams.lr = 1e-4
    state = collections.OrderedDict()
    for prefix, net in networks.items():
        for key, value in net.state_dict().items():
            state[prefix + key] = value
    torch.save({"state_dict": state, "hyper_parameters": hparams, "epoch": 214, "global_step": 1000}, path)
    del sys.modules[module.__name__]  # loading must not need the reference's code


def test_lightning_ldm_and_cd_checkpoints_select_the_right_network(tmp_path, reference):
    other = randomized_reference(TINY, seed=4)
    ldm = tmp_path / "ldm.ckpt"
    _write_lightning_ckpt(ldm, {"model.unet.": reference, "model.diffusion.net.": reference})
    cd = tmp_path / "cd.ckpt"
    _write_lightning_ckpt(cd, {"net.model.unet.": reference, "target_model.model.unet.": other,
                               "teacher_model.model.unet.": other})

    weights, which = read_unet_state_dict(ldm)
    assert which == "ldm"
    _assert_same_weights(weights, reference.state_dict())
    weights, which = read_unet_state_dict(cd)
    assert which == "student"
    _assert_same_weights(weights, reference.state_dict())
    weights, which = read_unet_state_dict(cd, "target")
    _assert_same_weights(weights, other.state_dict())
    with pytest.raises(ValueError, match="no teacher network"):
        read_unet_state_dict(ldm, "teacher")


def _convert(*args):
    return subprocess.run([sys.executable, "-m", "jaxaccomp.convert", *map(str, args)], capture_output=True, text=True)


def test_cli_converts_a_reference_checkpoint_that_then_matches_torch(tmp_path, reference):
    ckpt = tmp_path / "last.ckpt"
    _write_lightning_ckpt(ckpt, {"net.model.unet.": reference, "target_model.model.unet.": reference})
    result = _convert("import", ckpt, tmp_path / "ours", "--preset", "tiny")
    assert result.returncode == 0, result.stderr
    assert "student weights" in result.stdout

    denoiser, meta = load_denoiser(tmp_path / "ours", expected_codec="music2latent")
    assert denoiser.mode == "consistency" and meta["codec"] == "music2latent"
    x, noise, labels = reference_inputs(2, seed=5)
    with torch.inference_mode():
        expected = reference(torch.from_numpy(x), torch.from_numpy(noise), torch.from_numpy(labels)).numpy()
    actual = nhwc_to_nchw(jax.jit(lambda m, *a: m(*a))(denoiser.net, nchw_to_nhwc(x), noise, labels))
    assert np.abs(actual - expected).max() < 1e-4

    with pytest.raises(CheckpointError, match=f"trained on codec 'music2latent' but codec '{EmbeddedCodec.name}'"):
        load_denoiser(tmp_path / "ours", expected_codec=EmbeddedCodec.name)

    result = _convert("export", tmp_path / "ours", tmp_path / "unet.pt", "--style", "edm")
    assert result.returncode == 0, result.stderr
    exported = torch.load(tmp_path / "unet.pt", weights_only=True)
    assert "enc.32x32_block0.qkv.weight" in exported
    torch.testing.assert_close(exported["enc.32x32_block0.qkv.weight"],
                               reference.state_dict()["enc.32x32_block0.attn.qkv.weight"], rtol=0, atol=0)


def test_cli_errors_are_one_line(tmp_path, reference):
    result = _convert("import", tmp_path / "absent.ckpt", tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: no such checkpoint file: {tmp_path / 'absent.ckpt'}"

    ckpt = tmp_path / "last.ckpt"
    _write_lightning_ckpt(ckpt, {"model.unet.": reference})
    result = _convert("import", ckpt, tmp_path / "out", "--preset", "small")
    assert result.returncode == 1
    assert result.stderr.startswith("error: state_dict does not fit the SongUNet config: missing keys:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
