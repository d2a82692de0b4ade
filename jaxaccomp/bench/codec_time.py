"""Codec speed: encode 6 s and decode 1.5 s of audio with each codec, on the current device.

python -m jaxaccomp.bench.codec_time --json out.json

Music2Latent runs the full-size network with random weights (speed does not depend on the
values); it is skipped with a note when the package is not installed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from jaxaccomp.bench.timing import machine, markdown_table, measure, write_json
from jaxaccomp.codec.base import decoded_length
from jaxaccomp.constants import SAMPLE_RATE

ENCODE_SAMPLES = 264600  # 6 s, the model's window: 64 latent frames
DECODE_FRAMES = 16  # 1.5 s: a quarter-window step


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.bench.codec_time", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codecs", nargs="+", default=["embedded", "music2latent"],
                        choices=["embedded", "music2latent"], help="codecs to time (default both)")
    parser.add_argument("--device", default=None, help="torch device for Music2Latent (default cuda, mps, then cpu)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls after the first (default 1)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls (default 5)")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    return parser


def _codec(name: str, device: str | None):
    if name == "embedded":
        from jaxaccomp.codec.embedded import EmbeddedCodec

        return EmbeddedCodec(), "cpu (numpy)"
    from jaxaccomp.codec.music2latent import Music2LatentCodec

    codec = Music2LatentCodec.random("full", device=device)
    return codec, f"{codec.device} (torch, random weights)"


def _sync(device: str):
    def sync(_: Any) -> None:
        if device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()

    return sync


def benchmark(argv: list[str] | None = None) -> dict[str, Any]:
    """Run for command-line `argv`; prints the table and returns the JSON record."""
    args = _parser().parse_args(argv)
    audio = (0.1 * np.random.default_rng(0).standard_normal((1, ENCODE_SAMPLES))).astype(np.float32)
    rows, lines = [], []
    for name in args.codecs:
        try:
            codec, where = _codec(name, args.device)
        except ImportError as exc:
            print(f"skipping {name}: {exc}")
            continue
        latents = codec.encode(audio)[:, :, :DECODE_FRAMES]
        sync = _sync(where)
        for what, seconds, fn in (
            ("encode 6 s", ENCODE_SAMPLES / SAMPLE_RATE, lambda: codec.encode(audio)),
            ("decode 1.5 s", decoded_length(DECODE_FRAMES) / SAMPLE_RATE, lambda: codec.decode(latents, seed=0)),
        ):
            timing = measure(fn, sync, args.warmup, args.repeats)
            realtime = seconds / (timing["median_ms"] / 1e3)
            rows.append({"codec": name, "device": where, "what": what, "audio_s": seconds, **timing,
                         "times_realtime": realtime})
            lines.append([name, where, what, f"{timing['median_ms']:.1f} ({timing['min_ms']:.1f})", f"{realtime:.1f}x"])
    result = {"environment": machine(), "rows": rows}
    print(markdown_table(["codec", "device", "what", "ms median (min)", "x real time"], lines))
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    from jaxaccomp import cli

    cli.run(benchmark)
