"""Shared command-line behaviour: user mistakes become one-line errors and a non-zero exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable

# Errors caused by input (paths, configs, checkpoints); anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, PermissionError)


def run(main: Callable[[], object]) -> None:
    """Call `main`, turning a user error into `error: <message>` on stderr and exit status 1.

    An int returned by `main` is the exit status; anything else (a benchmark's record) means 0.
    """
    try:
        code = main()
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
