"""JAX's persistent compilation cache, shared by every command that compiles a model.

Compiling the samplers is most of a start-up (serve.py: about two minutes on a 2-core CPU), and the
programs are the same from one start to the next. With the cache on disk a restart with the same
model and settings loads them instead. One folder serves serve.py, accompany, the evaluation, the
demo, train.py and distill.py; XLA keys every entry by the program, the backend and the versions,
so a change of model, settings, jax or device simply misses.

Where: $JAXACCOMP_COMPILE_CACHE if set (empty or "off" turns the cache off), else
$XDG_CACHE_HOME/jaxaccomp/xla, else ~/.cache/jaxaccomp/xla.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV = "JAXACCOMP_COMPILE_CACHE"
OFF = ("", "off", "0", "false", "no")
# Programs that compile faster than this are cheaper to recompile than to read back (they are many,
# e.g. every small array op); the samplers, codecs and training steps all take longer.
MIN_COMPILE_SECONDS = 0.2


def cache_dir() -> Path | None:
    """The cache folder this process uses, or None when the user turned the cache off."""
    chosen = os.environ.get(ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in OFF else Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxaccomp" / "xla"


def enable_compile_cache() -> Path | None:
    """Point JAX at the cache folder (created if needed); returns it, or None if off or not writable.

    A cache that cannot be created only costs time, so it is a warning, never an error."""
    path = cache_dir()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"warning: no compilation cache ({exc}); every start compiles from scratch. "
              f"Set {ENV} to a writable folder, or to 'off'.", file=sys.stderr)
        return None
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
