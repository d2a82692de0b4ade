"""EDM latent-diffusion training of the SongUNet (not implemented yet: issue 6)."""

from jaxaccomp.cli import not_implemented

if __name__ == "__main__":
    not_implemented("EDM latent-diffusion training of the SongUNet.", "train.py", 6)
