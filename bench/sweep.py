"""Sweeps on 2 workers against 1, and the Dask path against local processes, in one run.

    python3 -m venv .venv && .venv/bin/pip install -e ".[distributed]"
    .venv/bin/python bench/sweep.py --data-dir ../shared/datasets/mnist

One sweep is 16 trials of ``glassnet train``'s default MLP (``--hidden``, on the first ``--images`` MNIST
training images, ``--epochs`` epochs, 1 BLAS thread per trial): 8 learning rates x 2 seeds. It runs on each
path in turn, in ``--rounds`` interleaved rounds, so that load from other processes hits all of them:

    this process      (--jobs 1)                     local processes  (--jobs 2, forkserver pool)
    Dask, 1 worker    (a local cluster, glassnet's)  Dask, 2 workers
    Dask, 2 workers with the nanny's MALLOC_TRIM_THRESHOLD_=65536 (Dask's default, which glassnet unsets)

Each Dask cluster is started before each of its sweeps and closed after it (its start-up time is printed
apart), so that no idle cluster takes CPU time from the other paths; the sweep's wall time includes starting
the local pool and placing the data on the workers, as a user's sweep does.
Before each sweep the script waits (up to ``--max-wait`` seconds) until other processes use less than a quarter
of a core and a fixed canary workload runs at its best speed (``speed.wait_until_quiet``). Ratios are taken
within a round, then the median over the rounds is printed: the speed-up of 2 workers over 1 (target at least
1.8 on 2 cores), and the overhead of the Dask path over local processes at 2 workers (target under 10% per
trial). The load average before and after says how quiet the machine was.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import glassnet as gn
from glassnet.parallel.executors import getenv
from glassnet.presets import COMMON, PRESETS
from glassnet.sweep import WorkerPool, driver, local_cluster
from glassnet.sweep.space import Space
from glassnet.sweep.tasks import TrainSettings, mnist_data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import machine, wait_until_quiet  # noqa: E402 (the benchmarks' shared helpers)

PATHS = ["process", "local2", "dask1", "dask2", "trim2"]
NAMES = {"process": "this process (--jobs 1)", "local2": "local processes (--jobs 2)",
         "dask1": "Dask, 1 worker", "dask2": "Dask, 2 workers",
         "trim2": "Dask, 2 workers, MALLOC_TRIM_THRESHOLD_=65536"}
WORKERS = {"process": 1, "local2": 2, "dask1": 1, "dask2": 2, "trim2": 2}


CLUSTERS = {"dask1": (1, False), "dask2": (2, False), "trim2": (2, True)}
"""The Dask paths: workers, and whether the nanny keeps Dask's MALLOC_TRIM_THRESHOLD_ (glassnet unsets it)."""


def start_cluster(stack: contextlib.ExitStack, workers: int, trim: bool) -> Any:
    """A client of a local Dask cluster of ``workers`` worker processes, closed with ``stack``."""
    import distributed

    if not trim:
        return stack.enter_context(local_cluster(workers))
    # Dask's own default: the nanny sets MALLOC_TRIM_THRESHOLD_=65536 in the workers
    before = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    cm = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", silence_logs=40)
    cluster = stack.enter_context(cm)
    client = stack.enter_context(distributed.Client(cluster, set_as_default=False))
    assert set(client.run(getenv, "MALLOC_TRIM_THRESHOLD_").values()) == {"65536"}
    if before is None:  # the nanny left it in this process's environment too
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return client


def one_sweep(task: TrainSettings, data: Any, space: Space, executor: Any, jobs: int) -> dict[str, float]:
    """Wall seconds of the sweep, and the sum and median of its trials' seconds measured inside the workers."""
    start = time.perf_counter()
    result = driver.run(task, data, space, seeds=2, executor=executor, jobs=jobs, threads=1, verbose=0)
    wall = time.perf_counter() - start
    assert len(result.records) == 16 and all(r["status"] == "ok" for r in result.records)
    seconds = [r["seconds"] for r in result.records]
    return {"wall": wall, "trials": sum(seconds), "trial": statistics.median(seconds)}


def _trim(payload: Any) -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", help="MNIST folder (default: glassnet's look-up, else the embedded sample)")
    p.add_argument("--images", type=int, default=20_000, help="training images per trial (default 20000)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per trial (default 2)")
    p.add_argument("--hidden", default="512,256", help="hidden layer sizes (default 512,256, as the preset)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--paths", default=",".join(PATHS), help=f"which paths to run (default {','.join(PATHS)})")
    p.add_argument("--max-wait", type=float, default=20.0,
                   help="seconds to wait for a quiet machine before each sweep (default 20)")
    args = p.parse_args()
    paths = args.paths.split(",")
    unknown = sorted(set(paths) - set(PATHS))
    if unknown:
        p.error(f"unknown path {unknown[0]!r}; known: {', '.join(PATHS)}")
    import distributed  # noqa: F401 (the Dask paths need glassnet[distributed]: say so before any work)

    data = mnist_data(args.data_dir, quiet=True)
    n = min(args.images, data.X.shape[0])
    data.X, data.Y = data.X[:n].copy(), data.Y[:n].copy()
    data.test = (data.test[0][:2000].copy(), data.test[1][:2000].copy())
    hidden = [int(h) for h in args.hidden.split(",")]
    task = TrainSettings({**COMMON, **PRESETS["default"], "hidden": hidden, "epochs": args.epochs})
    space = Space.build({"lr": [0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2]}, None, None)
    load_start = os.getloadavg()[0]
    # Start the fork server of the local pools now, from a clean environment: a Dask nanny running in this
    # process puts its variables (MALLOC_TRIM_THRESHOLD_ among them) into this process's environment, and a
    # fork server started after that would pass them to every local worker.
    with WorkerPool(None, jobs=2) as pool:
        inherited = {v for v in pool.map(_trim, [(), ()]) if v is not None}
    if inherited:
        print(f"note: local workers inherit MALLOC_TRIM_THRESHOLD_={inherited.pop()} from this environment",
              file=sys.stderr)
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in paths}
    startups: dict[str, list[float]] = {}
    for r in range(args.rounds):
        order = paths[r % len(paths):] + paths[:r % len(paths)]  # a different path goes first each round
        for path in order:
            # a Dask cluster runs only during its own sweeps: idle, its scheduler, nannies and workers still
            # take CPU time (heartbeats, event loops) from whatever runs beside them
            with contextlib.ExitStack() as stack:
                client = None
                if path in CLUSTERS:
                    t = time.perf_counter()
                    client = start_cluster(stack, *CLUSTERS[path])
                    startups.setdefault(path, []).append(time.perf_counter() - t)
                wait_until_quiet(0.25, args.max_wait)
                run = one_sweep(task, data, space, client, 2 if path == "local2" else 1)
            run["busy"] = run["trials"] / (WORKERS[path] * run["wall"])  # share of worker time in trials
            run["overhead"] = (WORKERS[path] * run["wall"] - run["trials"]) / 16  # worker-seconds per trial
            runs[path].append(run)
            print(f"round {r + 1}: {NAMES[path]}: {run['wall']:.2f} s", file=sys.stderr, flush=True)
    startup = {path: statistics.median(times) for path, times in startups.items()}
    load_end = os.getloadavg()[0]
    report(args, runs, startup, n, load_start, load_end)


def median(runs: dict[str, list[dict[str, float]]], path: str, key: str) -> float:
    return statistics.median(run[key] for run in runs[path])


def paired(runs: dict[str, list[dict[str, float]]], a: str, b: str, f: Any) -> float | None:
    """The median over the rounds of f(run of a, run of b) in the same round; None if a path did not run."""
    if a not in runs or b not in runs:
        return None
    return statistics.median(f(x, y) for x, y in zip(runs[a], runs[b], strict=True))


def report(args: argparse.Namespace, runs: dict[str, list[dict[str, float]]], startup: dict[str, float], n: int,
           load_start: float, load_end: float) -> None:
    import dask

    info = machine()
    print(f"16 trials (8 learning rates x 2 seeds) of glassnet train's default MLP, hidden {args.hidden}, "
          f"{n:,} images, {args.epochs} epochs, 1 BLAS thread each; median of {args.rounds} interleaved rounds")
    print(f"{info['cpu']}, {info['cores']} cores, Python {info['python']}, NumPy {info['numpy']}, "
          f"Dask {dask.__version__}, glassnet {gn.__version__}; load average {load_start:.1f} before, "
          f"{load_end:.1f} after")
    if startup:
        print("cluster start-up (before each of its sweeps, not in their times; median): " +
              ", ".join(f"{NAMES[k]} {v:.1f} s" for k, v in startup.items()))
    print()
    print("| path | workers | sweep (s) | trial (s) | worker time in trials | overhead per trial (ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in runs:
        print(f"| {NAMES[path]} | {WORKERS[path]} | {median(runs, path, 'wall'):.2f} | "
              f"{median(runs, path, 'trial'):.3f} | {median(runs, path, 'busy'):.1%} | "
              f"{median(runs, path, 'overhead') * 1000:.0f} |")
    print()
    for one, two, what in (("process", "local2", "local processes"), ("dask1", "dask2", "Dask")):
        measured = paired(runs, one, two, lambda x, y: x["wall"] / y["wall"])
        held = paired(runs, one, two, lambda x, y: 2 * y["busy"] / x["busy"])
        if measured is not None:
            print(f"- speed-up of 2 workers over 1, {what}: {measured:.2f}x measured; {held:.2f}x with the trials' "
                  "own time held fixed (2 x the share of worker time in trials at 2 workers over that at 1)")
    extra = paired(runs, "local2", "dask2", lambda x, y: y["overhead"] - x["overhead"])
    if extra is not None:
        trial = median(runs, "local2", "trial")
        wall = paired(runs, "local2", "dask2", lambda x, y: y["wall"] / x["wall"])
        print(f"- per-trial overhead of the Dask path against local processes, 2 workers: {extra * 1000:+.0f} ms "
              f"({extra / trial:+.1%} of a trial's {trial:.2f} s); wall time {wall:.2f}x")
    trim = paired(runs, "dask2", "trim2", lambda x, y: y["trial"] / x["trial"])
    if trim is not None:
        print(f"- MALLOC_TRIM_THRESHOLD_=65536 against unset (Dask, 2 workers): trials {trim:.2f}x as long")


if __name__ == "__main__":
    main()
