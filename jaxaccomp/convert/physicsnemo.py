"""The independent torch reference: physicsnemo's SongUNet built from one of our configs.

Used by the equivalence tests and the step-time benchmark. physicsnemo is an optional install
(`make install` adds it); importing this module without it raises a clear error.
"""

from __future__ import annotations

import torch

from jaxaccomp.config import UNetConfig


def build_physicsnemo_unet(config: UNetConfig, dropout: float = 0.0, amp_mode: bool = False) -> torch.nn.Module:
    """physicsnemo SongUNet with the reference's DDPM++ settings, in train mode.

    `amp_mode` lets it run under torch autocast (bfloat16 benchmarks); without autocast it computes the
    same (the only difference is casts between dtypes, which float32 alone never needs).

    physicsnemo's eval-mode GroupNorm uses the unbiased variance, while the reference (EDM networks)
    always uses torch's biased `group_norm`, which physicsnemo runs in train mode. So the reference
    stays in train mode; with the default dropout 0 its forward is the reference's inference forward.
    """
    try:
        from physicsnemo.models.diffusion import SongUNet
    except ImportError as exc:
        raise ImportError("the torch reference needs nvidia-physicsnemo==1.3.0 (installed by `make install`)") from exc
    net = SongUNet(
        img_resolution=config.img_resolution,
        in_channels=config.in_channels,
        out_channels=config.out_channels,
        label_dim=config.label_dim,
        model_channels=config.model_channels,
        channel_mult=list(config.channel_mult),
        channel_mult_emb=config.channel_mult_emb,
        channel_mult_noise=config.channel_mult_noise,
        num_blocks=config.num_blocks,
        attn_resolutions=list(config.attn_resolutions),
        dropout=dropout,
        embedding_type="positional",
        encoder_type="standard",
        decoder_type="standard",
        resample_filter=[1, 1],
        amp_mode=amp_mode,
    )
    return net.train()
