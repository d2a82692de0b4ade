"""The jit-warmed real-time OSC server for Max/MSP and Pure Data (not implemented yet: issue 7)."""

from jaxaccomp.cli import not_implemented

if __name__ == "__main__":
    not_implemented("The jit-warmed real-time OSC server for Max/MSP and Pure Data.", "serve.py", 7)
