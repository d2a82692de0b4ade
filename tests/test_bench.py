"""The benchmarks run end to end and report what they measured (no timing thresholds); the figures
they derive from timings are checked against values worked out by hand from scripted timings."""

import json
import math
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from jaxaccomp.bench import step_time
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
        # jax / torch (test_benchmark_figures_from_scripted_timings checks the values): above 1 when JAX is slower
        assert math.isfinite(row["jax_over_torch"]) and row["jax_over_torch"] > 0
        assert (row["jax_over_torch"] > 1) == (row["jax"]["median_ms"] > row["torch"]["median_ms"])
    forward_ms = rows["forward"]["jax"]["median_ms"]
    for what, calls in (("adpm2_predict", 16), ("cm2_predict", 2)):  # the server's samplers: 16 and 2 calls
        assert rows[what]["network_calls"] == calls
        # above 0 when the whole prediction takes longer than that many single forwards
        assert math.isfinite(rows[what]["overhead_vs_forwards"]) and rows[what]["overhead_vs_forwards"] > -1
        assert (rows[what]["overhead_vs_forwards"] > 0) == (rows[what]["jax"]["median_ms"] > calls * forward_ms)
    assert result["environment"]["torch"].startswith("2.13.0")


def timing(median_ms: float) -> dict[str, float]:
    return {"first_s": 1.0, "median_ms": median_ms, "min_ms": median_ms / 2}


class ScriptedBench:
    """Stands in for step_time.Bench: no networks, each measurement a fixed (jax, torch) median in ms."""

    MEDIANS = {"forward": (10.0, 20.0), "train_step": (40.0, 50.0), "adpm2": (200.0, 100.0), "consistency": (30.0, 60.0)}

    def __init__(self, args):
        self.jax_device = self.torch_device = "cpu"

    def row(self, what: str) -> dict:
        jax_ms, torch_ms = self.MEDIANS[what]
        return {"jax": timing(jax_ms), "torch": timing(torch_ms)}

    def forward(self, batch: int, dtype: str) -> dict:
        return self.row("forward")

    def train_step(self, batch: int, dtype: str) -> dict:
        return self.row("train_step")

    def predict(self, batch: int, dtype: str, sampler: str) -> dict:
        return self.row(sampler)


def test_benchmark_figures_from_scripted_timings(monkeypatch, capsys):
    """The derived figures, worked out by hand from known medians: jax/torch, examples per second
    (batch 2), and a prediction's overhead over that many single JAX forwards (10 ms each)."""
    monkeypatch.setattr(step_time, "Bench", ScriptedBench)
    monkeypatch.setattr(step_time, "_environment", lambda *_: {"jax_device": "cpu", "jax": "-", "torch": "-"})
    rows = {r["what"]: r for r in benchmark(["--preset", "tiny", "--batch", "2", "--threads", "2"])["rows"]}
    assert {what: row["jax_over_torch"] for what, row in rows.items()} == pytest.approx(
        {"forward": 0.5, "train_step": 0.8, "adpm2_predict": 2.0, "cm2_predict": 0.5})
    assert (rows["train_step"]["jax_examples_per_s"], rows["train_step"]["torch_examples_per_s"]) == pytest.approx((50, 40))
    assert rows["adpm2_predict"]["overhead_vs_forwards"] == pytest.approx(0.25)  # 200 ms against 16 x 10 ms
    assert rows["cm2_predict"]["overhead_vs_forwards"] == pytest.approx(0.5)  # 30 ms against 2 x 10 ms
    assert "| forward " in capsys.readouterr().out


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


def test_codec_benchmark_real_time_factors_from_scripted_timings(monkeypatch):
    """Encoding 6 s in 500 ms is 12x real time; decoding 1.52 s in 250 ms is 4 x 1.52 s per s."""
    from jaxaccomp.bench import codec_time

    medians = iter([500.0, 250.0])

    def scripted(fn, sync, warmup, repeats):
        sync(fn())
        return timing(next(medians))

    monkeypatch.setattr(codec_time, "measure", scripted)
    rows = codec_time.benchmark(["--codecs", "embedded"])["rows"]
    assert [row["times_realtime"] for row in rows] == pytest.approx([12.0, 4 * (16 * 4096 + 1536) / 44100])


def test_render_benchmark_reports_hours_per_cpu_hour(tmp_path, monkeypatch):
    pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth not installed")
    from jaxaccomp.bench import render_time
    from jaxaccomp.data.render import DEFAULT_SOUNDFONT

    if not Path(DEFAULT_SOUNDFONT).is_file():
        pytest.skip(f"{DEFAULT_SOUNDFONT} absent (Debian package fluid-soundfont-gm)")
    # A scripted CPU clock: the render takes 36 CPU-seconds, 1/100 of an hour.
    monkeypatch.setattr(render_time, "time", SimpleNamespace(process_time=iter([100.0, 136.0]).__next__,
                                                             perf_counter=time.perf_counter))
    row = render_time.benchmark(["--songs", "1", "--seconds", "8", "--json", str(tmp_path / "r.json")])["rows"][0]
    assert row["audio_hours"] > 7 / 3600
    assert row["cpu_s"] == 36.0 and row["wall_s"] > 0
    assert row["hours_per_cpu_hour"] == pytest.approx(100 * row["audio_hours"])


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

    result = loopback(["cycle", "--modes", "consistency", "--r", "0.25", "--steps", "1", "2", "--warmup", "1",
                       "--repeats", "2"])
    assert [row["steps"] for row in result["rows"]] == [1, 2]  # one row per step count, side by side
    row = result["rows"][1]
    assert set(row["stages_ms"]) == {f"{s}_ms" for s in ("receive", "encode", "sample", "decode", "send", "total")}
    assert row["compilations_while_serving"] == 0 and row["step_budget_ms"] == pytest.approx(1500.0)
    assert row["round_trip_ms"] > row["stages_ms"]["sample_ms"] > 0
    with pytest.raises(ValueError, match="--steps is for the embedded tier"):
        loopback(["cycle", "--tier", "paper", "--steps", "2"])
