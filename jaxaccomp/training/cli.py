"""The command lines of train.py and distill.py: every config key is a flag, laid over a preset/YAML config."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Sequence

from jaxaccomp.compile_cache import enable_compile_cache
from jaxaccomp.config import PRESETS
from jaxaccomp.training import config as train_config
from jaxaccomp.training.config import HELP, DistillConfig, TrainConfig, config_names

TYPES = {"int": int, "float": float, "str": str, "str | None": str, "float | None": float}
CHOICES = {"preset": tuple(PRESETS), "dtype": train_config.DTYPES, "prng_impl": train_config.PRNG_IMPLS,
           "codec": ("auto", "music2latent", "embedded"), "optimizer": train_config.OPTIMIZERS,
           "loss_channels": train_config.LOSS_CHANNELS}

TRAIN_DESCRIPTION = (
    "EDM latent-diffusion training of a network (the SongUNet, or the embedded tier's frame transformer) on a latent cache (DSM loss with look-ahead context masking, "
    "Adam 1e-4/0.9/0.99 as the reference). Flags override the --config file; the resolved config is written to "
    "OUT/config.yaml and stored in every checkpoint.")
TRAIN_EPILOG = """examples:
  train.py --config tiny --train-cache cache/train --val-cache cache/validation --out runs/tiny
  train.py --config small --data data/rendered --train-cache cache/train --val-cache cache/val --codec embedded
  train.py --out runs/tiny --resume --steps 20000        # continue a run (its saved config is the base)
  train.py --config paper --train-cache ... --dtype bfloat16 --batch-size 64   # one GPU; all local GPUs are used
  multi-host: run the same command on every host with --distributed (jax.distributed.initialize()).
"""
DISTILL_DESCRIPTION = (
    "CTM consistency distillation (training_mode cd) of a frozen EDM teacher into a 1-2 step consistency student: "
    "18 Karras scales (rho 9), k in 1..17 teacher Heun steps with P(k) ~ k, MSE against an EMA target (0.999), plus "
    "DSM on the student; RAdam 1e-5 with 4 accumulated micro-batches as the reference. The U-Net is the teacher's.")
DISTILL_EPILOG = """examples:
  distill.py --config tiny --teacher runs/tiny/model --train-cache cache/train --val-cache cache/validation --out runs/tiny_cd
  distill.py --config small --teacher runs/small/model --train-cache cache/train --val-cache cache/val
  distill.py --out runs/tiny_cd --resume --steps 2000      # continue (the teacher is reloaded from its path)
  distill.py --config paper --teacher converted/ldm --train-cache ... --dtype bfloat16   # a converted reference LDM
"""
SKIPPED = {"preset", "unet"}  # distill.py takes the architecture from the teacher


def build_parser(config_type: type[TrainConfig] = TrainConfig) -> argparse.ArgumentParser:
    distill = config_type is DistillConfig
    parser = argparse.ArgumentParser(
        prog=f"{config_type.program}.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=DISTILL_DESCRIPTION if distill else TRAIN_DESCRIPTION, epilog=DISTILL_EPILOG if distill else TRAIN_EPILOG)
    parser.add_argument("--config", help=f"YAML config file, or a preset name: {', '.join(config_names())} "
                                         f"(configs/{config_type.program}_<name>.yaml); default: the built-in defaults")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its latest checkpoint, bit for bit (its saved config is the base)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details (devices, compile time)")
    for field in dataclasses.fields(config_type):
        if distill and field.name in SKIPPED:
            continue
        flag = "--" + field.name.replace("_", "-")
        default = field.default if field.default is not dataclasses.MISSING else None
        if field.type == "bool":
            parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, default=None, help=HELP[field.name])
        elif field.type in TYPES:
            parser.add_argument(flag, dest=field.name, type=TYPES[field.type], default=None, choices=CHOICES.get(field.name),
                                help=f"{HELP[field.name]} (default {default!r})")
    return parser


def resolve(args: argparse.Namespace, config_type: type[TrainConfig] = TrainConfig) -> TrainConfig:
    """Defaults < saved run config (--resume) < --config file < flags."""
    base = config_type()
    if args.resume:
        from jaxaccomp.training.loop import saved_config

        out = args.out or (train_config.load(args.config, base).out if args.config else base.out)
        base = saved_config(out, base)
    if args.config:
        base = train_config.load(args.config, base)
    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(config_type)
             if getattr(args, f.name, None) is not None}
    return train_config.from_data(flags, base)


def main(argv: Sequence[str] | None = None, config_type: type[TrainConfig] = TrainConfig) -> int:
    args = build_parser(config_type).parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("jaxaccomp").setLevel(logging.INFO if args.verbose else logging.WARNING)
    if args.distributed:  # before anything (reading a checkpoint to resume) starts the JAX backend
        from jaxaccomp.training.sharding import initialize_distributed

        initialize_distributed()
    cfg = resolve(args, config_type)
    enable_compile_cache()
    from jaxaccomp.training.loop import train

    if config_type is DistillConfig:
        from jaxaccomp.training.distillation import DistillProgram as program
    else:
        from jaxaccomp.training.edm import EDMProgram as program
    summary = train(cfg, program, resume=args.resume)

    def fmt(x):
        return "-" if x is None else f"{x:.4g}"

    terms = ", ".join(f"{k} {fmt(v)}" for k, v in summary["metrics"].items())
    print(f"step {summary['step']} (epoch {summary['epoch']}): {terms or 'loss -'}, val_loss {fmt(summary['val_loss'])}, "
          f"best {fmt(summary['best_val_loss'])}; {fmt(summary['steps_per_s'])} steps/s, "
          f"{fmt(summary['examples_per_s'])} examples/s (first step incl. compile {fmt(summary['first_step_s'])} s); "
          f"codec {summary['codec']}; model in {summary['out']}/model")
    return 0


def distill_main(argv: Sequence[str] | None = None) -> int:
    return main(argv, DistillConfig)


if __name__ == "__main__":
    from jaxaccomp.cli import run

    run(main)
