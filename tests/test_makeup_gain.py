"""`python -m jaxaccomp.eval.makeup_gain`: the gain per stem from an evaluation's clip levels, written
into the evaluated checkpoint only when asked and only if it is still the checkpoint evaluated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jaxaccomp.eval import makeup_gain
from jaxaccomp.nn.checkpoint import FORMAT, read_meta
from jaxaccomp.provenance import checkpoint_hash

LEVELS = {"bass": [-3.0, -1.0, -2.5], "drums": [-6.0, -4.0, -5.5, -4.5]}  # dB against the real part, per clip


def write_checkpoint(folder: Path, gains: dict[str, float] | None = None) -> Path:
    """A checkpoint folder as far as the tool reads it: its metadata (the weights are never loaded)."""
    folder.mkdir()
    sampling = {"steps": 3, **({"makeup_gain_db": gains} if gains else {})}
    (folder / "meta.json").write_text(json.dumps({"format": FORMAT, "mode": "consistency", "sampling": sampling}))
    (folder / "weights").write_bytes(b"\0" * 64)
    return folder


def write_run(folder: Path, checkpoint: Path, stop_gate: str = "on") -> Path:
    """A results folder of one model's clips with their levels (a silent clip has none) and the references."""
    rows = [{"source": "ground_truth", "regime": "reference", "track": "T0", "stem": "bass", "level_db": 0.0}]
    for stem, levels in LEVELS.items():
        rows += [{"source": "m", "regime": "r0.25_w+1", "track": f"T{i}", "stem": stem, "level_db": level}
                 for i, level in enumerate(levels)]
    rows.append({"source": "m", "regime": "r0.25_w+1", "track": "T9", "stem": "bass", "level_db": None})
    settings = {"data": "/data/test", "stop_gate": stop_gate,
                "models": {"m": {"checkpoint": str(checkpoint), "sha256": checkpoint_hash(checkpoint)}}}
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(rows))
    (folder / "summary.json").write_text(json.dumps({"settings": settings, "rows": []}))
    return folder


def test_the_gain_is_the_gain_in_effect_less_the_median_level(tmp_path, capsys):
    checkpoint = write_checkpoint(tmp_path / "ckpt", {"bass": 1.0, "piano": 2.0})
    run = write_run(tmp_path / "run", checkpoint)
    assert makeup_gain.main([str(run), "--json", str(tmp_path / "gain.json")]) == 0
    stems = json.loads((tmp_path / "gain.json").read_text())["stems"]
    assert set(stems) == {"bass", "drums"}  # no clip of guitar or piano: not measured, not recommended
    assert stems["bass"]["clips"] == 3 and stems["bass"]["median_db"] == pytest.approx(-2.5)
    assert stems["bass"]["gain_db"] == pytest.approx(1.0 + 2.5)
    assert stems["drums"]["median_db"] == pytest.approx(np.median(LEVELS["drums"]))
    assert stems["drums"]["gain_db"] == pytest.approx(5.0)
    assert stems["drums"]["mean_db"] == pytest.approx(-5.0) and stems["drums"]["min_db"] == -6.0
    assert "drums" in capsys.readouterr().out
    assert read_meta(checkpoint)["sampling"]["makeup_gain_db"] == {"bass": 1.0, "piano": 2.0}  # only --write writes


def test_write_records_the_gains_and_refuses_to_replace_or_to_apply_twice(tmp_path):
    fresh = write_checkpoint(tmp_path / "fresh")
    assert makeup_gain.main([str(write_run(tmp_path / "run", fresh)), "--write"]) == 0
    meta = read_meta(fresh)
    assert meta["sampling"] == {"steps": 3, "makeup_gain_db": {"bass": 2.5, "drums": 5.0}}
    with pytest.raises(ValueError, match="changed since the run"):  # the same levels would be applied twice
        makeup_gain.main([str(tmp_path / "run"), "--write"])

    tuned = write_checkpoint(tmp_path / "tuned", {"bass": 1.0, "piano": 2.0})
    run = write_run(tmp_path / "run2", tuned)
    with pytest.raises(FileExistsError, match="--force"):
        makeup_gain.main([str(run), "--write"])
    assert read_meta(tuned)["sampling"]["makeup_gain_db"] == {"bass": 1.0, "piano": 2.0}
    assert makeup_gain.main([str(run), "--write", "--force"]) == 0
    assert read_meta(tuned)["sampling"]["makeup_gain_db"] == {"bass": 3.5, "piano": 2.0, "drums": 5.0}
    assert not list(tuned.glob(".*partial"))


def test_it_refuses_an_ungated_run_a_missing_checkpoint_and_an_existing_json(tmp_path):
    checkpoint = write_checkpoint(tmp_path / "ckpt")
    with pytest.raises(ValueError, match="stop gate"):
        makeup_gain.main([str(write_run(tmp_path / "ungated", checkpoint, stop_gate="off"))])
    run = write_run(tmp_path / "run", checkpoint)
    (tmp_path / "taken.json").write_text("{}")
    with pytest.raises(FileExistsError, match="--force"):
        makeup_gain.main([str(run), "--json", str(tmp_path / "taken.json")])
    assert (tmp_path / "taken.json").read_text() == "{}"
    (checkpoint / "meta.json").unlink()
    with pytest.raises(FileNotFoundError, match="not there"):
        makeup_gain.main([str(run)])
