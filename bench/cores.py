"""Do two processes on this machine run as fast side by side as one alone? The ceiling of any 2-worker sweep.

    python bench/cores.py

Each workload runs in one process alone, then in two processes at once (each on 1 BLAS thread, started
together behind a barrier); the table gives the seconds per process and the slow-down side by side. The
workloads:

    in-cache sgemm   256 x 256 float32 products, operands in the core's own L2 cache: arithmetic only
    memory stream    copies of a 64 MiB float32 array: memory bandwidth and the shared L3 cache
    sweep trial      one epoch of bench/sweep.py's trial, glassnet train's default preset (784-512-256-10,
                     dropout, distorted digits), on 20,000 random images (63 MB, as the sweep's data); and
                     the same without the distortions

A workload whose slow-down exceeds 1 / 0.9 = 1.11 caps 2 workers below 1.8 times 1 worker whatever the sweep
machinery does. An in-cache product that slows down too means the two virtual cores share a physical one
(or the host is busy), which no change in glassnet can help.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from collections.abc import Callable

os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402 (the thread counts are read on import)


def in_cache_sgemm(seconds: float) -> float:
    a = np.random.default_rng(0).random((256, 256), dtype=np.float32)
    out = np.empty_like(a)
    return _repeat(lambda: np.matmul(a, a, out=out), seconds)


def memory_stream(seconds: float) -> float:
    a = np.ones(16 << 20, np.float32)
    b = np.empty_like(a)
    return _repeat(lambda: np.copyto(b, a), seconds)


def _trial(augment: str | None) -> Callable[[float], float]:
    """One epoch of ``glassnet train``'s default preset (bench/sweep.py's trial) on 20,000 random images,
    with the preset's distortions (``augment=None``) or ``augment``."""

    def workload(seconds: float) -> float:
        from glassnet.presets import COMMON, PRESETS, build, fit_model

        rng = np.random.default_rng(0)
        X = rng.random((20000, 784), dtype=np.float32)
        y = rng.integers(0, 10, 20000)
        cfg = {**COMMON, **PRESETS["default"], "epochs": 1}
        if augment is not None:
            cfg["augment"] = augment
        return _repeat(lambda: fit_model(build(cfg, 0), cfg, X, y, 0), seconds)

    return workload


WORKLOADS: dict[str, Callable[[float], float]] = {
    "in-cache sgemm": in_cache_sgemm, "memory stream": memory_stream,
    "sweep trial": _trial(None), "sweep trial without --augment": _trial("off")}


def _repeat(fn: Callable[[], object], seconds: float) -> float:
    """Calls of fn per second, calling it for at least ``seconds`` after one warm-up call."""
    fn()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        count += 1
    return count / elapsed


def _child(name: str, seconds: float, barrier: mp.Barrier, out: mp.Queue) -> None:
    barrier.wait(timeout=60)
    out.put(WORKLOADS[name](seconds))


def rate(name: str, procs: int, seconds: float) -> float:
    """Calls per second of one process, the mean over ``procs`` processes run at once."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    children = [ctx.Process(target=_child, args=(name, seconds, barrier, out)) for _ in range(procs)]
    for c in children:
        c.start()
    counts = [out.get(timeout=seconds + 300) for _ in children]
    for c in children:
        c.join(timeout=30)
    return sum(counts) / procs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=6.0, help="seconds per measurement (default 6)")
    p.add_argument("--rounds", type=int, default=3, help="alone / side-by-side pairs; medians (default 3)")
    args = p.parse_args(argv)
    print(f"{os.cpu_count()} cores; 1 process alone against 2 at once, at least {args.seconds:g} s each, "
          f"medians of {args.rounds} rounds\n")
    print("| workload | calls/s alone | calls/s each, 2 at once | slow-down | 2-worker ceiling |")
    print("|---|---:|---:|---:|---:|")
    for name in WORKLOADS:
        alone, both = [], []
        for _ in range(args.rounds):
            alone.append(rate(name, 1, args.seconds))
            both.append(rate(name, 2, args.seconds))
        a, b = float(np.median(alone)), float(np.median(both))
        print(f"| {name} | {a:.1f} | {b:.1f} | {a / b:.2f}x | {2 * b / a:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
