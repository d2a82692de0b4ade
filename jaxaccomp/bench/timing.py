"""What every benchmark shares: timing with warm-up, the machine record, and the printed table."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def measure(fn: Callable[[], Any], sync: Callable[[Any], Any], warmup: int, repeats: int) -> dict[str, float]:
    """First call (compile) time in s, then median and min in ms over `repeats` calls after `warmup`."""
    start = time.perf_counter()
    sync(fn())
    first = time.perf_counter() - start
    for _ in range(warmup):
        sync(fn())
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        sync(fn())
        samples.append(time.perf_counter() - start)
    return {"first_s": first, "median_ms": 1e3 * statistics.median(samples), "min_ms": 1e3 * min(samples)}


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "cpu"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "cpu")


def machine() -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "loadavg_1min": os.getloadavg()[0],
    }


def markdown_table(header: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    rows = [list(header), *map(list, lines)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |"

    return "\n".join([fmt(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, rows[1:])])


def write_json(path: Path | None, result: dict[str, Any]) -> None:
    """Write a benchmark's record where --json asked for it (nothing when it did not)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
