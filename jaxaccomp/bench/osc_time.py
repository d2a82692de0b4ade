"""OSC speed: build and parse one `/context` audio chunk with python-osc, our fast path and the blob extension.

python -m jaxaccomp.bench.osc_time --json out.json

The server sends a 1.5 s stem as 16 chunks of 4410 floats and must do so well inside one step, so a
per-chunk cost of milliseconds (python-osc builds one float argument at a time) adds up.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from jaxaccomp.bench.timing import machine, markdown_table, measure, write_json
from jaxaccomp.protocol import AudioChunk, parse

HEADER = (1, 0, 15)  # batch id, start, total


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.bench.osc_time", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4410, 10240], help="floats per chunk")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls after the first (default 3)")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls (default 20)")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    return parser


def _python_osc(samples: np.ndarray) -> bytes:
    """What a python-osc server does: one add_arg per float (it needs Python floats)."""
    builder = OscMessageBuilder("/context")
    for value in HEADER:
        builder.add_arg(value, "i")
    for value in samples.tolist():
        builder.add_arg(value, "f")
    return builder.build().dgram


def _formats(samples: np.ndarray) -> dict[str, tuple[Callable[[], bytes], Callable[[bytes], Any]]]:
    """(build, parse) per format; python-osc's OscMessage parses every argument when created."""
    return {
        "python-osc ,iii f...": (lambda: _python_osc(samples), OscMessage),
        "wire ,iii f...": (lambda: AudioChunk("/context", *HEADER, samples).encode(), parse),
        "wire ,iiib (blob)": (lambda: AudioChunk("/context", *HEADER, samples, blob=True).encode(), parse),
    }


def benchmark(argv: list[str] | None = None) -> dict[str, Any]:
    """Run for command-line `argv`; prints the table and returns the JSON record."""
    args = _parser().parse_args(argv)
    rows, lines = [], []
    for n in args.sizes:
        samples = np.random.default_rng(0).uniform(-1, 1, n).astype(np.float32)
        baseline = None
        for name, (build, decode) in _formats(samples).items():
            datagram = build()
            timing = {"build": measure(build, lambda _: None, args.warmup, args.repeats),
                      "parse": measure(lambda: decode(datagram), lambda _: None, args.warmup, args.repeats)}
            total_ms = timing["build"]["median_ms"] + timing["parse"]["median_ms"]
            baseline = baseline or total_ms  # the first format, python-osc
            rows.append({"floats": n, "format": name, "bytes": len(datagram), **timing, "speedup": baseline / total_ms})
            cells = [f"{timing[what]['median_ms']:.3f} ({timing[what]['min_ms']:.3f})" for what in ("build", "parse")]
            lines.append([str(n), name, str(len(datagram)), *cells, f"{baseline / total_ms:.0f}x"])
    result = {"environment": machine(), "rows": rows}
    print(markdown_table(["floats", "format", "bytes", "build ms median (min)", "parse ms median (min)",
                          "speed-up (build + parse)"], lines))
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    from jaxaccomp import cli

    cli.run(benchmark)
