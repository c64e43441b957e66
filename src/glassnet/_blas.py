"""Control of the BLAS threads behind NumPy's matrix products.

``serial_matmul`` runs a small training product on one thread (see its docstring for why), ``one_thread``
does the same for a block (single-image inference), ``ones`` turns row and column sums into BLAS products,
and ``blas_threads`` limits the threads for a whole command.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

_ONES: dict[tuple[int, np.dtype], np.ndarray] = {}


def ones(n: int, dtype: np.dtype) -> np.ndarray:
    """A cached read-only vector of n ones: sums as products, 1^T delta, run as BLAS matrix-vector products
    (two to three times faster than ``delta.sum(axis=0)`` for batch-sized arrays)."""
    key = (n, dtype)
    v = _ONES.get(key)
    if v is None:
        v = _ONES[key] = np.ones(n, dtype)
        v.flags.writeable = False
    return v


SERIAL_MIN_WEIGHTS = 1 << 16
SERIAL_MAX_MACS = 1 << 24
"""In training, a product that reads a weight matrix of at least SERIAL_MIN_WEIGHTS entries runs on one
BLAS thread when it needs fewer than SERIAL_MAX_MACS multiply-adds (batch x n_in x n_out); see
``serial_matmul``. Measured on 2 cores: 784 x 128 weights, batches of 32 and 128 gain; 784 x 512 at batch
128 loses. ``SERIAL_MAX_MACS = 0`` turns it off."""

_BLAS: list[list[tuple[Any, Any]]] = []  # (get, set) thread-count functions per BLAS library, on first use


def _blas_libraries() -> list[tuple[Any, Any]]:
    if not _BLAS:
        libs = []
        try:
            from threadpoolctl import ThreadpoolController

            for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
                get, set_ = lib.get_num_threads, lib.set_num_threads
                symbol = getattr(lib, "_get_symbol", None)  # OpenBLAS's own functions: 5x less overhead
                if symbol is not None and getattr(lib, "threading_layer", None) == "pthreads":
                    raw = symbol("openblas_get_num_threads"), symbol("openblas_set_num_threads")
                    if None not in raw:
                        get, set_ = raw
                libs.append((get, set_))
        except Exception:  # no threadpoolctl, or it cannot inspect this platform: products keep their threads
            libs = []
        _BLAS.append(libs)
    return _BLAS[0]


def use_serial(n: int, W: np.ndarray) -> bool:
    """Whether a training product of an n-row batch with W should run on one BLAS thread."""
    return W.size >= SERIAL_MIN_WEIGHTS and n * W.size < SERIAL_MAX_MACS


class _OneThread:
    """``with one_thread():`` runs the products inside on a single BLAS thread. The thread count is
    process-wide, so nested and concurrent sections (several Python threads) are counted: the first to
    enter saves the counts, the last to leave restores them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: list[int] = []

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                libs = _blas_libraries()
                self._saved = [get() for get, _ in libs]
                if max(self._saved, default=1) > 1:
                    for _, set_ in libs:
                        set_(1)
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and max(self._saved, default=1) > 1:
                for (_, set_), n in zip(_blas_libraries(), self._saved, strict=True):
                    set_(n)


one_thread = _OneThread()
"""Context manager: the products inside run on one BLAS thread (single-image inference, small training)."""


def serial_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b on a single BLAS thread; other products keep their threads.

    Training rewrites W after every batch. When a multi-threaded product has read W, its cache lines
    sit in every core's cache and the in-place update must take them back: on the 2-core benchmark
    machine that costs about 0.1 ms, more than a second thread saves on a small product (784 x 128
    weights: 0.05 ms at batch 128, 0.01 ms at batch 32). The products that write dC/dW keep every
    thread: there each thread reads its own part of the inputs. The thread count is process-wide, so a
    product run meanwhile from another Python thread also gets one thread.
    """
    with one_thread:
        return a @ b


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Limit the BLAS behind NumPy to ``n`` threads inside the block (n <= 0: leave it alone).

    Busy-waiting BLAS threads on an oversubscribed machine can make every product ten times slower.
    """
    if n <= 0:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"):
        yield
