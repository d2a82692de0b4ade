"""Data-parallel layout: one 'data' mesh axis over every device of every process.

Each process reads its own disjoint shard of every epoch (grain, `shard_index=jax.process_index()`)
and contributes its local rows to the global batch, which is sharded over the 'data' axis; the
train step's gradient mean over the global batch becomes an all-reduce inserted by XLA.
The state is replicated, or with `shard_params` split over the same axis (ZeRO-3 style: every
large parameter, its Adam moments and its EMA live 1/N per device; XLA gathers them for the
forward pass and reduce-scatters the gradients), so presets too large for one device still train.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "data"
MIN_SHARDED_SIZE = 2**14  # smaller arrays (biases, norms) stay replicated: gathering them costs more than it saves


def initialize_distributed() -> None:
    """Multi-host start-up (coordinator, process count and id from the cluster environment); once, before
    anything else touches the devices."""
    if not jax.distributed.is_initialized():
        jax.distributed.initialize()


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh over `devices` (default: all devices of all processes)."""
    return Mesh(np.asarray(list(devices) if devices is not None else jax.devices()), (AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(AXIS))


def local_batch_size(global_batch: int, mesh: Mesh) -> int:
    """Rows this process feeds; the global batch must split evenly over devices and processes."""
    if global_batch % mesh.size:
        raise ValueError(f"batch size {global_batch} must be a multiple of the {mesh.size} devices")
    return global_batch // jax.process_count()


def global_batch(local: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """This process's rows -> global arrays sharded over the 'data' axis."""
    sharding = batch_sharded(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v)) for k, v in local.items()}


def state_shardings(shapes, mesh: Mesh, shard_params: bool = False):
    """A sharding per leaf of `shapes`: replicated, or (shard_params) split along the largest axis that
    divides evenly over the devices."""

    def layout(leaf) -> NamedSharding:
        if shard_params and leaf.ndim and leaf.size >= MIN_SHARDED_SIZE:
            for axis in sorted(range(leaf.ndim), key=lambda a: -leaf.shape[a]):
                if leaf.shape[axis] % mesh.size == 0:
                    return NamedSharding(mesh, PartitionSpec(*[AXIS if a == axis else None for a in range(leaf.ndim)]))
        return replicated(mesh)

    return jax.tree.map(layout, shapes)


def put_state(tree, shardings):
    """Host (or single-device) arrays -> global arrays laid out as `shardings` (works across processes)."""
    return jax.tree.map(lambda x, s: jax.make_array_from_callback(np.shape(x), s, lambda idx: np.asarray(x)[idx]),
                        tree, shardings)


def put_replicated(tree, mesh: Mesh):
    """Host (or single-device) arrays -> copies replicated on every device of the mesh."""
    return put_state(tree, jax.tree.map(lambda _: replicated(mesh), tree))
