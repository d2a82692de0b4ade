"""The step-time benchmark runs end to end and reports what it measured (no timing thresholds)."""

import json

import pytest

from jaxaccomp.bench.step_time import benchmark

pytestmark = pytest.mark.torch


def test_benchmark_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    result = benchmark(["--preset", "tiny", "--batch", "1", "--warmup", "0", "--repeats", "2", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "| forward    | tiny   | 1     | float32 |" in printed
    assert "| train_step | tiny   | 1     | float32 |" in printed
    assert json.loads(out.read_text()) == result
    assert [r["what"] for r in result["rows"]] == ["forward", "train_step"]
    for row in result["rows"]:
        for framework in ("jax", "torch"):
            timing = row[framework]
            assert 0 < timing["min_ms"] <= timing["median_ms"]
        assert row["jax_over_torch"] == pytest.approx(row["jax"]["median_ms"] / row["torch"]["median_ms"])
    assert result["environment"]["torch"].startswith("2.13.0")


def test_benchmark_rejects_an_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset"):
        benchmark(["--preset", "huge"])
