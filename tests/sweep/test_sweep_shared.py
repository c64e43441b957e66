"""The local pool's payload in shared memory: the workers see the parent's arrays without a copy."""

import mmap
import os
import sys

import numpy as np
import pytest

from glassnet.parallel import executors
from glassnet.parallel.executors import WorkerPool
from glassnet.parallel.shared import SharedPayload, attach, share


def payload():
    rng = np.random.default_rng(0)
    X = rng.random((300, 7), dtype=np.float32)
    return {"X": X, "y": rng.integers(0, 10, 300), "empty": np.empty((0, 3)), "every_other": X[:, ::2],
            "name": "toy"}


def test_a_shared_payload_rebuilds_equal_arrays_that_view_the_blocks():
    original = payload()
    shared = SharedPayload(original)
    try:
        # the contiguous arrays go to blocks (X, y, empty); the strided view is pickled in band
        assert len(shared.blocks) == 3
        rebuilt = attach(shared.spec)
        assert rebuilt["name"] == "toy"
        for key in ("X", "y", "empty", "every_other"):
            assert rebuilt[key].dtype == original[key].dtype
            np.testing.assert_array_equal(rebuilt[key], original[key])
        assert maps_shared_memory(rebuilt["X"]) and not maps_shared_memory(original["X"])
        # no copy: a change in the block shows in the rebuilt array
        block = shared.blocks[0]
        view = np.ndarray(original["X"].shape, np.float32, buffer=block.buf)
        view[0, 0] = -1.0
        assert rebuilt["X"][0, 0] == -1.0 and original["X"][0, 0] != -1.0
        names = [b.name for b in shared.blocks]
    finally:
        del view, block, rebuilt
        shared.close()
    if sys.platform.startswith("linux"):
        assert not any(os.path.exists(f"/dev/shm/{name.lstrip('/')}") for name in names)
    assert shared.blocks == []


def test_share_gives_none_when_the_system_has_no_shared_memory(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr("glassnet.parallel.shared.shared_memory.SharedMemory", refuse)
    assert share(payload()) is None


def maps_shared_memory(a):
    """Whether the memory under array ``a`` is a mapped shared memory block."""
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return isinstance(a, memoryview) and isinstance(a.obj, mmap.mmap)


def worker_view(data, i):
    """In a worker: what it sees of the payload, and whether its X lies in shared memory."""
    return float(data["X"].astype(np.float64).sum()), maps_shared_memory(data["X"]), os.getpid()


@pytest.mark.parametrize("shared", [True, False], ids=["shared memory", "pickled to each worker"])
def test_local_pool_workers_see_the_payload_in_shared_memory_or_pickled(shared, monkeypatch):
    data = payload()
    if not shared:
        monkeypatch.setattr(executors, "share", lambda p: None)
    with WorkerPool(data, jobs=2) as pool:
        assert (pool._shared is not None) == shared
        results = pool.map(worker_view, [(i,) for i in range(4)])
        names = [b.name for b in pool._shared.blocks] if shared else []
    total = float(data["X"].astype(np.float64).sum())
    assert [r[0] for r in results] == [total] * 4
    assert {r[1] for r in results} == {shared}  # shared: views of the blocks, not copies
    assert os.getpid() not in {r[2] for r in results}
    if sys.platform.startswith("linux"):  # closing the pool removed the blocks
        assert not any(os.path.exists(f"/dev/shm/{name.lstrip('/')}") for name in names)
