"""Step time of the SongUNet, jitted JAX against eager torch (physicsnemo), same weights, same run.

python -m jaxaccomp.bench.step_time --preset small --batch 1 4 --json out.json

Times one U-Net forward (JAX `jax.jit`, torch eager and optionally `torch.compile`), one
training step (EDM DSM loss, forward + backward + Adam) and one whole prediction with each sampler
(ADPM2 inpainting, 16 network calls; 2-step consistency) both ways. Reports medians (and minima)
after warm-up, the JAX/torch ratio (below 1: JAX is faster) and, for predictions, the compiled
program's overhead over that many single JAX forwards.

Thread settings must be fixed before JAX starts, so JAX and torch are imported inside `benchmark`.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jaxaccomp.bench.timing import cpu_name, machine, markdown_table, measure, write_json

# Server settings: 5 Karras levels (4 iterations) x 2 resamples x 2 calls per ADPM2 step.
ADPM2_CALLS = 16


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jaxaccomp.bench.step_time", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small", help="model preset: paper, small or tiny (default small)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4], help="batch sizes (default 1 4)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"], help="where both frameworks run")
    parser.add_argument("--dtype", nargs="+", default=["float32"], choices=["float32", "bfloat16"],
                        help="compute dtypes; bfloat16 = JAX bf16 compute / torch bf16 autocast, fp32 parameters")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls after compilation (default 3)")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per measurement (default 20)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for each framework (default 1: like-for-like on a shared machine)")
    parser.add_argument("--no-train", action="store_true", help="skip the training-step timing")
    parser.add_argument("--prng-impl", default="threefry2x32", choices=["threefry2x32", "rbg", "unsafe_rbg"],
                        help="JAX PRNG of the training step's noise and dropout (train.py's small/tiny configs use rbg)")
    parser.add_argument("--no-predict", action="store_true",
                        help="skip the whole-prediction timings (ADPM2 16 calls, 2-step consistency)")
    parser.add_argument("--torch-compile", action="store_true", help="also time torch.compile'd forward")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    return parser


def _limit_threads(threads: int) -> None:
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".strip()


def _environment(args: argparse.Namespace, jax_device: Any, torch_device: Any) -> dict[str, Any]:
    import jax
    import torch

    return {
        **machine(),
        "jax": jax.__version__,
        "torch": torch.__version__,
        "jax_device": str(jax_device.device_kind),
        "torch_device": torch.cuda.get_device_name() if torch_device.type == "cuda" else cpu_name(),
        "threads": args.threads,
    }


class Bench:
    """Both frameworks on the same preset, weights and inputs."""

    def __init__(self, args: argparse.Namespace):
        import jax
        import numpy as np
        import torch

        from jaxaccomp.config import preset
        from jaxaccomp.convert.physicsnemo import build_physicsnemo_unet

        self.args = args
        self.config = preset(args.preset)
        if args.device == "gpu":
            if not torch.cuda.is_available() or not jax.devices()[0].platform == "gpu":
                raise ValueError("--device gpu needs CUDA builds of both torch and jax on a machine with a GPU")
            self.torch_device, self.jax_device = torch.device("cuda"), jax.devices("gpu")[0]
        else:
            torch.set_num_threads(args.threads)
            self.torch_device, self.jax_device = torch.device("cpu"), jax.devices("cpu")[0]
        torch.manual_seed(0)
        self.torch_net = build_physicsnemo_unet(self.config, amp_mode=True).to(self.torch_device)
        self.state_dict = {k: v.detach().cpu() for k, v in self.torch_net.state_dict().items()}
        self.rng = np.random.default_rng(0)

    def inputs(self, batch: int) -> dict[str, Any]:
        import numpy as np

        c = self.config
        return {
            "x": self.rng.standard_normal((batch, c.img_resolution, c.img_resolution, c.in_channels)).astype(np.float32),
            "target": self.rng.standard_normal((batch, c.img_resolution, c.img_resolution)).astype(np.float32),
            "noise": np.full((batch,), np.log(2.0) / 4, np.float32),
            "labels": np.eye(c.label_dim, dtype=np.float32)[np.arange(batch) % c.label_dim],
        }

    def jax_net(self, dtype: str):
        import jax
        import jax.numpy as jnp

        from jaxaccomp.convert.torch_weights import import_state_dict

        net = import_state_dict(self.config, self.state_dict, dtype=getattr(jnp, dtype))
        return jax.device_put(net, self.jax_device)

    def forward(self, batch: int, dtype: str, torch_compile: bool | None = None) -> dict[str, Any]:
        """One forward both ways (and `torch.compile`'d when asked: default --torch-compile)."""
        import jax
        import torch
        from flax import nnx

        host = self.inputs(batch)
        data = {k: jax.device_put(v, self.jax_device) for k, v in host.items()}
        graphdef, params = nnx.split(self.jax_net(dtype))  # functional jit: no module flattening per call
        forward = jax.jit(lambda p, x, n, l: nnx.merge(graphdef, p)(x, n, l))
        jax_times = self._time(lambda: forward(params, data["x"], data["noise"], data["labels"]), jax.block_until_ready)

        t = self._to_torch(host)
        x_nchw = t["x"].permute(0, 3, 1, 2).contiguous()
        row = {"jax": jax_times}

        def eager(net=self.torch_net):
            with torch.inference_mode(), self._autocast(dtype):
                return net(x_nchw, t["noise"], t["labels"])

        row["torch"] = self._time(eager, self._torch_sync)
        if self.args.torch_compile if torch_compile is None else torch_compile:
            try:
                compiled = torch.compile(self.torch_net)
                row["torch_compile"] = self._time(lambda: eager(compiled), self._torch_sync)
            except Exception as exc:  # noqa: BLE001 - reported, not fatal: "where it works"
                row["torch_compile"] = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:200]}
        return row

    def train_step(self, batch: int, dtype: str, devices: list | None = None, torch_side: bool = True) -> dict[str, Any]:
        """One DSM training step (fresh sigma, noise, mask and dropout each call), Adam(1e-4, 0.9, 0.99): JAX
        runs train.py's own compiled step (`training.edm`) with the batch sharded over `devices` (default:
        this bench's one device), torch the same algorithm eagerly on one. Device memory: JAX's peak so far in
        this process (run the largest step last) and torch's peak during its step."""
        import jax
        import torch
        from flax import nnx

        from jaxaccomp.bench import torch_algorithms
        from jaxaccomp.convert.physicsnemo import build_physicsnemo_unet
        from jaxaccomp.training import edm, state as train_state
        from jaxaccomp.training.config import TrainConfig
        from jaxaccomp.training.sharding import global_batch, make_mesh, put_replicated

        host = self.inputs(batch)
        cfg = TrainConfig(preset=self.args.preset, dtype=dtype, batch_size=batch, prng_impl=self.args.prng_impl)
        mesh = make_mesh(devices or [self.jax_device])
        params = nnx.to_pure_dict(nnx.state(self.jax_net("float32"), nnx.Param))
        state = {"train": put_replicated(train_state.new_state(cfg, params), mesh)}
        data = global_batch({"target": host["target"], "context": host["x"][..., 1], "label": host["labels"]}, mesh)
        step = edm.make_train_step(cfg, mesh)

        def jax_step():
            state["train"], metrics = step(state["train"], data)
            return metrics["loss"]

        row = {"jax": self._time(jax_step, jax.block_until_ready), "devices": mesh.size,
               "jax_peak_bytes": device_peak_bytes(mesh.devices.flat[0])}
        if not torch_side:
            return row

        net = build_physicsnemo_unet(self.config, dropout=self.config.dropout, amp_mode=True).to(self.torch_device)
        net.load_state_dict(self.state_dict)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.9, 0.99))
        t = self._to_torch(host)

        def torch_step():
            with self._autocast(dtype):
                loss = torch_algorithms.dsm_loss(net, t["target"], t["x"][..., 1], t["labels"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return loss

        if self.torch_device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        row["torch"] = self._time(torch_step, self._torch_sync)
        if self.torch_device.type == "cuda":
            row["torch_peak_bytes"] = torch.cuda.max_memory_allocated()
        return row

    def predict(self, batch: int, dtype: str, sampler: str) -> dict[str, Any]:
        """One whole prediction at r = 1/4: compiled JAX sampler vs the same loop in eager torch."""
        import jax
        import numpy as np
        import torch
        from flax import nnx

        from jaxaccomp.bench import torch_algorithms
        from jaxaccomp.diffusion import samplers
        from jaxaccomp.nn.precond import Denoiser

        host = self.inputs(batch)
        width = self.config.img_resolution
        host["known"] = np.arange(width)[None, :].repeat(batch, 0) < width - width // 4
        data = {k: jax.device_put(v, self.jax_device) for k, v in host.items()}
        mode = "diffusion" if sampler == "adpm2" else "consistency"
        graphdef, params = nnx.split(Denoiser(self.jax_net(dtype), mode=mode))
        if sampler == "adpm2":
            sigmas = samplers.karras_sigmas(**samplers.SERVER_ADPM2)
            run_jax = lambda d, key, *a: samplers.adpm2_inpaint(d, key, *a, sigmas)  # noqa: E731
            run_torch = lambda *a: torch_algorithms.adpm2_inpaint(self.torch_net, *a, list(sigmas),  # noqa: E731
                                                                   samplers.SERVER_RESAMPLES)
        else:
            sigmas = samplers.consistency_sigmas(2)
            run_jax = lambda d, key, *a: samplers.consistency_sample(d, key, *a, sigmas)  # noqa: E731
            run_torch = lambda *a: torch_algorithms.consistency_sample(self.torch_net, *a, list(sigmas))  # noqa: E731

        @jax.jit
        def predict(params, key, source, known, context, labels):
            return run_jax(nnx.merge(graphdef, params), key, source, known, context, labels)

        args = (data["target"], data["known"], data["x"][..., 1], data["labels"])
        row = {"jax": self._time(lambda: predict(params, jax.random.key(0), *args), jax.block_until_ready)}
        t = self._to_torch(host)

        def torch_predict():
            with torch.inference_mode(), self._autocast(dtype):
                return run_torch(t["target"], t["known"], t["x"][..., 1], t["labels"])

        row["torch"] = self._time(torch_predict, self._torch_sync)
        return row

    def _to_torch(self, host: dict[str, Any]) -> dict[str, Any]:
        import torch

        return {k: torch.from_numpy(v).to(self.torch_device) for k, v in host.items()}

    def _time(self, fn: Callable[[], Any], sync: Callable[[Any], Any]) -> dict[str, float]:
        return measure(fn, sync, self.args.warmup, self.args.repeats)

    def _torch_sync(self, _: Any) -> None:
        import torch

        if self.torch_device.type == "cuda":
            torch.cuda.synchronize()

    def _autocast(self, dtype: str):
        import contextlib

        import torch

        if dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.torch_device.type, dtype=torch.bfloat16)


def device_peak_bytes(device: Any) -> int | None:
    """The most memory JAX has held on `device` so far in this process (None where it does not count: CPU)."""
    stats = device.memory_stats()
    return None if not stats else stats.get("peak_bytes_in_use")


def _ratio(row: dict[str, Any]) -> float | None:
    if "median_ms" not in row.get("jax", {}) or "median_ms" not in row.get("torch", {}):
        return None
    return row["jax"]["median_ms"] / row["torch"]["median_ms"]


def _table(rows: list[dict[str, Any]]) -> str:
    def ms(row: dict[str, Any], key: str) -> str:
        entry = row.get(key)
        if entry is None:
            return "-"
        if "error" in entry:
            return "failed"
        return f"{entry['median_ms']:.1f} ({entry['min_ms']:.1f})"

    def per_s(row: dict[str, Any], key: str) -> str:
        return f"{row[key]:.1f}" if row.get(key) is not None else "-"

    header = ["what", "preset", "batch", "dtype", "jax ms med (min)", "torch eager", "torch.compile", "jax/torch",
              "jax vs calls x fwd", "examples/s jax", "examples/s torch", "jax compile s"]
    lines = []
    for r in rows:
        ratio, overhead = r["jax_over_torch"], r.get("overhead_vs_forwards")
        lines.append([r["what"], r["preset"], str(r["batch"]), r["dtype"], ms(r, "jax"), ms(r, "torch"),
                      ms(r, "torch_compile"), f"{ratio:.2f}" if ratio else "-",
                      f"{overhead:+.1%}" if overhead is not None else "-", per_s(r, "jax_examples_per_s"),
                      per_s(r, "torch_examples_per_s"), f"{r['jax']['first_s']:.1f}"])
    return markdown_table(header, lines)


def benchmark(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark for command-line `argv`; prints the table and returns the JSON record."""
    args = _parser().parse_args(argv)
    _limit_threads(args.threads)
    from jaxaccomp.config import preset

    preset(args.preset)  # fail fast on a bad name, before any model is built
    import jax

    jax.config.update("jax_default_prng_impl", args.prng_impl)
    bench = Bench(args)
    measurements = [("forward", bench.forward, 1)]
    if not args.no_train:
        measurements.append(("train_step", bench.train_step, None))
    if not args.no_predict:
        measurements += [("adpm2_predict", functools.partial(bench.predict, sampler="adpm2"), ADPM2_CALLS),
                         ("cm2_predict", functools.partial(bench.predict, sampler="consistency"), 2)]
    rows = []
    for dtype in args.dtype:
        for batch in args.batch:
            forward_ms = None
            for what, run_one, calls in measurements:
                print(f"timing {what} preset={args.preset} batch={batch} dtype={dtype} ...", file=sys.stderr, flush=True)
                row = {"what": what, "preset": args.preset, "batch": batch, "dtype": dtype, **run_one(batch, dtype)}
                row["jax_over_torch"] = _ratio(row)
                if what == "forward":
                    forward_ms = row["jax"]["median_ms"]
                elif what == "train_step":  # training throughput
                    for side in ("jax", "torch"):
                        if "median_ms" in row.get(side, {}):
                            row[f"{side}_examples_per_s"] = 1000.0 * batch / row[side]["median_ms"]
                elif calls is not None:  # a whole prediction against that many single forwards
                    row["network_calls"] = calls
                    row["overhead_vs_forwards"] = row["jax"]["median_ms"] / (calls * forward_ms) - 1
                rows.append(row)
    result = {"environment": _environment(args, bench.jax_device, bench.torch_device),
              "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "rows": rows}
    env = result["environment"]
    print(f"\nSongUNet step time on {args.device} ({env['jax_device']}), jax {env['jax']} / torch {env['torch']}, "
          f"{args.threads} thread(s), median (min) after {args.warmup} warm-up calls, {args.repeats} timed")
    print(_table(rows))
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    from jaxaccomp import cli

    cli.run(benchmark)
