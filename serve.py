"""The jit-warmed real-time OSC server for Max/MSP and Pure Data: `python serve.py --help`."""

from jaxaccomp.cli import run

if __name__ == "__main__":
    from jaxaccomp.server.cli import main

    run(main)
