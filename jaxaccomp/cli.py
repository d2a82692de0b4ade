"""Shared command-line behaviour: user mistakes become one-line errors and a non-zero exit code."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

# Errors caused by input (paths, configs, checkpoints); anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError)


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


def add_json_output(parser: argparse.ArgumentParser, what: str) -> None:
    """`--json PATH` (also write `what` there) and `--force`: an existing file is kept unless forced."""
    parser.add_argument("--json", type=Path, help=f"also write {what} here (refuses to overwrite without --force)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --json file")


def check_json_output(args: argparse.Namespace) -> None:
    """A one-line FileExistsError, before any work, if `--json` names an existing file without `--force`."""
    if args.json is not None and args.json.exists() and not args.force:
        raise FileExistsError(f"{args.json} exists: choose another --json or add --force")


@contextlib.contextmanager
def interruptible(what: str) -> Iterator[None]:
    """Ctrl-C (or SIGTERM) inside this block ends the program at once with exit status 130.

    Python runs signal handlers only between bytecodes, so a KeyboardInterrupt waits for a minutes-long
    XLA compilation to finish, and interpreter shutdown with compiler threads still running can crash.
    Here the signal only wakes a thread (Python's C-level handler writes to a wakeup pipe at once), which
    says what was stopped and leaves with os._exit: nothing half-done is kept, so wrap only work that
    writes no output."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    previous_fd = signal.set_wakeup_fd(write_end)
    previous_term = signal.signal(signal.SIGTERM, lambda *_: None)  # a Python handler, so it reaches the pipe

    def watch() -> None:
        while received := os.read(read_end, 1):  # one byte per signal: its number
            if received[0] in (signal.SIGINT, signal.SIGTERM):
                print(f"interrupted while {what}", file=sys.stderr, flush=True)
                os._exit(130)

    watcher = threading.Thread(target=watch, name="interrupt-watcher", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_fd)
        signal.signal(signal.SIGTERM, previous_term)
        os.close(write_end)  # the watcher reads end-of-file and returns
        watcher.join()
        os.close(read_end)
