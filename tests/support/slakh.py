"""A tiny Slakh2100-shaped copy written with soundfile, shared by the data tests.

train/Track00001  12 s: bass, drums, two guitars (summed), a 22.05 kHz piano, strings (dropped),
                  an `audio_rendered: false` stem (no file); metadata starts with a stray byte
train/Track00002  10 s: bass, drums, guitar; no piano (silence)
train/Track00003  a corrupt stem file (skipped)
train/Track00004  3 s (too short, skipped)
validation/Track01501  8 s, all four stems
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

SR = 44100
TRAIN_SECONDS = {"Track00001": 12, "Track00002": 10}
SKIPPED = {"Track00003", "Track00004"}


def tone(freq: float, seconds: float, sr: int = SR, amp: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def drums(seconds: float, seed: int, sr: int = SR) -> np.ndarray:
    """Noise with a 2 Hz pulse: never silent, clearly rhythmic."""
    t = np.arange(int(seconds * sr)) / sr
    envelope = 0.3 + 0.7 * np.exp(-8 * (t % 0.5))
    return (0.2 * envelope * np.random.default_rng(seed).standard_normal(t.shape)).astype(np.float32)


def _stem(program: int, inst_class: str, rendered: bool = True) -> dict:
    return {"audio_rendered": rendered, "inst_class": inst_class, "is_drum": program == 128,
            "program_num": program, "midi_program_name": inst_class, "plugin_name": "x.nkm"}


def _write_track(folder: Path, stems: dict[str, tuple[dict, np.ndarray | None, int]], stray: bytes = b"") -> None:
    (folder / "stems").mkdir(parents=True)
    metadata = {"UUID": folder.name, "audio_dir": "stems", "normalized": True, "stems": {}}
    mix = None
    for name, (info, audio, sr) in stems.items():
        metadata["stems"][name] = info
        if audio is not None:
            sf.write(folder / "stems" / f"{name}.flac", audio, sr, format="FLAC", subtype="PCM_16")
            if sr == SR:
                mix = audio if mix is None else mix[: len(audio)] + audio[: len(mix)]
    (folder / "metadata.yaml").write_bytes(stray + yaml.safe_dump(metadata).encode())
    sf.write(folder / "mix.flac", np.clip(mix, -1, 1), SR, format="FLAC", subtype="PCM_16")


def write_slakh(root: Path) -> Path:
    """Write the fixture under `root` and return it."""
    train = root / "train"
    s = TRAIN_SECONDS["Track00001"]
    _write_track(train / "Track00001", {
        "S00": (_stem(33, "Bass"), tone(55, s), SR),
        "S01": (_stem(128, "Drums"), drums(s, 1), SR),
        "S02": (_stem(25, "Guitar"), tone(330, s), SR),
        "S03": (_stem(29, "Guitar"), tone(440, s, amp=0.1), SR),
        "S04": (_stem(0, "Piano"), tone(262, s, sr=SR // 2), SR // 2),
        "S05": (_stem(48, "Strings"), tone(600, s), SR),
        "S06": (_stem(120, "Sound Effects", rendered=False), None, SR),
    }, stray=b"\x01")
    s = TRAIN_SECONDS["Track00002"]
    _write_track(train / "Track00002", {
        "S00": (_stem(38, "Bass"), tone(82, s), SR),
        "S01": (_stem(128, "Drums"), drums(s, 2), SR),
        "S02": (_stem(30, "Guitar"), tone(196, s), SR),
    })
    _write_track(train / "Track00003", {
        "S00": (_stem(33, "Bass"), tone(55, 10), SR),
        "S01": (_stem(1, "Piano"), tone(262, 10), SR),
    })
    (train / "Track00003" / "stems" / "S01.flac").write_bytes(b"not a flac file" * 10)
    _write_track(train / "Track00004", {"S00": (_stem(33, "Bass"), tone(55, 3), SR)})
    _write_track(root / "validation" / "Track01501", {
        "S00": (_stem(34, "Bass"), tone(65, 8), SR),
        "S01": (_stem(128, "Drums"), drums(8, 3), SR),
        "S02": (_stem(24, "Guitar"), tone(247, 8), SR),
        "S03": (_stem(4, "Piano"), tone(523, 8), SR),
    })
    return root


def read_stem_file(root: Path, track: str, stem: str) -> tuple[np.ndarray, int]:
    audio, sr = sf.read(root / "train" / track / "stems" / f"{stem}.flac", dtype="float32")
    return audio, sr


@pytest.fixture(scope="session")
def slakh_root(tmp_path_factory) -> Path:
    """The fixture copy, written once per session (import this fixture into a test module to use it)."""
    return write_slakh(tmp_path_factory.mktemp("slakh"))
