"""The GPU device suite cannot rot: its --smoke run takes every code path on the CPU with tiny models
(two virtual CPU devices, so the sharded training step really shards), and its tables and goal
verdicts are checked on scripted results."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jaxaccomp.bench import device_suite

pytestmark = pytest.mark.torch
ROOT = Path(__file__).resolve().parent.parent


def suite(*args: object, devices: int = 1) -> subprocess.CompletedProcess:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", "jaxaccomp.bench.device_suite", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=env)


def test_smoke_run_measures_every_part_and_writes_json_and_tables(tmp_path):
    # A budget far above the ~2 minutes it takes, so that a busy machine skips no row.
    run = suite("--smoke", "--out", tmp_path, "--budget", 1200, devices=2)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((tmp_path / "device_suite_smoke_cpu.json").read_text())
    for part in device_suite.SHARES:
        assert result[part], part
        for row in result[part]:
            assert "error" not in row and "skipped" not in row, row
    assert len(result["forward"]) == 4 and all(row["gflop"] > 0 for row in result["forward"])
    assert "torch_compile" in result["forward"][0] and "median_ms" in result["forward"][0]["torch_compile"]
    assert [row["sampler"] for row in result["predict"]] == ["adpm2", "consistency"] * 2
    assert {(row["mode"], row["r"]) for row in result["cycles"]} == {
        (mode, r) for mode in ("consistency", "diffusion") for r in device_suite.SMOKE.ratios}
    assert all(row["compilations_while_serving"] == 0 for row in result["cycles"])
    one, sharded = result["train"]
    assert one["devices"] == 1 and one["jax_over_torch_examples"] > 0 and sharded["devices"] == 2
    tables = (tmp_path / "device_suite_smoke_cpu.md").read_text()
    assert "Whole server cycles" in tables and tables in run.stdout
    assert "| consistency cycle" in tables and "not the paper preset" in tables

    again = suite("--smoke", "--out", tmp_path)
    assert again.returncode == 1 and again.stderr.startswith("error: ") and "--force" in again.stderr
    assert again.stderr.count("\n") == 1


def test_the_full_suite_needs_a_gpu(tmp_path):
    run = suite("--out", tmp_path)
    assert run.returncode == 1 and run.stderr.startswith("error: the device suite needs a GPU seen by JAX and torch")
    assert run.stderr.count("\n") == 1 and not any(tmp_path.iterdir())


def _scripted(**overrides) -> dict:
    ms = lambda value: {"median_ms": value, "min_ms": value, "first_s": 1.0}  # noqa: E731
    result = {
        "environment": {"jax_device": "NVIDIA H200", "jax_platform": "gpu", "torch_device": "NVIDIA H200",
                        "jax": "x", "torch": "y", "date": "today"},
        "plan": {"preset": "paper"}, "budget_s": 480.0, "wall_s": 400.0,
        "forward": [{"preset": "paper", "batch": 1, "dtype": "bfloat16", "jax": ms(1.5), "torch": ms(3.0),
                     "gflop": 356.0, "roofline_ratio": 4.2},
                    {"preset": "paper", "batch": 4, "dtype": "bfloat16", "skipped": "its time share was spent"}],
        "predict": [{"batch": 1, "dtype": "bfloat16", "sampler": "adpm2", "jax": ms(40.0), "torch": ms(80.0)},
                    {"batch": 1, "dtype": "bfloat16", "sampler": "consistency", "error": "RuntimeError: boom"}],
        "cycles": [{"mode": "consistency", "r": r, "stages_ms": {f"{s}_ms": total / 6 for s in
                                                                 ("receive", "encode", "sample", "decode", "send")}
                    | {"total_ms": total}, "round_trip_ms": total, "step_budget_ms": 1500 * r * 4,
                    "compilations_while_serving": 0} for r, total in ((0.25, 50.0), (0.015625, 58.0))],
        "handover": [], "train": [{"what": "one device", "preset": "paper", "batch": 64, "dtype": "bfloat16",
                                   "devices": 1, "jax": ms(100.0), "jax_examples_per_s": 640.0,
                                   "torch_examples_per_s": 400.0, "jax_over_torch_examples": 1.6}],
    }
    return {**result, **overrides}


def test_goals_are_judged_on_what_was_measured():
    verdicts = {goal: (measured, met) for goal, _, measured, met in device_suite.goals(_scripted())}
    assert verdicts == {"forward paper b1 bfloat16": ("1.50", "yes"), "ADPM2 prediction": ("40.00", "no"),
                        "consistency prediction": ("not measured", "–"),  # its row failed
                        "consistency cycle": ("58.00", "yes"),  # the slowest consistency cycle
                        "training jax/torch": ("1.60", "yes")}
    slow = _scripted(cycles=[{**_scripted()["cycles"][0], "stages_ms": {"total_ms": 61.0}}])
    assert dict((g, m) for g, _, _, m in device_suite.goals(slow))["consistency cycle"] == "no"


def test_tables_say_why_a_row_was_not_measured():
    text = device_suite.tables(_scripted())
    assert "not measured (its time share was spent)" in text and "not measured (RuntimeError: boom)" in text
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| ")]
    assert ["paper", "1", "bfloat16", "1.50", "3.00", "–", "0.50", "356", "4.2"] in rows
