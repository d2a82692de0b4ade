"""train.py's command line: every TrainConfig key is a flag, laid over a preset/YAML config."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Sequence

from jaxaccomp.training import config as train_config
from jaxaccomp.training.config import HELP, TrainConfig

TYPES = {"int": int, "float": float, "str": str, "str | None": str, "float | None": float}
CHOICES = {"preset": ("paper", "small", "tiny"), "dtype": train_config.DTYPES, "prng_impl": train_config.PRNG_IMPLS,
           "codec": ("auto", "music2latent", "embedded")}

EPILOG = """examples:
  train.py --config tiny --train-cache cache/train --val-cache cache/validation --out runs/tiny
  train.py --config small --data data/rendered --train-cache cache/train --val-cache cache/val --codec embedded
  train.py --out runs/tiny --resume --steps 20000        # continue a run (its saved config is the base)
  train.py --config paper --train-cache ... --dtype bfloat16 --batch-size 64   # one GPU; all local GPUs are used
  multi-host: run the same command on every host with --distributed (jax.distributed.initialize()).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="EDM latent-diffusion training of the SongUNet on a latent cache (DSM loss with look-ahead "
                    "context masking, Adam 1e-4/0.9/0.99 as the reference). Flags override the --config file; "
                    "the resolved config is written to OUT/config.yaml and stored in every checkpoint.")
    parser.add_argument("--config", help="YAML config file, or a preset name: paper, small, tiny (configs/train_<name>.yaml); "
                                         "default: the built-in defaults (small)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its latest checkpoint, bit for bit (its saved config is the base)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details (devices, compile time)")
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        if field.type == "bool":
            parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, default=None, help=HELP[field.name])
        elif field.type in TYPES:
            parser.add_argument(flag, dest=field.name, type=TYPES[field.type], default=None, choices=CHOICES.get(field.name),
                                help=HELP[field.name] + f" (default {field.default!r})" if field.default is not dataclasses.MISSING else "")
    return parser


def resolve(args: argparse.Namespace) -> TrainConfig:
    """Defaults < saved run config (--resume) < --config file < flags."""
    base = TrainConfig()
    if args.resume:
        from jaxaccomp.training.loop import saved_config

        out = args.out or (train_config.load(args.config).out if args.config else base.out)
        base = saved_config(out)
    if args.config:
        base = train_config.load(args.config, base)
    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
             if getattr(args, f.name, None) is not None}
    return train_config.from_data(flags, base)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("jaxaccomp").setLevel(logging.INFO if args.verbose else logging.WARNING)
    if args.distributed:  # before anything (reading a checkpoint to resume) starts the JAX backend
        from jaxaccomp.training.sharding import initialize_distributed

        initialize_distributed()
    cfg = resolve(args)
    from jaxaccomp.training.loop import train

    summary = train(cfg, resume=args.resume)

    def fmt(x):
        return "-" if x is None else f"{x:.4g}"

    print(f"step {summary['step']} (epoch {summary['epoch']}): loss {fmt(summary['loss'])}, val_loss {fmt(summary['val_loss'])}, "
          f"best {fmt(summary['best_val_loss'])}; {fmt(summary['steps_per_s'])} steps/s, "
          f"{fmt(summary['examples_per_s'])} examples/s (first step incl. compile {fmt(summary['first_step_s'])} s); "
          f"codec {summary['codec']}; model in {summary['out']}/model")
    return 0
