"""VGGish embeddings for the paper's FAD, from the torchvggish state dict the user brings.

Needs `vggish-10086976.pth` (harritaylor/torchvggish release v0.1: the TF VGGish weights ported to
torch), passed as `--vggish PATH`; nothing is downloaded. The network is built here and the file
only fills it: four conv blocks (64, 128, 256x2, 512x2 channels; 3x3 convs, ReLU, 2x2 max-pool
after each block), the [512, 6, 4] features flattened channels-last as in the TF original, then
linears 12288 -> 4096 -> 4096 -> 128.

It follows the protocol of frechet_audio_distance with model_name="vggish", use_pca=False,
use_activation=False: the 128-d embedding is taken before the last ReLU, with no PCA whitening or
8-bit quantisation; one embedding per non-overlapping 0.96 s example of 96 log-mel frames x 64
bands at 16 kHz, computed by VGGish's front end (`frechet.logmel_examples`: 25 ms periodic Hann,
10 ms hop, 512-point FFT magnitude, 64 HTK mel bands 125-7500 Hz, log(mel + 0.01)). The FAD is
`frechet.frechet_distance` of the embeddings pooled over a set of clips.

Audio not at 16 kHz is resampled with resampy (kaiser_best), as the reference does. Departures: the
front end runs in float64 on the mono array it is given, where the reference reads files as float32
and averages their channels; audio shorter than one example is refused rather than embedded as
nothing.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from torch import nn

from jaxaccomp.eval import frechet
from jaxaccomp.eval.paper import check_names, read_state_dict

BATCH = 32  # examples per forward pass


class VGGish(nn.Module):
    """The VGGish network: [n, 1, 96, 64] log-mel examples -> [n, 128] pre-activation embeddings."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for block in ((64,), (128,), (256, 256), (512, 512)):
            for width in block:
                layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.ReLU()]
                channels = width
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)  # convs at 0, 3, 6, 8, 11, 13 as in the state dict
        self.embeddings = nn.Sequential(nn.Linear(512 * 6 * 4, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                                        nn.Linear(4096, 128))

    def forward(self, examples: torch.Tensor) -> torch.Tensor:
        features = self.features(examples).permute(0, 2, 3, 1)  # [n, 6, 4, 512]: TF's channels-last order
        return self.embeddings(features.flatten(1))


def load(path: str | Path) -> VGGish:
    """The VGGish network filled from the torchvggish state dict at `path`, in eval mode (cached per file)."""
    return _load(Path(path).resolve())


@functools.cache
def _load(path: Path) -> VGGish:
    state = read_state_dict(path, "vggish")
    with torch.device("meta"):  # shapes only: the file supplies every tensor
        network = VGGish()
    check_names(state, network.state_dict(), "vggish", path)
    network.load_state_dict({key: value.float() for key, value in state.items()}, assign=True)
    return network.eval()


def examples(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """[n, 96, 64] float32 log-mel examples of mono audio, one per non-overlapping 0.96 s."""
    audio = np.asarray(audio, np.float64)
    if sample_rate != frechet.EMBED_RATE:
        import resampy

        audio = resampy.resample(audio, sample_rate, frechet.EMBED_RATE)
    return frechet.logmel_examples(audio, frechet.EMBED_RATE, "VGGish").astype(np.float32)


def vectors(audio: np.ndarray, sample_rate: int, path: str | Path) -> np.ndarray:
    """[n, 128] float32 pre-activation VGGish embeddings of mono audio, one per 0.96 s example."""
    network, inputs = load(path), torch.from_numpy(examples(audio, sample_rate))[:, None]
    with torch.no_grad():
        return torch.cat([network(batch) for batch in inputs.split(BATCH)]).numpy()
