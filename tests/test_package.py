"""The package as pip installs it: a wheel carries every module and the data files the code reads."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_holds_every_module_config_model_and_statistics_file(tmp_path):
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "jaxaccomp", source / "jaxaccomp", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           str(source), "-w", str(tmp_path / "wheel")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = (tmp_path / "wheel").glob("jaxaccomp-*.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    wanted = {path.relative_to(source).as_posix() for path in (source / "jaxaccomp").rglob("*")
              if path.is_file() and path.suffix in (".py", ".yaml", ".json", ".html", ".js", ".css")
              or path.is_file() and "models" in path.relative_to(source).parts}
    assert any(name.startswith("jaxaccomp/configs/train_") for name in wanted)  # what the check is for
    assert sorted(wanted - packed) == []


def _jaxaccomp(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "jaxaccomp"  # the console script pip installed
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "jaxaccomp"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_one_command_runs_every_program():
    listing = _jaxaccomp("--help")
    assert listing.returncode == 0
    for name in ("serve", "accompany", "play", "ping", "demo", "render", "train", "distill", "eval", "convert"):
        assert f"  {name} " in listing.stdout
    unknown = _jaxaccomp("fly")
    assert unknown.returncode == 2 and "unknown command 'fly'" in unknown.stderr
    serve = _jaxaccomp("serve", "--port", "99999")  # the server's own parser, before anything loads
    assert serve.returncode == 2 and "a port is 0 to 65535, got 99999" in serve.stderr
    play = _jaxaccomp("play", "--help")
    assert play.returncode == 0 and "--stem" in play.stdout and "--connect-timeout" in play.stdout
    train = _jaxaccomp("distill", "--help")
    assert train.returncode == 0 and "--teacher" in train.stdout
