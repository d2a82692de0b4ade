"""`jaxaccomp COMMAND [options]` (or `python -m jaxaccomp`): every program of the package under one name.

The checkout's `serve.py`, `train.py` and `distill.py` run the same programs.
"""

from __future__ import annotations

import importlib
import sys

from jaxaccomp.cli import run

# command -> (module, function, the arguments it is given before the user's, what it does)
COMMANDS: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "serve": ("jaxaccomp.server.cli", "main", (), "the real-time OSC server for Max/MSP, Pure Data and our client"),
    "accompany": ("jaxaccomp.accompany", "main", (), "accompany an audio file offline, as a live session would"),
    "play": ("jaxaccomp.client.__main__", "main", ("play",), "stream a song to a server in real time, as Max does"),
    "ping": ("jaxaccomp.client.__main__", "main", ("ping",), "ask a server who it is and time a packet round trip"),
    "demo": ("jaxaccomp.demo", "main", (), "render a song, serve it and record the accompaniment (make demo)"),
    "render": ("jaxaccomp.data.render", "main", (), "compose and render a multitrack dataset offline"),
    "train": ("jaxaccomp.training.cli", "main", (), "EDM training of a model (train.py)"),
    "distill": ("jaxaccomp.training.cli", "distill_main", (), "consistency distillation of a teacher (distill.py)"),
    "eval": ("jaxaccomp.eval.cli", "main", (), "the evaluation sweep over step sizes and look-ahead"),
    "compare": ("jaxaccomp.eval.compare", "main", (), "compare two evaluation runs clip by clip"),
    "convert": ("jaxaccomp.convert.__main__", "main", (), "import or export reference (torch) checkpoints"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {what}" for name, (_, _, _, what) in COMMANDS.items()]
    return "usage: jaxaccomp COMMAND [options]   (jaxaccomp COMMAND --help for its options)\n\n" + "\n".join(lines)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(usage())
        sys.exit(0 if len(sys.argv) >= 2 else 2)
    name = sys.argv[1]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}; choose one of {', '.join(COMMANDS)}", file=sys.stderr)
        sys.exit(2)
    module, function, leading, _ = COMMANDS[name]
    sys.argv = [f"jaxaccomp {name}", *leading, *sys.argv[2:]]  # each program parses sys.argv[1:]
    run(getattr(importlib.import_module(module), function))


if __name__ == "__main__":
    main()
