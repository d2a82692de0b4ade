"""Builds the C++ clients in max/ (core, driver, Pd external) once per test session with cmake."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "max" / "build"  # gitignored; reused between runs so a rebuild is incremental


def require(*tools: str) -> None:
    """Skip (with the reason) when a build or run tool is not installed; callable at module level."""
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install cmake g++ puredata-core puredata-dev)",
                        allow_module_level=True)


@functools.cache
def build() -> Path:
    """Configure and build max/ with two jobs; returns the build folder. A failure shows cmake's output."""
    require("cmake", "c++")
    for command in (["cmake", "-S", str(ROOT / "max"), "-B", str(BUILD), "-DCMAKE_BUILD_TYPE=Release"],
                    ["cmake", "--build", str(BUILD), "-j2"]):
        run = subprocess.run(command, capture_output=True, text=True)
        assert run.returncode == 0, f"{' '.join(command)} failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    return BUILD
