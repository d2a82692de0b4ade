"""Full train-state checkpoints with orbax's CheckpointManager: periodic keep-last-N plus the best one.

`<run>/checkpoints/last/<step>/` keeps the newest `keep` states; `<run>/checkpoints/best/<step>/`
keeps the one with the lowest validation loss. Each holds `state` (params, optimiser state, EMA,
step, PRNG key data) and `meta` (JSON: data position = (epoch, batch index), best validation loss,
codec name, the resolved config). Orbax writes a step into a temporary directory and renames it
when complete, so a killed run never leaves a half-written checkpoint that looks finished.
Saves are synchronous: the next train step donates (reuses) the state buffers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orbax.checkpoint as ocp

FORMAT = "jaxaccomp-train-state-1"


class TrainCheckpoints:
    def __init__(self, directory: str | Path, keep: int = 3) -> None:
        self.directory = Path(directory).absolute()
        options = dict(create=True, enable_async_checkpointing=False)
        self.last = ocp.CheckpointManager(self.directory / "last", options=ocp.CheckpointManagerOptions(max_to_keep=keep, **options))
        self.best = ocp.CheckpointManager(self.directory / "best", options=ocp.CheckpointManagerOptions(max_to_keep=1, **options))

    def latest_step(self) -> int | None:
        return self.last.latest_step()

    def save(self, step: int, state: Any, meta: dict[str, Any], *, best: bool = False) -> None:
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave({"format": FORMAT, **meta}))
        manager = self.best if best else self.last
        if manager.latest_step() != step:
            manager.save(step, args=args, force=True)
            manager.wait_until_finished()

    def read_meta(self, step: int | None = None) -> dict[str, Any]:
        step = self.latest_step() if step is None else step
        meta = self.last.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        if meta.get("format") != FORMAT:
            raise ValueError(f"{self.directory} step {step} is not a {FORMAT} checkpoint")
        return meta

    def restore(self, abstract_state: Any, step: int | None = None) -> tuple[Any, dict[str, Any]]:
        """The state (into the shapes and shardings of `abstract_state`) and meta of `step` (default latest)."""
        step = self.latest_step() if step is None else step
        try:
            restored = self.last.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state),
                                                                      meta=ocp.args.JsonRestore()))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"checkpoint {self.directory}/last/{step} does not fit this configuration "
                             f"({str(exc).splitlines()[0][:200]})") from None
        return restored["state"], restored["meta"]

    def close(self) -> None:
        self.last.close()
        self.best.close()
