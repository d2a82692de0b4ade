"""`python -m jaxaccomp.eval.compare`: two results folders paired clip by clip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jaxaccomp.eval import compare

TRACKS, STEMS, REGIME = ("T0", "T1", "T2"), ("bass", "drums"), "r0.25_w+1"
TRUTH, RANDOM = 24.0, 21.0  # coherence of every reference clip


def write_run(folder: Path, coherence: dict[tuple[str, str], float], data: str = "/data/test",
              model: str = "m", guidance: float = 3.0, extra_model: str | None = None) -> Path:
    """A results folder as `python -m jaxaccomp.eval` leaves it, with only what the comparison reads."""
    rows = [{"source": source, "regime": "reference", "track": t, "stem": s, "coherence_ours": value,
             "beat_f1": None}
            for source, value in (("ground_truth", TRUTH), ("random_pairing", RANDOM)) for t in TRACKS for s in STEMS]
    for name in filter(None, (model, extra_model)):
        rows += [{"source": name, "regime": REGIME, "track": t, "stem": s, "coherence_ours": coherence[(t, s)],
                  "beat_f1": None} for t in TRACKS for s in STEMS]
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(rows))
    settings = {"data": data, "seed": 0, "stop_gate": "on",
                "models": {model: {"sha256": f"{guidance:g}", "guidance": guidance}}}
    (folder / "summary.json").write_text(json.dumps({"settings": settings, "random_partners": "one", "rows": []}))
    return folder


def test_paired_differences_clips_better_and_normalised_scores(tmp_path, capsys):
    rng = np.random.default_rng(0)
    old = {(t, s): float(rng.normal(22, 1)) for t in TRACKS for s in STEMS}
    delta = {(t, s): float(rng.normal(0.3, 0.2)) for t in TRACKS for s in STEMS}
    delta[("T0", "bass")] = -0.5  # one clip worse
    new = {key: old[key] + delta[key] for key in old}
    baseline = write_run(tmp_path / "a", old)
    candidate = write_run(tmp_path / "b", new, guidance=1.5)

    assert compare.main([str(baseline), str(candidate), "--json", str(tmp_path / "c.json")]) == 0
    entry, = json.loads((tmp_path / "c.json").read_text())["comparison"]  # beat_f1 has no values: left out
    differences = np.array(list(delta.values()))
    assert entry["regime"] == REGIME and entry["metric"] == "coherence_ours" and entry["clips"] == 6
    assert entry["difference"] == pytest.approx(differences.mean())
    assert entry["standard_error"] == pytest.approx(differences.std(ddof=1) / np.sqrt(6))
    assert entry["better"] == int((differences > 0).sum()) == 5
    assert entry["stems"]["bass"]["difference"] == pytest.approx(np.mean([delta[(t, "bass")] for t in TRACKS]))
    for side, values in (("baseline", old), ("candidate", new)):
        expected = (np.mean(list(values.values())) - RANDOM) / (TRUTH - RANDOM)
        assert entry["normalised"][side] == pytest.approx(expected)
    out, err = capsys.readouterr()
    assert "changed model guidance: 3.0 -> 1.5" in err
    assert out.splitlines()[1].startswith(f"{REGIME}\tcoherence_ours\t6\t")

    with pytest.raises(FileExistsError, match="--force"):
        compare.main([str(baseline), str(candidate), "--json", str(tmp_path / "c.json")])
    assert compare.main([str(baseline), str(candidate), "--json", str(tmp_path / "c.json"), "--force"]) == 0


def test_it_refuses_other_songs_an_ambiguous_model_and_a_missing_run(tmp_path):
    values = {(t, s): 22.0 for t in TRACKS for s in STEMS}
    baseline = write_run(tmp_path / "a", values)
    with pytest.raises(ValueError, match="different songs"):
        compare.main([str(baseline), str(write_run(tmp_path / "b", values, data="/other/test"))])
    two = write_run(tmp_path / "c", values, extra_model="n")
    with pytest.raises(ValueError, match="holds 2 models"):
        compare.main([str(baseline), str(two)])
    assert compare.main([str(baseline), str(two), "--candidate-source", "n"]) == 0
    with pytest.raises(ValueError, match="no model 'x'"):
        compare.main([str(baseline), str(two), "--candidate-source", "x"])
    with pytest.raises(ValueError, match="no clip"):
        compare.main([str(baseline), str(two), "--candidate-source", "n", "--regime", "r0.125_w+1"])
    with pytest.raises(FileNotFoundError, match="finished"):
        compare.main([str(baseline), str(tmp_path / "none")])
