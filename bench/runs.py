"""What recording a run costs, and how fast the Runs page's slider answers.

    python bench/runs.py --data-dir ../shared/datasets/mnist

1. The default preset (784-512-256-10, distorted digits) trains ``--epochs`` epochs on the full MNIST, with and
   without ``log_dir``, in alternating order (A B B A ...); the table gives the median epoch of each, their
   ratio, and the time the RunLogger itself spent per epoch (statistics, snapshot, probe outputs, TensorBoard
   events) against the epoch: the issue's bound is 5%.
2. A playground serves the recorded run; every snapshot is asked for once (cold: read, built, drawn) and then
   again in random order (warm: the page's LRU caches), as the slider does; medians in ms.
3. The size of a run of each preset: a snapshot per epoch (float32 weights and buffers, probe outputs) up to the
   cap of 50, plus the TensorBoard events measured here per epoch for the default preset.

Where OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set, run it as ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
python bench/runs.py ...``; it prints the BLAS kernels in use.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

import glassnet as gn
from glassnet.datasets import mnist
from glassnet.presets import COMMON, PRESETS, build


def blas_kernels() -> str:
    with contextlib.suppress(Exception):
        from threadpoolctl import threadpool_info

        return ", ".join(f"{i['internal_api']} {i.get('version')} {i.get('architecture')}" for i in threadpool_info())
    return "unknown"


def train(cfg: dict, X, y, X_test, y_test, epochs: int, log_dir: Path | None) -> tuple[float, float]:
    """Seconds per epoch of the whole fit (setup and the epoch-0 snapshot included), and the RunLogger's own
    time per epoch (median over the epochs; its start, once per run, is left out)."""
    model = build(cfg, 0)
    logger = None if log_dir is None else gn.RunLogger(log_dir, probe=(X_test[:100], y_test[:100]), overwrite=True)
    start = time.perf_counter()
    model.fit(X, y, epochs=epochs, batch_size=cfg["batch_size"], validation_split=cfg["validation"],
              callbacks=[logger] if logger else [], seed=0, verbose=0)
    return (time.perf_counter() - start) / epochs, (statistics.median(logger.epoch_seconds) if logger else 0.0)


def slider(run_dir: Path) -> tuple[float, float, int]:
    from glassnet.playground import make_server

    run = gn.load_run(run_dir)
    with make_server([], "127.0.0.1", 0, runs=[str(run_dir.parent)]) as server:
        base = server.url.rstrip("/") + f"/api/runs/{run_dir.name}"

        def ask(epoch: int) -> float:
            t0 = time.perf_counter()
            with urllib.request.urlopen(f"{base}/epochs/{epoch}", timeout=30) as r:
                json.load(r)
            return 1000 * (time.perf_counter() - t0)

        cold = [ask(e) for e in run.epochs]
        order = np.random.default_rng(0).permutation(np.repeat(run.epochs, 5))
        warm = [ask(int(e)) for e in order]
    return statistics.median(cold), statistics.median(warm), len(run.epochs)


def sizes(events_per_epoch: float) -> list[tuple[str, int, float, float]]:
    rows = []
    for name, preset in PRESETS.items():
        model = build({**COMMON, **preset}, 0)
        snapshot = sum(a.size * 4 for _, a in model.named_arrays()) + 100 * 10 * 4
        kept = min(preset["epochs"] + 1, 50)
        rows.append((name, preset["epochs"], snapshot / 1e6, (kept * snapshot + preset["epochs"] * events_per_epoch)
                     / 1e6))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=2, help="epochs per training (default 2)")
    p.add_argument("--repeats", type=int, default=1, help="pairs of trainings, alternating (default 1)")
    args = p.parse_args()
    X, y = mnist.load("train", args.data_dir)
    X_test, y_test = mnist.load("test", args.data_dir)
    cfg = {**COMMON, **PRESETS["default"]}
    print(f"BLAS: {blas_kernels()}")
    plain, logged, own = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "default"
        for i in range(args.repeats):
            for with_log in ((False, True) if i % 2 == 0 else (True, False)):
                epoch, seconds = train(cfg, X, y, X_test, y_test, args.epochs, run_dir if with_log else None)
                (logged if with_log else plain).append(epoch)
                print(f"{'with' if with_log else 'without'} log_dir: {epoch:.2f} s per epoch", flush=True)
                if with_log:
                    own.append(seconds)
        events = sum(p.stat().st_size for p in run_dir.glob("events.out.tfevents.*")) / (args.epochs + 1)
        cold, warm, n = slider(run_dir)
    a, b, c = statistics.median(plain), statistics.median(logged), statistics.median(own)
    print("\nrecording a run of the default preset (full MNIST, one BLAS setting, a busy shared machine)")
    print(f"{'':34}{'seconds':>10}{'ratio':>10}")
    print(f"{'epoch without log_dir':34}{a:10.2f}{1:10.3f}")
    print(f"{'epoch with log_dir':34}{b:10.2f}{b / a:10.3f}")
    print(f"{'RunLogger itself, per epoch':34}{c:10.3f}{c / a:10.3f}")
    print(f"{'RunLogger against the fastest epoch':34}{c:10.3f}{c / min(plain + logged):10.3f}")
    print(f"\nthe Runs page's slider on that run ({n} snapshots): median {cold:.1f} ms cold, {warm:.1f} ms warm "
          "(HTTP round trip of /api/runs/NAME/epochs/K)")
    print(f"\n{'preset':10}{'epochs':>8}{'MB/snapshot':>14}{'MB/run':>10}")
    for name, epochs, snap, total in sizes(events):
        print(f"{name:10}{epochs:8d}{snap:14.2f}{total:10.1f}")


if __name__ == "__main__":
    main()
