"""The local pool's payload in shared memory: its arrays placed once, mapped by every worker without a copy.

Pickle protocol 5 hands the payload's NumPy buffers out of band; each goes into one
``multiprocessing.shared_memory`` block, and a worker rebuilds the payload around views of those blocks. A
pool then starts in the same time whatever the size of the training data (through the pool's initializer,
a 94 MB payload cost each worker about 0.6 s before its first trial). The workers only read the arrays.
"""

from __future__ import annotations

import contextlib
import pickle
from multiprocessing import shared_memory
from typing import Any

Spec = tuple[bytes, list[tuple[str, int]]]
"""What a worker needs to rebuild the payload: the pickle and the (name, size) of each block."""



class _Mapped(shared_memory.SharedMemory):
    """A block a worker maps for its whole life: the payload's arrays view it, so it is never closed."""

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # BufferError: the arrays still view it (at interpreter exit)
            super().__del__()


_ATTACHED: list[_Mapped] = []
"""The blocks this worker maps: kept open for the payload's lifetime (the worker's)."""


class SharedPayload:
    """The payload's pickle with its buffers in shared memory blocks, owned (and unlinked) by this process."""

    def __init__(self, payload: Any) -> None:
        buffers: list[pickle.PickleBuffer] = []
        pickled = pickle.dumps(payload, protocol=5, buffer_callback=buffers.append)
        self.blocks: list[shared_memory.SharedMemory] = []
        sizes = []
        try:
            for buf in buffers:
                raw = buf.raw()  # contiguous bytes (NumPy gives out-of-band buffers only for contiguous arrays)
                block = shared_memory.SharedMemory(create=True, size=max(1, raw.nbytes))
                self.blocks.append(block)
                block.buf[:raw.nbytes] = raw
                sizes.append(raw.nbytes)
        except BaseException:
            self.close()
            raise
        self.spec: Spec = (pickled, [(b.name, n) for b, n in zip(self.blocks, sizes, strict=True)])

    def close(self) -> None:
        """Release and remove the blocks (workers that still map them keep their views until they exit)."""
        for block in self.blocks:
            block.close()
            try:
                block.unlink()
            except FileNotFoundError:
                pass
        self.blocks = []


def share(payload: Any) -> SharedPayload | None:
    """``payload`` in shared memory, or None where this system has none to give (the caller then sends it)."""
    try:
        return SharedPayload(payload)
    except (OSError, ValueError, BufferError):
        return None


def attach(spec: Spec) -> Any:
    """In a worker: the payload, its arrays viewing the shared blocks."""
    pickled, blocks = spec
    views = []
    for name, size in blocks:
        block = _Mapped(name=name)
        _ATTACHED.append(block)
        views.append(block.buf[:size])
    return pickle.loads(pickled, buffers=views)
