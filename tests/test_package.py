"""The package as pip installs it: a wheel carries every module and the data files the code reads."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel built from a copy of the checkout, that copy), so the build leaves nothing in the checkout."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "jaxaccomp", source / "jaxaccomp", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           str(source), "-w", str(tmp_path / "wheel")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (built,) = (tmp_path / "wheel").glob("jaxaccomp-*.whl")
    return built, source


def test_wheel_holds_every_module_config_model_and_statistics_file(wheel):
    built, source = wheel
    packed = set(zipfile.ZipFile(built).namelist())
    wanted = {path.relative_to(source).as_posix() for path in (source / "jaxaccomp").rglob("*")
              if path.is_file() and path.suffix in (".py", ".yaml", ".json", ".html", ".js", ".css")
              or path.is_file() and "models" in path.relative_to(source).parts}
    assert any(name.startswith("jaxaccomp/configs/train_") for name in wanted)  # what the check is for
    assert sorted(wanted - packed) == []


def test_the_wheel_in_a_fresh_venv_accompanies_a_rendered_song_without_torch(wheel, tmp_path):
    """pip install of the wheel alone (no extras, versions pinned by constraints.txt) into a new venv,
    run outside the checkout: `jaxaccomp render` makes a song and `jaxaccomp accompany` plays its bass
    with the shipped model, and torch is neither installed nor needed."""
    built, _ = wheel
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    done = subprocess.run([bin_dir / "pip", "install", "-q", "-c", ROOT / "constraints.txt", built],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert subprocess.run([bin_dir / "python", "-c", "import torch"], capture_output=True).returncode == 1

    def jaxaccomp(*args: object) -> subprocess.CompletedProcess:
        return subprocess.run([bin_dir / "jaxaccomp", *map(str, args)], capture_output=True, text=True, timeout=600,
                              cwd=tmp_path)  # not the checkout: what runs is what was installed

    rendered = jaxaccomp("render", "--out", "data", "--songs", "1", "--split", "test", "--seconds", "8")
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    (mix,) = (tmp_path / "data" / "test").glob("*/mix.flac")
    played = jaxaccomp("accompany", mix, "--stem", "bass", "--out", "bass.wav")
    assert played.returncode == 0, played.stderr[-2000:]
    audio, rate = sf.read(tmp_path / "bass.wav")
    assert rate == 44100 and np.abs(audio).max() > 0


def _jaxaccomp(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "jaxaccomp"  # the console script pip installed
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "jaxaccomp"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_one_command_runs_every_program():
    listing = _jaxaccomp("--help")
    assert listing.returncode == 0
    for name in ("serve", "accompany", "play", "ping", "demo", "render", "train", "distill", "eval", "compare",
                 "convert"):
        assert f"  {name} " in listing.stdout
    unknown = _jaxaccomp("fly")
    assert unknown.returncode == 2 and "unknown command 'fly'" in unknown.stderr
    serve = _jaxaccomp("serve", "--port", "99999")  # the server's own parser, before anything loads
    assert serve.returncode == 2 and "a port is 0 to 65535, got 99999" in serve.stderr
    play = _jaxaccomp("play", "--help")
    assert play.returncode == 0 and "--stem" in play.stdout and "--connect-timeout" in play.stdout
    train = _jaxaccomp("distill", "--help")
    assert train.returncode == 0 and "--teacher" in train.stdout
    missing = _jaxaccomp("compare", "nowhere", "nothing")  # a one-line error, not a traceback
    assert missing.returncode == 1 and missing.stderr.startswith("error: nowhere/summary.json not found")
