"""The benchmark's torch side: the same EDM loss and samplers as plain eager torch loops.

Written from the formulas (docs/model.md: preconditioning, losses, samplers), independently of the
JAX code, so the benchmark compares like with like: one network call in torch per call in JAX.
"""

from __future__ import annotations

import math

import torch


def denoise(net: torch.nn.Module, x: torch.Tensor, sigma: torch.Tensor, context: torch.Tensor,
            labels: torch.Tensor, mode: str = "diffusion", sigma_min: float = 1e-4) -> torch.Tensor:
    """D(x; sigma) with sigma_data = 1 on [B, H, W] latents; sigma is [B]."""
    s = sigma[:, None, None]
    shifted = s - sigma_min if mode == "consistency" else s
    c_skip, c_out, c_in = 1 / (shifted**2 + 1), shifted / torch.sqrt(s**2 + 1), 1 / torch.sqrt(s**2 + 1)
    f = net(torch.stack([c_in * x, context], dim=1), torch.log(sigma) / 4, labels)[:, 0]
    return c_skip * x + c_out * f.float()


def dsm_loss(net: torch.nn.Module, target: torch.Tensor, context: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """EDM DSM with log-normal sigma and 0/16/32-of-64 masked context columns."""
    batch, width = target.shape[0], target.shape[-1]
    sigma = torch.exp(-1.2 + 1.2 * torch.randn(batch, device=target.device))
    zeroed = torch.tensor([0, width // 4, width // 2], device=target.device)[torch.randint(0, 3, (batch,))]
    keep = torch.arange(width, device=target.device)[None, :] < (width - zeroed)[:, None]
    noisy = target + sigma[:, None, None] * torch.randn_like(target)
    denoised = denoise(net, noisy, sigma, context * keep[:, None, :], labels)
    weight = (sigma**2 + 1) / sigma**2
    return (((denoised - target) ** 2).mean(dim=(1, 2)) * weight).mean()


def adpm2_inpaint(net: torch.nn.Module, source: torch.Tensor, known: torch.Tensor, context: torch.Tensor,
                  labels: torch.Tensor, sigmas: list[float], resamples: int) -> torch.Tensor:
    """ADPM2 with RePaint resamples; known: [B, W] bool."""
    mask = known[:, None, :].float()
    batch = source.shape[0]

    def d(x: torch.Tensor, sigma: float) -> torch.Tensor:
        return denoise(net, x, torch.full((batch,), sigma, device=x.device), context, labels)

    x = sigmas[0] * torch.randn_like(source)
    for i in range(len(sigmas) - 2):
        sigma, nxt = sigmas[i], sigmas[i + 1]
        sigma_up = math.sqrt(nxt**2 * (sigma**2 - nxt**2) / sigma**2)
        sigma_down = math.sqrt(nxt**2 - sigma_up**2)
        sigma_mid = (sigma + sigma_down) / 2
        noised_source = source + sigma * torch.randn_like(source)
        for j in range(resamples):
            x = mask * noised_source + (1 - mask) * x
            slope = (x - d(x, sigma)) / sigma
            x_mid = x + slope * (sigma_mid - sigma)
            x = x + (x_mid - d(x_mid, sigma_mid)) / sigma_mid * (sigma_down - sigma) + sigma_up * torch.randn_like(x)
            if j < resamples - 1:
                x = x + math.sqrt(sigma**2 - nxt**2) * torch.randn_like(x)
    return mask * source + (1 - mask) * x


def consistency_sample(net: torch.nn.Module, source: torch.Tensor, known: torch.Tensor, context: torch.Tensor,
                       labels: torch.Tensor, sigmas: list[float]) -> torch.Tensor:
    """Multistep consistency sampling; sigmas = the steps' levels then sigma_min."""
    mask = known[:, None, :].float()
    batch, steps, sigma_min = source.shape[0], len(sigmas) - 1, sigmas[-1]
    x = sigmas[0] * torch.randn_like(source)
    for i in range(steps):
        x_in = mask * (source + sigmas[i] * torch.randn_like(source)) + (1 - mask) * x
        sigma = torch.full((batch,), sigmas[i], device=x.device)
        x0 = denoise(net, x_in, sigma, context, labels, mode="consistency", sigma_min=sigma_min)
        x = x0 + math.sqrt(max(sigmas[i + 1] ** 2 - sigma_min**2, 0.0)) * torch.randn_like(x0)
    return mask * source + (1 - mask) * x0
