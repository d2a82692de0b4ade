"""What produced an output: the package version, the git commit of a checkout, library versions and
the command line, recorded in every report we write so a result can be traced and reproduced."""

from __future__ import annotations

import platform
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

LIBRARIES = ("jax", "flax", "numpy", "torch")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_commit() -> str | None:
    """`git describe` of the checkout this package runs from (-dirty with uncommitted changes), if any."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
                              capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def provenance() -> dict[str, object]:
    """JSON-ready: versions, commit and the command line of this process."""
    return {"jaxaccomp": _version("jaxaccomp"), "git": git_commit(), "python": platform.python_version(),
            **{name: _version(name) for name in LIBRARIES}, "command": shlex.join(sys.argv)}
