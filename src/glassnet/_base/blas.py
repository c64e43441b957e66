"""Control of the BLAS threads behind NumPy's matrix products.

``serial_matmul`` runs a small training product on one thread (see its docstring for why), ``one_thread``
does the same for a block (single-image inference), ``in_parts`` runs a loop of small products and
elementwise steps on blocks of rows side by side, one thread each, ``ones`` turns row and column sums into
BLAS products, and ``blas_threads`` limits the threads for a whole command.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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


def blas_thread_count() -> int:
    """The threads the BLAS would use for a product now (1 inside ``one_thread``)."""
    return max((get() for get, _ in _blas_libraries()), default=1)


PART_MIN_ROWS = 16
"""``in_parts`` gives every thread at least this many rows."""

_POOLS: dict[int, ThreadPoolExecutor] = {}


def in_parts(n: int, fn: Callable[[slice], None], serial: bool = False, min_rows: int = PART_MIN_ROWS) -> None:
    """``fn(rows)`` for consecutive blocks of ``range(n)``, one per BLAS thread, run concurrently, each
    block's products on one BLAS thread.

    For loops of many small steps (an LSTM's time loop: one n x H by H x 4H product and a few
    elementwise operations per step): a multi-threaded product of a few dozen rows barely gains, and
    NumPy's elementwise operations run on one core; blocks of rows in threads of their own (NumPy
    releases the GIL inside both) use every core for all of it. The blocks depend only on n and the
    thread count, so results are the same from run to run. With one thread, or fewer than 2
    ``min_rows`` rows, ``fn`` sees all rows at once (inside ``one_thread`` when ``serial``).
    """
    parts = min(blas_thread_count(), n // min_rows)
    if parts <= 1:
        with one_thread if serial else contextlib.nullcontext():
            fn(slice(0, n))
        return
    pool = _POOLS.get(parts)
    if pool is None:
        pool = _POOLS[parts] = ThreadPoolExecutor(parts, thread_name_prefix="glassnet-rows")
    bounds = [n * k // parts for k in range(parts + 1)]
    with one_thread:
        futures = [pool.submit(fn, slice(lo, hi)) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        errors = [future.exception() for future in futures]  # waits for every block
    for error in errors:
        if error is not None:
            raise error


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
