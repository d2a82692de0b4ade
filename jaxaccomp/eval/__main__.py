"""`python -m jaxaccomp.eval`: see `jaxaccomp.eval.cli`."""

if __name__ == "__main__":  # not when a spawned worker process re-imports this module
    from jaxaccomp.cli import run
    from jaxaccomp.eval.cli import main

    run(main)
