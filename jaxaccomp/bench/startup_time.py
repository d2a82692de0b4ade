"""Start-up: seconds from launching serve.py until it serves, with a cold and a warm compilation cache.

python -m jaxaccomp.bench.startup_time --json out.json [--checkpoint DIR] [--mode consistency]

Each run starts serve.py on a free port with a fresh cache folder (`cold`: every program compiles and
is written to the cache), then again with the same folder (`warm`: programs are read back), then
with the cache off, and stops it with Ctrl-C once it prints "serving on". The median over --repeats
of each is reported beside the warm-up time the server itself prints.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jaxaccomp.bench.timing import machine, markdown_table, write_json
from jaxaccomp.compile_cache import ENV

ROOT = Path(__file__).resolve().parent.parent.parent
WARM_UP = re.compile(r"warm-up took ([0-9.]+) s")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.bench.startup_time", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="model to serve (default: serve.py's)")
    parser.add_argument("--mode", choices=("diffusion", "consistency"), help="serve.py --mode")
    parser.add_argument("--repeats", type=int, default=3, help="starts of each kind (default 3)")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    return parser


def start_once(serve_args: list[str], cache: str) -> dict[str, float]:
    """Launch serve.py, wait for "serving on", stop it; seconds to ready and the warm-up it reports."""
    env = {**os.environ, ENV: cache}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "serve.py", "--port", "0", *serve_args], cwd=ROOT, env=env,
                              stderr=subprocess.PIPE, text=True)
    warm_up = None
    try:
        for line in server.stderr:
            if match := WARM_UP.search(line):
                warm_up = float(match.group(1))
            if line.startswith("serving on"):
                ready = time.perf_counter() - started
                break
        else:
            raise RuntimeError(f"serve.py ended with status {server.wait()} before serving")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    return {"ready_s": ready, "warm_up_s": warm_up}


def benchmark(checkpoint: Path | None, mode: str | None, repeats: int) -> dict[str, Any]:
    serve_args = [*(["--checkpoint", str(checkpoint)] if checkpoint else []), *(["--mode", mode] if mode else [])]
    runs: dict[str, list[dict[str, float]]] = {"cold": [], "warm": [], "off": []}
    for _ in range(repeats):
        folder = tempfile.mkdtemp(prefix="jaxaccomp-xla-")
        try:
            runs["cold"].append(start_once(serve_args, folder))
            runs["warm"].append(start_once(serve_args, folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        runs["off"].append(start_once(serve_args, "off"))
    rows = {kind: {key: statistics.median(run[key] for run in kind_runs) for key in ("ready_s", "warm_up_s")}
            for kind, kind_runs in runs.items()}
    return {"machine": machine(), "serve_args": serve_args, "repeats": repeats, "medians": rows, "runs": runs}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parser().parse_args(argv)
    if args.repeats < 1:
        raise ValueError("--repeats must be at least 1")
    result = benchmark(args.checkpoint, args.mode, args.repeats)
    print(markdown_table(["compilation cache", "ready after (s)", "warm-up it reports (s)"],
                         [[kind, f"{row['ready_s']:.1f}", f"{row['warm_up_s']:.1f}"]
                          for kind, row in result["medians"].items()]))
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    from jaxaccomp.cli import run

    run(main)
