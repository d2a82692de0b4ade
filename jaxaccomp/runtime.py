"""Where and in what precision a front end runs: `--dtype`, `--device` and `--codec-device`.

serve.py, `accompany` and the evaluation take the same three flags, defined here once. They must
take effect before JAX starts its backend (the first call that needs a device), so `Runtime.apply`
runs right after the arguments are checked and before any model or codec is loaded.

Precision: `--dtype bfloat16` runs the network's matrix products and activations in bfloat16. What
stays float32, and why: the stored parameters (cast per operation, so one checkpoint serves both),
the normalisation statistics and softmax (computed in float32 inside the blocks), the EDM
preconditioning and skip connection `c_skip x + c_out F` (the output at low noise is mostly the
skip term, which bf16's 8-bit mantissa would blur), the sampler's state, noise and schedule, and
the codecs (the embedded one is numpy; Music2Latent runs as its package runs it).

Devices: JAX picks a GPU by itself when a CUDA build is installed; `--device cpu` keeps it off one.
JAX preallocates 75 % of a GPU at start-up, which would starve a codec in torch on the same card, so
`share_gpu_with_torch` makes JAX allocate on demand whenever serving may put both on one device.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

DTYPES = ("float32", "bfloat16")
DEVICES = ("cpu", "cuda")  # JAX platforms a user can ask for; None leaves the choice to JAX
PREALLOCATE = "XLA_PYTHON_CLIENT_PREALLOCATE"


def share_gpu_with_torch() -> None:
    """Let JAX take GPU memory as it needs it rather than most of the card at start-up (unless the
    environment already says otherwise); only effective before JAX's backend starts."""
    os.environ.setdefault(PREALLOCATE, "false")


def _codec_device(text: str) -> str:
    """argparse type: a torch device string for Music2Latent (cpu, cuda, cuda:N or mps)."""
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and not (kind == "cuda" and index.isdigit())):
        raise argparse.ArgumentTypeError(f"a codec device is cpu, cuda, cuda:N or mps, got {text!r}")
    return text


@dataclass(frozen=True)
class Runtime:
    """The model's compute dtype, JAX's platform and the codec's torch device."""

    dtype: str = "float32"
    device: str | None = None  # None: JAX's own choice (a GPU when a CUDA build is installed)
    codec_device: str | None = None  # None: Music2Latent's own choice (cuda, then mps, then cpu)

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--dtype", choices=DTYPES, default="float32",
                            help="compute precision of the network (parameters, normalisation, preconditioning and "
                                 "sampler stay float32; default: float32). bfloat16 is for GPUs; on a CPU it is slower")
        parser.add_argument("--device", choices=DEVICES,
                            help="where JAX runs the model (default: a GPU if JAX has a CUDA build, else the CPU)")
        parser.add_argument("--codec-device", type=_codec_device, metavar="DEVICE",
                            help="torch device of the Music2Latent codec: cpu, cuda, cuda:N or mps (default: the "
                                 "first of cuda, mps, cpu there is); the embedded codec is numpy and runs on the CPU")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Runtime":
        return cls(args.dtype, args.device, args.codec_device)

    def apply(self) -> None:
        """Choose JAX's platform and its GPU memory policy, then check that `--device cuda` got a GPU (a
        one-line error, not a backend traceback). Call before anything touches a JAX device."""
        import jax

        if self.device == "cpu":
            jax.config.update("jax_platforms", "cpu")
        else:
            share_gpu_with_torch()
        if self.device == "cuda" and jax.default_backend() != "gpu":
            raise ValueError(f"--device cuda: JAX found no GPU here (it would run on {jax.default_backend()}); "
                             "a GPU needs a CUDA build of jax (docs/install.md)")

    @property
    def jax_dtype(self):
        import jax.numpy as jnp

        return jnp.dtype(self.dtype)
