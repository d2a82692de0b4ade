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
              if path.is_file() and path.suffix in (".py", ".yaml", ".json")
              or path.is_file() and "models" in path.relative_to(source).parts}
    assert any(name.startswith("jaxaccomp/configs/train_") for name in wanted)  # what the check is for
    assert sorted(wanted - packed) == []
