"""Every GPU measurement in one prepared run, so that a GPU lent for minutes goes to measuring.

python -m jaxaccomp.bench.device_suite                 # one H100/H200: about 8 minutes (make bench-gpu)
python -m jaxaccomp.bench.device_suite --smoke --out /tmp/smoke   # every code path on a CPU, tiny models

Parts, in order, each stopped at its share of --budget (time an earlier part leaves goes to the next;
a row not reached is recorded as such) and written to the JSON as soon as it is done:

cycles    whole server cycles of the paper tier over loopback (random-weight U-Net in bfloat16 and
          Music2Latent on the same GPU), per stage as the reference paper's Table 1, at r = 1/4, 1/8,
          1/16 and 1/64, with the compilations while serving and each framework's peak device memory
          (first, so that the peaks are serving's alone).
handover  moving one step's latents between torch (the codec) and JAX (the model): through the host
          against DLPack, both directions.
forward   the `paper` U-Net forward at batch 1 and 4, float32 and bfloat16: jitted JAX, eager torch
          (physicsnemo) and torch.compile (batch 1), same weights; FLOPs per forward from XLA's cost
          analysis and the roofline ratio: time against FLOPs / the device's dense peak.
predict   whole predictions at r = 1/4: ADPM2 with the server's schedule (16 calls) and 2-step consistency.
train     `paper` training steps at batch 64 in bfloat16: JAX (train.py's step) against torch, then the
          JAX step sharded over every local device; device memory of each.

The device is checked first: without a GPU seen by both JAX and torch the full suite stops with a
one-line error. Results: <out>/device_suite_<device>.json and .md (the tables of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jaxaccomp.bench.timing import machine, markdown_table, measure
from jaxaccomp.runtime import share_gpu_with_torch

BUDGET_S = 480.0  # 8 minutes on one H100/H200
# Cycles first: nothing else has touched the GPU yet, so each framework's peak memory is serving's own.
SHARES = {"cycles": 0.25, "handover": 0.02, "forward": 0.30, "predict": 0.15, "train": 0.28}
# Dense tensor-core peaks in TFLOP/s by device-kind substring (NVIDIA data sheets, SXM); float32 is TF32,
# the precision XLA's default gives float32 matrix products and convolutions on these GPUs.
PEAK_TFLOPS = {"H100": {"bfloat16": 989.0, "float32": 495.0}, "H200": {"bfloat16": 989.0, "float32": 495.0}}
# The goals of the GPU issue, in ms (training: JAX examples/s over torch's).
GOALS = {"forward paper b1 bfloat16": 2.0, "ADPM2 prediction": 35.0, "consistency prediction": 5.0,
         "consistency cycle": 60.0, "training jax/torch": 1.5}


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a run measures: the full suite on a GPU or the smoke run's tiny stand-ins on a CPU."""

    preset: str
    batches: tuple[int, ...]
    dtypes: tuple[str, ...]
    codec_size: str  # Music2Latent "full" or "tiny"
    ratios: tuple[float, ...]
    train_batch: int
    warmup: int
    repeats: int
    device: str  # step_time.Bench's "gpu" or "cpu"


# bfloat16 first: the serving precision the goals are set in, measured before any time share runs out.
FULL = Plan("paper", (1, 4), ("bfloat16", "float32"), "full", (1 / 4, 1 / 8, 1 / 16, 1 / 64), 64, 3, 20, "gpu")
SMOKE = Plan("tiny", (1, 2), ("bfloat16", "float32"), "tiny", (1 / 4, 1 / 64), 4, 1, 2, "cpu")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.bench.device_suite", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true",
                        help="every code path on the CPU with tiny models (`tiny` U-Net, tiny Music2Latent)")
    parser.add_argument("--budget", type=float, help=f"seconds for the whole run (default: {BUDGET_S:g}; smoke 150)")
    parser.add_argument("--out", type=Path, default=Path("docs/results"), help="results folder (default: docs/results)")
    parser.add_argument("--force", action="store_true", help="replace this device's earlier results")
    return parser


def device_slug(kind: str) -> str:
    """A file-name part for a device kind: "NVIDIA H200" -> "nvidia_h200"."""
    return re.sub(r"[^a-z0-9]+", "_", kind.lower()).strip("_") or "device"


def check_device(smoke: bool) -> dict[str, Any]:
    """The device both frameworks run on; a full run without a GPU is a one-line error."""
    import jax
    import torch

    jax_device = jax.devices()[0]
    cuda = torch.cuda.is_available()
    if not smoke and (jax_device.platform != "gpu" or not cuda):
        raise ValueError(f"the device suite needs a GPU seen by JAX and torch (JAX runs on {jax_device.platform}, "
                         f"torch {'sees' if cuda else 'does not see'} CUDA); on a CPU run --smoke")
    return {**machine(), "jax": jax.__version__, "torch": torch.__version__, "jax_device": jax_device.device_kind,
            "jax_platform": jax_device.platform, "local_devices": jax.local_device_count(),
            "torch_device": torch.cuda.get_device_name() if cuda and not smoke else "cpu"}


def peak_tflops(kind: str, dtype: str) -> float | None:
    return next((peaks[dtype] for name, peaks in PEAK_TFLOPS.items() if name in kind), None)


class Suite:
    """The parts, each appending rows to `result` under its name, with a deadline per part."""

    def __init__(self, plan: Plan, budget: float, environment: dict[str, Any], save: Callable[[], None]):
        self.plan, self.budget, self.save = plan, budget, save
        self.start = time.monotonic()
        self.result: dict[str, Any] = {"environment": environment, "plan": dataclasses.asdict(plan), "budget_s": budget}
        self._bench = None

    @property
    def bench(self):
        """The U-Net of the plan in both frameworks (step_time.Bench), built once."""
        if self._bench is None:
            from jaxaccomp.bench.step_time import Bench

            args = argparse.Namespace(preset=self.plan.preset, device=self.plan.device, threads=1,
                                      warmup=self.plan.warmup, repeats=self.plan.repeats, torch_compile=False,
                                      prng_impl="rbg")
            self._bench = Bench(args)
        return self._bench

    def run(self) -> dict[str, Any]:
        shares = 0.0
        for name, share in SHARES.items():
            shares += share
            deadline = self.start + shares * self.budget
            print(f"[{time.monotonic() - self.start:5.0f} s] {name} (until {deadline - self.start:.0f} s)",
                  file=sys.stderr, flush=True)
            rows: list[dict[str, Any]] = []
            self.result[name] = rows
            for label, measure_row in getattr(self, name)():
                if time.monotonic() > deadline:
                    rows.append({**label, "skipped": "its time share was spent"})
                    continue
                try:
                    rows.append({**label, **measure_row()})
                except Exception as exc:  # noqa: BLE001 - one failing row must not lose the others
                    rows.append({**label, "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:300]})
                self.save()
        self.result["wall_s"] = time.monotonic() - self.start
        self.save()
        return self.result

    # Each part yields (label, thunk) pairs; a thunk measures one row.

    def forward(self):
        for dtype in self.plan.dtypes:
            for batch in self.plan.batches:
                yield ({"preset": self.plan.preset, "batch": batch, "dtype": dtype},
                       functools.partial(self._forward, batch, dtype))

    def _forward(self, batch: int, dtype: str) -> dict[str, Any]:
        row = self.bench.forward(batch, dtype, torch_compile=batch == 1)
        flops = forward_flops(self.bench, batch, dtype)
        row["gflop"] = flops / 1e9 if flops else None
        peak = peak_tflops(self.result["environment"]["jax_device"], dtype)
        if flops and peak:
            row["roofline_ratio"] = row["jax"]["median_ms"] / (1e3 * flops / (peak * 1e12))
        return row

    def predict(self):
        for dtype in self.plan.dtypes:
            for sampler in ("adpm2", "consistency"):
                yield ({"preset": self.plan.preset, "batch": 1, "dtype": dtype, "sampler": sampler},
                       functools.partial(self.bench.predict, 1, dtype, sampler))

    def cycles(self):
        for mode in ("consistency", "diffusion"):
            for r in self.plan.ratios:
                yield {"mode": mode, "r": r, "dtype": "bfloat16"}, functools.partial(self._cycle, mode, r)

    @functools.cache
    def _paper_tier(self, mode: str) -> tuple[Any, Any, str]:
        """One codec and compiled generator per mode for every ratio (the paper U-Net compiles once)."""
        from jaxaccomp.bench.loopback_time import paper_tier

        return paper_tier(mode, self.plan.preset, self.plan.codec_size, "bfloat16")

    def _cycle(self, mode: str, r: float) -> dict[str, Any]:
        import jax
        import torch

        from jaxaccomp.bench.loopback_time import server_cycles
        from jaxaccomp.bench.step_time import device_peak_bytes

        codec, generator, description = self._paper_tier(mode)
        row = {"models": description, "steps": generator.steps,
               **server_cycles(codec, generator, r, 1, self.plan.warmup, self.plan.repeats),
               "jax_peak_bytes": device_peak_bytes(jax.devices()[0])}
        if codec.device.type == "cuda":
            row["torch_peak_bytes"] = torch.cuda.max_memory_allocated()
        return row

    def handover(self):
        for direction in ("torch_to_jax", "jax_to_torch"):
            for path in ("host", "dlpack"):
                yield {"direction": direction, "path": path}, functools.partial(self._handover, direction, path)

    def _handover(self, direction: str, path: str) -> dict[str, Any]:
        """One step's latents ([4 stems, 64, 64] float32) from the codec's framework to the model's, or back."""
        import jax
        import numpy as np
        import torch

        torch_device = torch.device("cuda" if self.plan.device == "gpu" else "cpu")
        jax_device = jax.devices()[0]
        host = np.random.default_rng(0).standard_normal((4, 64, 64)).astype(np.float32)
        if direction == "torch_to_jax":
            source = torch.from_numpy(host).to(torch_device)
            move = ((lambda: jax.device_put(source.cpu().numpy(), jax_device)) if path == "host"
                    else (lambda: jax.dlpack.from_dlpack(source)))
            timing = measure(move, jax.block_until_ready, self.plan.warmup, max(self.plan.repeats, 20))
        else:
            source = jax.device_put(host, jax_device)
            move = ((lambda: torch.from_numpy(np.array(source)).to(torch_device)) if path == "host"
                    else (lambda: torch.from_dlpack(source)))
            sync = (lambda _: torch.cuda.synchronize()) if torch_device.type == "cuda" else (lambda _: None)
            timing = measure(move, sync, self.plan.warmup, max(self.plan.repeats, 20))
        return {"bytes": host.nbytes, **timing}

    def train(self):
        import jax

        batch, dtype = self.plan.train_batch, "bfloat16"
        label = {"preset": self.plan.preset, "batch": batch, "dtype": dtype}
        yield {**label, "what": "one device"}, functools.partial(self._train, batch, dtype, None, True)
        yield ({**label, "what": "sharded, all local devices"},
               functools.partial(self._train, batch, dtype, jax.local_devices(), False))

    def _train(self, batch: int, dtype: str, devices: list | None, torch_side: bool) -> dict[str, Any]:
        row = self.bench.train_step(batch, dtype, devices, torch_side=torch_side)
        for side in ("jax", "torch"):
            if "median_ms" in row.get(side, {}):
                row[f"{side}_examples_per_s"] = 1e3 * batch / row[side]["median_ms"]
        if "torch_examples_per_s" in row:
            row["jax_over_torch_examples"] = row["jax_examples_per_s"] / row["torch_examples_per_s"]
        return row


def forward_flops(bench: Any, batch: int, dtype: str) -> float | None:
    """FLOPs of one forward, from XLA's cost analysis of the lowered program: shapes only, nothing is
    compiled and no weights are loaded."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from jaxaccomp.nn.networks import abstract_network

    c = bench.config
    graphdef, params = nnx.split(abstract_network(c, jnp.dtype(dtype)))
    forward = jax.jit(lambda p, x, n, l: nnx.merge(graphdef, p)(x, n, l))
    shapes = [jax.ShapeDtypeStruct(shape, jnp.float32) for shape in
              ((batch, c.img_resolution, c.img_resolution, c.in_channels), (batch,), (batch, c.label_dim))]
    cost = forward.lower(params, *shapes).cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost["flops"]) if cost and cost.get("flops") else None


# ----------------------------------------------------------------------------------------------
# tables


def _ms(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "–"
    return "failed" if "error" in entry else f"{entry['median_ms']:.2f}"


def _cells(row: dict[str, Any], width: int) -> list[str] | None:
    """A row that did not run: its reason across the measured columns."""
    reason = row.get("skipped") or row.get("error")
    return None if reason is None else [f"not measured ({reason[:80]})", *["–"] * (width - 1)]


def _gib(value: int | None) -> str:
    return "–" if value is None else f"{value / 2**30:.2f}"


def tables(result: dict[str, Any]) -> str:
    """The markdown tables of docs/benchmarks.md's GPU sections."""
    env = result["environment"]
    parts = [f"Device suite on {env['jax_device']} ({env['jax_platform']}), torch device {env['torch_device']}, "
             f"jax {env['jax']}, torch {env['torch']}, {env['date']}; medians in ms after warm-up; "
             f"{result.get('wall_s', 0):.0f} s of a {result['budget_s']:.0f} s budget."]
    lines = []
    for r in result.get("forward", []):
        lines.append([r["preset"], str(r["batch"]), r["dtype"],
                      *(_cells(r, 6) or [_ms(r.get("jax")), _ms(r.get("torch")), _ms(r.get("torch_compile")),
                                          f"{r['jax']['median_ms'] / r['torch']['median_ms']:.2f}",
                                          f"{r['gflop']:.0f}" if r.get("gflop") else "–",
                                          f"{r['roofline_ratio']:.1f}" if r.get("roofline_ratio") else "–"])])
    parts.append("U-Net forward:\n\n" + markdown_table(
        ["preset", "batch", "dtype", "JAX", "torch eager", "torch.compile", "JAX/torch", "GFLOP",
         "time / roofline"], lines))
    lines = [[r["sampler"], r["dtype"], *(_cells(r, 3) or [_ms(r.get("jax")), _ms(r.get("torch")),
                                                           f"{r['jax']['median_ms'] / r['torch']['median_ms']:.2f}"])]
             for r in result.get("predict", [])]
    parts.append("Whole predictions, batch 1 (ADPM2: 16 calls; consistency: 2):\n\n" + markdown_table(
        ["sampler", "dtype", "JAX", "torch loop", "JAX/torch"], lines))
    stages = ("receive", "encode", "sample", "decode", "send", "total")
    lines = []
    for r in result.get("cycles", []):
        measured = _cells(r, len(stages) + 5) or [
            *(f"{r['stages_ms'][f'{s}_ms']:.1f}" for s in stages), f"{r['round_trip_ms']:.1f}",
            f"{r['step_budget_ms']:.0f}", str(r["compilations_while_serving"]), _gib(r.get("jax_peak_bytes")),
            _gib(r.get("torch_peak_bytes"))]
        lines.append([r["mode"], f"{r['r']:g}", *measured])
    parts.append("Whole server cycles, paper tier (bfloat16 U-Net, Music2Latent), ms:\n\n" + markdown_table(
        ["mode", "r", *stages, "round trip", "budget", "compilations", "JAX GiB", "torch GiB"], lines))
    lines = [[r["direction"], r["path"], *(_cells(r, 1) or [f"{1e3 * r['median_ms']:.0f}"])]
             for r in result.get("handover", [])]
    parts.append("One step's latents between torch and JAX (4 x 64 x 64 float32), µs:\n\n" + markdown_table(
        ["direction", "path", "µs median"], lines))
    lines = []
    for r in result.get("train", []):
        lines.append([r["what"], r["preset"], str(r["batch"]), r["dtype"], *(_cells(r, 7) or [
            str(r.get("devices", "–")), f"{r['jax_examples_per_s']:.1f}",
            f"{r['torch_examples_per_s']:.1f}" if "torch_examples_per_s" in r else "–",
            f"{r['jax_over_torch_examples']:.2f}" if "jax_over_torch_examples" in r else "–",
            _gib(r.get("jax_peak_bytes")), _gib(r.get("torch_peak_bytes")), f"{r['jax']['first_s']:.0f}"])])
    parts.append("Training steps:\n\n" + markdown_table(
        ["what", "preset", "batch", "dtype", "devices", "JAX examples/s", "torch examples/s", "JAX/torch",
         "JAX peak GiB", "torch peak GiB", "JAX compile s"], lines))
    parts.append("Goals:\n\n" + markdown_table(["goal", "target", "measured", "met"], goals(result)))
    return "\n\n".join(parts) + "\n"


def goals(result: dict[str, Any]) -> list[list[str]]:
    """Each goal of the GPU issue against what this run measured (a smoke run's tiny models say nothing)."""
    def first(part: str, **match: Any) -> dict[str, Any] | None:
        return next((r for r in result.get(part, []) if all(r.get(k) == v for k, v in match.items())
                     and "skipped" not in r and "error" not in r), None)

    def jax_ms(row: dict[str, Any] | None) -> float | None:
        return row and row["jax"]["median_ms"]

    cycles = [r["stages_ms"]["total_ms"] for r in result.get("cycles", [])
              if r["mode"] == "consistency" and "stages_ms" in r]
    train = first("train", what="one device")
    measured = {  # goal -> (value, higher is better)
        "forward paper b1 bfloat16": (jax_ms(first("forward", batch=1, dtype="bfloat16")), False),
        "ADPM2 prediction": (jax_ms(first("predict", dtype="bfloat16", sampler="adpm2")), False),
        "consistency prediction": (jax_ms(first("predict", dtype="bfloat16", sampler="consistency")), False),
        "consistency cycle": (max(cycles, default=None), False),
        "training jax/torch": (train and train.get("jax_over_torch_examples"), True),
    }
    rows = []
    for goal, (value, higher) in measured.items():
        target = f"{'≥' if higher else '≤'} {GOALS[goal]:g}{'' if higher else ' ms'}"
        if value is None:
            rows.append([goal, target, "not measured", "–"])
        else:
            met = value >= GOALS[goal] if higher else value <= GOALS[goal]
            rows.append([goal, target, f"{value:.2f}", "yes" if met else "no"])
    if result["plan"]["preset"] != "paper":
        rows = [[goal, target, value, "– (not the paper preset)"] for goal, target, value, _ in rows]
    return rows


def benchmark(argv: list[str] | None = None) -> dict[str, Any]:
    """Run for command-line `argv`; prints the tables, writes JSON and markdown, returns the record."""
    args = _parser().parse_args(argv)
    plan = SMOKE if args.smoke else FULL
    budget = args.budget or (150.0 if args.smoke else BUDGET_S)
    if budget <= 0:
        raise ValueError(f"--budget must be positive, got {budget:g}")
    share_gpu_with_torch()  # as serving does: JAX and torch share the GPU, so JAX must not take 75 % of it first
    environment = check_device(args.smoke)
    name = "device_suite_" + ("smoke_" if args.smoke else "") + device_slug(environment["jax_device"])
    json_path, md_path = args.out / f"{name}.json", args.out / f"{name}.md"
    existing = [str(p) for p in (json_path, md_path) if p.exists()]
    if existing and not args.force:
        raise FileExistsError(f"{', '.join(existing)} already exist; pass --force to replace them")
    args.out.mkdir(parents=True, exist_ok=True)
    suite = Suite(plan, budget, environment,
                  save=lambda: json_path.write_text(json.dumps(suite.result, indent=1, default=str) + "\n"))
    result = suite.run()
    text = tables(result)
    md_path.write_text(text)
    print(text)
    print(f"wrote {json_path} and {md_path}")
    return result


if __name__ == "__main__":
    from jaxaccomp import cli

    cli.run(benchmark)
