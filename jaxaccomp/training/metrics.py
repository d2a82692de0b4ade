"""The run's logs: a CSV file (one row per logging interval and per validation) and TensorBoard events.

Both survive `--resume`: rows and events written after the restored checkpoint are dropped, so the
logs show one clean trajectory. TensorBoard files come from tensorboardX (no TensorFlow needed):
`tensorboard --logdir <run>/tensorboard`.
"""

from __future__ import annotations

import csv
from pathlib import Path

FIELDS = ("step", "epoch", "loss", "val_loss", "lr", "steps_per_s", "examples_per_s", "wall_s")


class CSVLog:
    """Append rows to `path`; resuming at `resume_step` drops rows written after that checkpoint."""

    def __init__(self, path: str | Path, fields: tuple[str, ...] = FIELDS, resume_step: int | None = None) -> None:
        self.path, self.fields = Path(path), fields
        rows = []
        if resume_step is not None and self.path.is_file():
            with open(self.path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        with open(self.path, "w", newline="") as f:
            writer = csv.DictWriter(f, fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row: dict[str, float | int | None]) -> None:
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.fields).writerow({k: _fmt(row.get(k)) for k in self.fields})


class EventLog:
    """TensorBoard scalars (every non-empty field but the step), under `directory`."""

    def __init__(self, directory: str | Path, resume_step: int | None = None) -> None:
        from tensorboardX import SummaryWriter

        purge = resume_step + 1 if resume_step is not None else None
        self.writer = SummaryWriter(str(directory), purge_step=purge, flush_secs=30)

    def write(self, row: dict[str, float | int | None]) -> None:
        step = int(row["step"])
        for name, value in row.items():
            if name != "step" and value is not None:
                self.writer.add_scalar(name, float(value), step)

    def close(self) -> None:
        self.writer.close()


class RunLog:
    """The CSV and TensorBoard logs of a run; a no-op on processes other than the lead one."""

    def __init__(self, out: Path, fields: tuple[str, ...] = FIELDS, resume_step: int | None = None,
                 enabled: bool = True) -> None:
        self.csv = CSVLog(out / "metrics.csv", fields, resume_step) if enabled else None
        self.events = EventLog(out / "tensorboard", resume_step) if enabled else None

    def write(self, **row: float | int | None) -> None:
        if self.csv is not None:
            self.csv.write(row)
            self.events.write(row)

    def close(self) -> None:
        if self.events is not None:
            self.events.close()


def _fmt(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def read(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
