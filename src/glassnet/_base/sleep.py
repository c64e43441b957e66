"""BLAS threads that sleep when idle: ``OPENBLAS_THREAD_TIMEOUT``, set before NumPy loads OpenBLAS.

After each multi-threaded product, OpenBLAS keeps its worker threads spinning for 2^28 clock cycles (about
0.1 s) in case another product follows. Any other work in those 0.1 s competes with them for the cores: the
threads of ``glassnet._base.blas.in_parts`` (a convolution's or an LSTM's blocks of rows, one per core) and,
worse, other processes. ``OPENBLAS_THREAD_TIMEOUT=4`` (2^4 cycles, OpenBLAS's minimum) lets them sleep at once;
the next product wakes them (some microseconds). Measured on 2 cores, one training step at batch 64 (see
docs/benchmarks.md): the ``cnn`` network about 25 -> 19 ms, the ``lstm`` network 13-15 -> 9-10 ms; a small dense
network loses 5-25% to the wake-ups (most at batch 32) on an idle machine and runs several times faster
beside another busy process.

OpenBLAS reads the variable once, when it is loaded, so this module is imported by ``glassnet/__init__.py``
before anything imports NumPy; it sets the variable only if NumPy is not imported yet and the user has not set
it. Nothing here imports NumPy.
"""

from __future__ import annotations

import os
import sys

VARIABLE = "OPENBLAS_THREAD_TIMEOUT"
VALUE = "4"


def let_blas_threads_sleep() -> bool:
    """Set ``OPENBLAS_THREAD_TIMEOUT=4`` when NumPy is not loaded yet and the variable is unset; whether it
    was set now."""
    if "numpy" in sys.modules or VARIABLE in os.environ:
        return False
    os.environ[VARIABLE] = VALUE
    return True


let_blas_threads_sleep()
