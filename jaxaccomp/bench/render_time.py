"""Renderer throughput: hours of 4-stem audio rendered per CPU-hour (goal: at least 20).

python -m jaxaccomp.bench.render_time --songs 10 --seconds 60 --json out.json

Renders into a temporary directory in this process (one worker), so CPU time is this process's.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import soundfile as sf

from jaxaccomp.bench.timing import machine, markdown_table, write_json


def benchmark(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.bench.render_time", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=10, help="songs to render (default 10)")
    parser.add_argument("--seconds", type=float, default=60.0, help="approximate song length (default 60)")
    parser.add_argument("--soundfont", help="soundfont (default: the renderer's, FluidR3_GM)")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    args = parser.parse_args(argv)
    from jaxaccomp.data.render import DEFAULT_SOUNDFONT, render_dataset

    soundfont = args.soundfont or DEFAULT_SOUNDFONT
    with tempfile.TemporaryDirectory() as out:
        cpu, wall = time.process_time(), time.perf_counter()
        tracks = render_dataset(out, args.songs, "train", seed=0, workers=1, soundfont=soundfont, seconds=args.seconds)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        audio_hours = sum(sf.info(str(t / "mix.flac")).duration for t in tracks) / 3600
    row = {"songs": args.songs, "audio_hours": audio_hours, "cpu_s": cpu, "wall_s": wall,
           "hours_per_cpu_hour": audio_hours / (cpu / 3600), "soundfont": str(soundfont)}
    print(markdown_table(["songs", "audio h", "CPU s", "wall s", "h of 4-stem audio per CPU-hour"],
                         [[str(args.songs), f"{audio_hours:.3f}", f"{cpu:.1f}", f"{wall:.1f}",
                           f"{row['hours_per_cpu_hour']:.1f}"]]))
    result = {"environment": machine(), "rows": [row]}
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    from jaxaccomp import cli

    cli.run(benchmark)
