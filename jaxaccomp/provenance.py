"""What produced an output: the package version, the git commit of a checkout, library versions and
the command line, recorded in every report we write so a result can be traced and reproduced."""

from __future__ import annotations

import hashlib
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


def checkpoint_hash(path: Path) -> str:
    """The first 16 hex digits of a sha256 over a model folder's files (relative names and bytes), or
    over one checkpoint file: two models with the same name but other weights never pass for each other."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update((file.name if file == path else file.relative_to(path).as_posix()).encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]

