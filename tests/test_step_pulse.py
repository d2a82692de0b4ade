"""The step-pulse diagnostic: onset strength folded on the engine's step grid."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from jaxaccomp.constants import SAMPLE_RATE
from jaxaccomp.eval.step_pulse import folded_onsets, main, pulses, step_pulse
from jaxaccomp.stream_settings import StreamSettings

STEP = StreamSettings(r=1 / 16, w=1).step  # 16,537 samples
SKIP = 3 * SAMPLE_RATE


def part_with_clicks(first_sample: int, offset: int, seconds: float = 20.0) -> np.ndarray:
    """Quiet noise with a click `offset` samples after every step boundary of the stream."""
    rng = np.random.default_rng(0)
    audio = 0.01 * rng.standard_normal(int(seconds * SAMPLE_RATE)).astype(np.float32)
    boundaries = np.arange(-(-first_sample // STEP), (first_sample + audio.shape[0]) // STEP) * STEP + offset - first_sample
    for at in boundaries[(boundaries >= 0) & (boundaries < audio.shape[0] - 400)]:
        audio[at:at + 400] += (0.8 * rng.standard_normal(400) * np.exp(-np.arange(400) / 80)).astype(np.float32)
    return audio


def test_a_part_that_changes_where_each_step_starts_pulses_and_one_that_ignores_the_grid_does_not():
    on_grid = step_pulse(folded_onsets(part_with_clicks(SKIP, 300), SKIP, STEP))
    half_a_step_late = step_pulse(folded_onsets(part_with_clicks(SKIP, STEP // 2), SKIP, STEP))
    noise = 0.1 * np.random.default_rng(1).standard_normal(20 * SAMPLE_RATE).astype(np.float32)
    steady = step_pulse(folded_onsets(noise, SKIP, STEP))
    assert on_grid > 3 and half_a_step_late < 0.8 and 0.9 < steady < 1.1
    # The fold reads absolute positions: the same part said to start a quarter step later is off the grid.
    assert step_pulse(folded_onsets(part_with_clicks(SKIP, 300), SKIP + STEP // 4, STEP)) < 0.8


def test_a_results_folder_gives_one_row_per_source_regime_and_stem(tmp_path, capsys):
    clips = tmp_path / "clips" / "model" / "r0.0625_w+1"
    clips.mkdir(parents=True)
    (tmp_path / "settings.json").write_text(json.dumps({"window": 264600, "fade": 0.02, "skip_s": 3.0}))
    rows = [{"source": "ground_truth", "regime": "reference", "r": None, "w": None, "track": "T1", "stem": "bass"}]
    for track, offset in (("T1", 300), ("T2", 600)):
        rows.append({"source": "model", "regime": "r0.0625_w+1", "r": 0.0625, "w": 1, "track": track, "stem": "guitar"})
        sf.write(str(clips / f"{track}-guitar.flac"), part_with_clicks(SKIP, offset), SAMPLE_RATE, subtype="PCM_16")
    (tmp_path / "results.json").write_text(json.dumps(rows))
    (row,) = pulses(tmp_path)
    assert (row["source"], row["regime"], row["stem"], row["clips"]) == ("model", "r0.0625_w+1", "guitar", 2)
    assert row["step_pulse"] > 3 and row["step_pulse_se"] >= 0 and len(row["profile"]) == 16
    assert main([str(tmp_path), "--json", str(tmp_path / "pulse.json")]) == 0
    assert "model\tr0.0625_w+1\tguitar\t2\t" in capsys.readouterr().out
    assert json.loads((tmp_path / "pulse.json").read_text())["rows"][0]["clips"] == 2
    with pytest.raises(FileExistsError, match="add --force"):
        main([str(tmp_path), "--json", str(tmp_path / "pulse.json")])
    (clips / "T2-guitar.flac").unlink()
    with pytest.raises(FileNotFoundError, match="kept no audio"):
        pulses(tmp_path)
    with pytest.raises(FileNotFoundError, match="finished `python -m jaxaccomp.eval` run"):
        pulses(tmp_path / "clips")
