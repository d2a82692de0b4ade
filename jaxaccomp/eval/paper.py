"""The paper's metrics that need weights nobody may download for you: refused with one line each.

COCOLA (official COCOLA_HP_v1 checkpoint), VGGish FAD and Beat This all load trained weights that
are only published online. They are not implemented here: a faithful port would have to be checked
against the real weights, which this project cannot obtain. The flags exist so a user who has the
files gets a precise statement of what is missing rather than a silently different metric; the
offline substitutes (`beat_f1`, `fd_logmel`, and a coherence model of our own) carry their own names.
"""

from __future__ import annotations

from pathlib import Path

# flag -> (what the file is, what scoring with it needs beyond the file)
PAPER_METRICS = {
    "cocola": ("the COCOLA_HP_v1 checkpoint (checkpoint-epoch=87-val_loss=0.00.ckpt, COCOLA authors' Google Drive)",
               "a port of COCOLA's EfficientNet-B0 HPSS encoder and bilinear score (or the cocola package with "
               "efficientnet_pytorch, librosa and lightning)"),
    "vggish": ("the torchvggish VGGish state dict (vggish-10086976.pth)",
               "a port of the VGGish network on the fd_logmel front end (or frechet_audio_distance with torch.hub)"),
    "beat_this": ("the Beat This final0.ckpt checkpoint",
                  "the beat_this package, which needs torchaudio (no CPU build for this project's torch 2.13.0)"),
}


def refuse(name: str, path: Path) -> None:
    """Raise the one-line error for a paper metric requested with weights at `path`."""
    what, needs = PAPER_METRICS[name]
    flag = "--" + name.replace("_", "-")
    if not path.is_file():
        raise FileNotFoundError(f"{flag} {path}: no such file; it must be {what}, which you download yourself")
    raise ValueError(f"{flag}: scoring with {what} is not implemented in this version: it needs {needs}; the "
                     "offline substitutes beat_f1 and fd_logmel are always computed")
