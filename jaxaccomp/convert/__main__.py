"""python -m jaxaccomp.convert: reference torch checkpoints <-> jaxaccomp checkpoints.

  import  a reference Lightning .ckpt (LDM or CD) or a plain SongUNet state_dict -> our checkpoint
  export  our checkpoint -> a torch state_dict file (physicsnemo or EDM/reference key names)
"""

from __future__ import annotations

import argparse

from jaxaccomp import cli
from jaxaccomp.config import PRESETS, preset


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.convert", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    imp = sub.add_parser("import", help="torch checkpoint -> jaxaccomp checkpoint directory")
    imp.add_argument("source", help="reference Lightning .ckpt, or a .pt holding a SongUNet state_dict")
    imp.add_argument("output", help="new directory for the jaxaccomp checkpoint (must not exist)")
    imp.add_argument("--preset", default="paper", choices=sorted(PRESETS),
                     help="SongUNet architecture of the weights (default: paper, the reference's 257M network)")
    imp.add_argument("--weights", default="auto", choices=["auto", "ldm", "student", "target", "teacher", "plain"],
                     help="which network of the file: ldm (model.unet.*), CD student (net.model.unet.*, what the "
                          "reference server uses), CD EMA target, CD teacher, or a plain state_dict; "
                          "auto picks student, then ldm, then plain")
    imp.add_argument("--mode", default=None, choices=["diffusion", "consistency"],
                     help="denoiser parameterisation recorded with the weights "
                          "(default: consistency for CD networks, edm otherwise)")
    imp.add_argument("--codec", default="music2latent",
                     help="codec whose latents the weights were trained on (default: music2latent, as the reference)")

    exp = sub.add_parser("export", help="jaxaccomp checkpoint -> torch state_dict (.pt)")
    exp.add_argument("checkpoint", help="jaxaccomp checkpoint directory")
    exp.add_argument("output", help="output .pt file (must not exist)")
    exp.add_argument("--style", default="physicsnemo", choices=["physicsnemo", "edm"],
                     help="key names: physicsnemo (attn.norm/qkv/proj) or edm, as in the reference's checkpoints "
                          "(norm2/qkv/proj)")
    return parser


def _import(args: argparse.Namespace) -> None:
    from jaxaccomp.convert.torch_files import read_unet_state_dict
    from jaxaccomp.convert.torch_weights import import_state_dict
    from jaxaccomp.nn.precond import Denoiser
    from jaxaccomp.nn.checkpoint import save_denoiser

    weights, which = read_unet_state_dict(args.source, args.weights)
    net = import_state_dict(preset(args.preset), weights)
    mode = args.mode or ("consistency" if which in ("student", "target") else "diffusion")
    source = f"{args.source} ({which} weights)"
    out = save_denoiser(args.output, Denoiser(net, mode=mode), codec=args.codec, source=source)
    print(f"wrote {out} ({which} weights, preset {args.preset}, {mode} denoiser, codec {args.codec})")


def _export(args: argparse.Namespace) -> None:
    from pathlib import Path

    import torch

    from jaxaccomp.convert.torch_weights import export_state_dict
    from jaxaccomp.nn.checkpoint import load_denoiser

    output = Path(args.output)
    if output.exists():
        raise ValueError(f"{output} already exists; choose a new output file")
    denoiser, _ = load_denoiser(args.checkpoint)
    state = {k: torch.from_numpy(v.copy()) for k, v in export_state_dict(denoiser.net, args.style).items()}
    torch.save(state, output)
    print(f"wrote {output} ({len(state)} tensors, {args.style} names)")


def main() -> None:
    args = _parser().parse_args()
    {"import": _import, "export": _export}[args.command](args)


if __name__ == "__main__":
    cli.run(main)
