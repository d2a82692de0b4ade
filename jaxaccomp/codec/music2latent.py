"""Music2Latent (paper tier): the package's real torch network, frozen, behind our Codec contract.

The weights (CC BY-NC 4.0) come only from the Hugging Face hub, which this code never contacts:
the checkpoint is found on disk or the codec is unavailable. The package's own constructor always
tries a download and loads non-strictly, so the network is built and loaded here instead:
strictly, weights-only, then handed to the package's encode/decode for the signal processing.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxaccomp.codec.base import GridConstants, HeardBand, check_audio, check_latents
from jaxaccomp.runtime import share_gpu_with_torch

ENV_CHECKPOINT = "JAXACCOMP_M2L_CHECKPOINT"
HUB_REPO, HUB_FILE = "SonyCSLParis/music2latent", "music2latent.pt"
# Module globals of music2latent 0.1.8 that shrink the network with the same inputs and outputs.
TINY_GLOBALS = dict(base_channels=8, bottleneck_base_channels=64, cond_channels=64, num_bottleneck_layers=1)


class CheckpointNotFound(FileNotFoundError):
    """No Music2Latent checkpoint on this machine; the message names every place looked in."""


def _package():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a miss must cost nothing, never hub retries
    try:
        import music2latent.inference as inference
        import music2latent.models as models
    except ImportError as exc:
        raise ImportError("the Music2Latent codec needs `pip install music2latent==0.1.8` (make install does it)") from exc
    return inference, models


def checkpoint_candidates(explicit: str | Path | None = None) -> list[tuple[str, Path | None]]:
    """Where a checkpoint may be, in order: argument, environment, Hugging Face cache, package folder."""
    inference, _ = _package()
    candidates: list[tuple[str, Path | None]] = []
    if explicit is not None:
        candidates.append(("--codec-checkpoint", Path(explicit)))
    if os.environ.get(ENV_CHECKPOINT):
        candidates.append((f"${ENV_CHECKPOINT}", Path(os.environ[ENV_CHECKPOINT])))
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(HUB_REPO, HUB_FILE)
    candidates.append(("Hugging Face cache", Path(cached) if isinstance(cached, str) else None))
    candidates.append(("music2latent package folder", Path(inference.load_path_inference_default)))
    return candidates


def resolve_checkpoint(explicit: str | Path | None = None) -> Path:
    """The first existing checkpoint file; an explicit path that does not exist is an error at once."""
    candidates = checkpoint_candidates(explicit)
    if explicit is not None and not Path(explicit).is_file():
        raise CheckpointNotFound(f"Music2Latent checkpoint {explicit} does not exist")
    for _, path in candidates:
        if path is not None and path.is_file():
            return path
    looked = "; ".join(f"{label}: {path if path else f'no {HUB_REPO}/{HUB_FILE}'}" for label, path in candidates)
    raise CheckpointNotFound(f"no Music2Latent checkpoint found (looked in {looked}); "
                             f"set {ENV_CHECKPOINT} to the file (latent_cache also takes --codec-checkpoint)")


def default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


@contextlib.contextmanager
def _quiet_autocast():
    """The package asks for CUDA autocast unconditionally; on CPU torch warns on every call."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*autocast.*")
        yield


@contextlib.contextmanager
def _patched_globals(module, values: dict):
    saved = {k: getattr(module, k) for k in values}
    for k, v in values.items():
        setattr(module, k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(module, k, v)


def build_network(size: str = "full", zero_init: bool = True):
    """The package's UNet (58.2 M params) or its `tiny` variant (0.9 M); random weights."""
    if size not in ("full", "tiny"):
        raise ValueError(f"unknown Music2Latent size {size!r}; choose 'full' or 'tiny'")
    _, models = _package()
    overrides = dict(TINY_GLOBALS if size == "tiny" else {}, init_as_zero=zero_init)
    with _patched_globals(models, overrides):
        return models.UNet()


class Music2LatentCodec(GridConstants):
    """Frozen Music2Latent: deterministic encode, seeded one-step consistency decode."""

    name = "music2latent"

    def __init__(self, checkpoint: str | Path | None = None, device: str | None = None, *, network=None):
        """Load the checkpoint (see `resolve_checkpoint`), or wrap a given `network` (random weights)."""
        import torch

        inference, _ = _package()
        self.device = torch.device(device or default_device())
        if self.device.type == "cuda":
            share_gpu_with_torch()
        self.is_pretrained = network is None
        if network is None:
            self.checkpoint = resolve_checkpoint(checkpoint)
            network = build_network("full")
            try:
                network.load_state_dict(self._read_weights(self.checkpoint), strict=True)
            except RuntimeError as exc:  # torch lists every key over many lines: one line, shortened
                detail = " ".join(line.strip() for line in str(exc).splitlines()[1:])[:300]
                raise ValueError(f"{self.checkpoint} does not fit the Music2Latent network: {detail}") from None
        self.network = network.to(self.device).eval().requires_grad_(False)
        # The package's EncoderDecoder minus its constructor (which always tries the hub).
        self._package = inference.EncoderDecoder.__new__(inference.EncoderDecoder)
        self._package.device, self._package.gen = self.device, self.network

    @classmethod
    def random(cls, size: str = "tiny", seed: int = 0, device: str | None = None) -> "Music2LatentCodec":
        """The real architecture with random weights (non-zero output layers, so decodes are audible)."""
        import torch

        torch.manual_seed(seed)
        return cls(device=device, network=build_network(size, zero_init=False))

    @staticmethod
    def _read_weights(path: Path) -> dict:
        from jaxaccomp.codec.torch_pickle import load_torch_file

        checkpoint = load_torch_file(path)
        if not isinstance(checkpoint, dict) or "gen_state_dict" not in checkpoint:
            raise ValueError(f"{path} is not a Music2Latent checkpoint (no gen_state_dict)")
        return checkpoint["gen_state_dict"]

    def encode_tensor(self, audio: np.ndarray):
        """[B, L] audio -> [B, 64, T] latents as a torch tensor on the codec's device."""
        audio = check_audio(audio)
        with _quiet_autocast():
            return self._package.encode(audio, max_batch_size=audio.shape[0]).float()

    def encode(self, audio: np.ndarray) -> np.ndarray:
        return self.encode_tensor(audio).cpu().numpy()

    def decode_tensor(self, latents, seed: int = 0) -> np.ndarray:
        """Decode latents given as a torch tensor (any device) or numpy array."""
        import torch

        if not isinstance(latents, torch.Tensor):
            latents = torch.from_numpy(check_latents(latents))
        elif latents.ndim != 3 or latents.shape[1] != self.latent_channels or not torch.isfinite(latents).all():
            check_latents(latents.detach().cpu().numpy())  # the same one-line errors as numpy input
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), _quiet_autocast():
            torch.manual_seed(seed)
            audio = self._package.decode(latents.float(), max_batch_size=latents.shape[0])
        return audio.float().cpu().numpy()

    def decode(self, latents: np.ndarray, seed: int = 0, start_column: int = 0) -> np.ndarray:
        """Music2Latent's decoder is a network with no notion of the stream: `start_column` is unused."""
        return self.decode_tensor(check_latents(latents), seed)

    def in_tune(self, target: np.ndarray, context: np.ndarray, band: HeardBand | None = None,
                roots: Sequence[bool] = (), voicing: Sequence[float] = ()) -> np.ndarray:
        """Unchanged: Music2Latent's latents hold no pitch that could be moved to a grid."""
        return target
