"""The run's CSV log (one row per logging interval and per validation). No TensorBoard: not installed."""

from __future__ import annotations

import csv
from pathlib import Path

FIELDS = ("step", "epoch", "loss", "val_loss", "lr", "steps_per_s", "examples_per_s", "wall_s")


class CSVLog:
    """Append rows to `path`; resuming at `resume_step` drops rows written after that checkpoint."""

    def __init__(self, path: str | Path, resume_step: int | None = None, enabled: bool = True) -> None:
        self.path, self.enabled = Path(path), enabled
        if not enabled:
            return
        rows = []
        if resume_step is not None and self.path.is_file():
            with open(self.path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        with open(self.path, "w", newline="") as f:
            writer = csv.DictWriter(f, FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, **row: float | int | None) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, FIELDS).writerow({k: _fmt(row.get(k)) for k in FIELDS})


def _fmt(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def read(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
