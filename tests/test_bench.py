"""The step-time benchmark runs end to end and reports what it measured (no timing thresholds)."""

import json
import math
from pathlib import Path

import pytest

from jaxaccomp.bench.step_time import benchmark

pytestmark = pytest.mark.torch


def test_benchmark_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    result = benchmark(["--preset", "tiny", "--batch", "1", "--warmup", "0", "--repeats", "2", "--json", str(out)])
    printed = capsys.readouterr().out
    table = [[cell.strip() for cell in line.strip("|").split("|")] for line in printed.splitlines() if line.startswith("| ")]
    assert [line[:4] for line in table[1:]] == [[what, "tiny", "1", "float32"]
                                                for what in ("forward", "train_step", "adpm2_predict", "cm2_predict")]
    assert json.loads(out.read_text()) == result
    rows = {r["what"]: r for r in result["rows"]}
    assert list(rows) == ["forward", "train_step", "adpm2_predict", "cm2_predict"]
    for row in rows.values():
        for framework in ("jax", "torch"):
            timing = row[framework]
            assert 0 < timing["min_ms"] <= timing["median_ms"]
        assert math.isfinite(row["jax_over_torch"]) and row["jax_over_torch"] > 0
    for what, calls in (("adpm2_predict", 16), ("cm2_predict", 2)):  # the server's samplers: 16 and 2 calls
        assert rows[what]["network_calls"] == calls
        assert math.isfinite(rows[what]["overhead_vs_forwards"])
    assert result["environment"]["torch"].startswith("2.13.0")


def test_benchmark_rejects_an_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset"):
        benchmark(["--preset", "huge"])


def test_codec_benchmark_reports_real_time_factors(tmp_path, capsys):
    from jaxaccomp.bench.codec_time import benchmark as codec_benchmark

    result = codec_benchmark(["--codecs", "embedded", "--warmup", "0", "--repeats", "2", "--json", str(tmp_path / "c.json")])
    assert [(r["codec"], r["what"]) for r in result["rows"]] == [("embedded", "encode 6 s"), ("embedded", "decode 1.5 s")]
    # a model window, and the audio 16 latent frames decode to: 16 hops plus the codec's 1536-sample edge
    assert [row["audio_s"] for row in result["rows"]] == [6.0, pytest.approx((16 * 4096 + 1536) / 44100)]
    assert all(math.isfinite(row["times_realtime"]) and row["times_realtime"] > 0 for row in result["rows"])
    assert "| embedded |" in capsys.readouterr().out
    assert json.loads((tmp_path / "c.json").read_text()) == result


def test_render_benchmark_reports_hours_per_cpu_hour(tmp_path):
    pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth not installed")
    from jaxaccomp.bench.render_time import benchmark as render_benchmark
    from jaxaccomp.data.render import DEFAULT_SOUNDFONT

    if not Path(DEFAULT_SOUNDFONT).is_file():
        pytest.skip(f"{DEFAULT_SOUNDFONT} absent (Debian package fluid-soundfont-gm)")
    row = render_benchmark(["--songs", "1", "--seconds", "8", "--json", str(tmp_path / "r.json")])["rows"][0]
    assert row["audio_hours"] > 7 / 3600
    assert row["cpu_s"] > 0 and math.isfinite(row["hours_per_cpu_hour"]) and row["hours_per_cpu_hour"] > 0


def test_loopback_transfer_benchmark_delivers_every_sample(tmp_path, capsys):
    from jaxaccomp.bench.loopback_time import benchmark as loopback

    out = tmp_path / "t.json"
    result = loopback(["transfer", "--sizes", "4410", "--warmup", "0", "--repeats", "2", "--json", str(out)])
    rows = result["rows"]
    assert [(r["direction"], r["format"]) for r in rows] == [
        ("up", "float list"), ("up", "blob"), ("down", "python-osc float list"), ("down", "float list"), ("down", "blob")]
    assert [r["chunks"] for r in rows] == [15, 15, 16, 16, 16]
    assert rows[1]["largest_datagram_bytes"] < rows[0]["largest_datagram_bytes"]  # 4 bytes a sample, not 5
    assert all(0 < r["min_ms"] <= r["median_ms"] for r in rows)
    assert json.loads(out.read_text()) == result and "| down      | blob" in capsys.readouterr().out


def test_loopback_cycle_benchmark_reports_every_stage(tmp_path):
    from jaxaccomp.bench.loopback_time import benchmark as loopback

    result = loopback(["cycle", "--modes", "consistency", "--r", "0.25", "--warmup", "1", "--repeats", "2"])
    (row,) = result["rows"]
    assert set(row["stages_ms"]) == {f"{s}_ms" for s in ("receive", "encode", "sample", "decode", "send", "total")}
    assert row["compilations_while_serving"] == 0 and row["step_budget_ms"] == pytest.approx(1500.0)
    assert row["round_trip_ms"] > row["stages_ms"]["sample_ms"] > 0
