"""EDM latent-diffusion training of the SongUNet: `python train.py --help`."""

from jaxaccomp.cli import run

if __name__ == "__main__":
    from jaxaccomp.training.cli import main

    run(main)
