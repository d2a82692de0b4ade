"""Data-parallel layout: one 'data' mesh axis over every device of every process, parameters replicated.

Each process reads its own disjoint shard of every epoch (grain, `shard_index=jax.process_index()`)
and contributes its local rows to the global batch, which is sharded over the 'data' axis; the
train step's gradient mean over the global batch becomes an all-reduce inserted by XLA.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "data"


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


def put_replicated(tree, mesh: Mesh):
    """Host (or single-device) arrays -> copies replicated on every device of the mesh."""
    sharding = replicated(mesh)
    return jax.tree.map(lambda x: jax.make_array_from_callback(np.shape(x), sharding, lambda idx: np.asarray(x)[idx]), tree)
