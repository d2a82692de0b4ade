import pytest

from jaxaccomp.config import UNetConfig, from_dict, preset
from jaxaccomp.nn.songunet import abstract_unet, count_params


def test_paper_preset_has_the_reference_parameter_count():
    assert count_params(abstract_unet(preset("paper"))) == 257_523_969


@pytest.mark.torch
@pytest.mark.parametrize("name", ["small", "tiny"])
def test_small_presets_match_the_torch_parameter_count(name):
    from jaxaccomp.convert.physicsnemo import build_physicsnemo_unet

    torch_count = sum(p.numel() for p in build_physicsnemo_unet(preset(name)).parameters())
    assert count_params(abstract_unet(preset(name))) == torch_count


def test_paper_preset_is_the_reference_architecture():
    p = preset("paper")
    assert (p.img_resolution, p.in_channels, p.out_channels, p.label_dim) == (64, 2, 1, 4)
    assert (p.model_channels, p.channel_mult, p.num_blocks) == (256, (1, 2, 2, 2), 4)
    assert (set(p.attn_resolutions), p.dropout) == ({32, 16, 8}, 0.1)


def test_unknown_preset_and_keys_are_clear_errors():
    with pytest.raises(ValueError, match="unknown preset 'huge'; choose one of paper, small, tiny"):
        preset("huge")
    with pytest.raises(ValueError, match="unknown UNetConfig keys: model_chanels"):
        from_dict(UNetConfig, {"model_chanels": 8})


def test_resolution_must_fit_the_levels():
    with pytest.raises(ValueError, match="multiple of 8"):
        UNetConfig(img_resolution=60)
