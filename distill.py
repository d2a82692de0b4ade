"""CTM consistency distillation of a trained EDM teacher (not implemented yet: issue 6)."""

from jaxaccomp.cli import not_implemented

if __name__ == "__main__":
    not_implemented("CTM consistency distillation of a trained EDM teacher.", "distill.py", 6)
