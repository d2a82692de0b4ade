"""CTM consistency distillation of a trained EDM teacher: `python distill.py --help`."""

from jaxaccomp.cli import run

if __name__ == "__main__":
    from jaxaccomp.training.cli import distill_main

    run(distill_main)
