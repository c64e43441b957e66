"""What does data augmentation add to an epoch? Times training batches of glassnet train's presets with and
without ``--augment`` (affine only, and affine plus elastic), interleaved, and prints the ratio table.

    python bench/augment_cost.py --data-dir ../shared/datasets/mnist

Each measurement trains ``--batches`` batches of the preset's batch size on MNIST images (after a few
warm-up batches), with ``--threads`` BLAS threads (default 1), measured in CPU time of this process, which
other work on a shared machine disturbs less than wall-clock time; rounds alternate between the settings and
the table gives medians. The cost asked of augmentation: under 20% of a cnn epoch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import glassnet as gn
from glassnet._base.blas import blas_threads
from glassnet.datasets import mnist
from glassnet.presets import PRESETS, build

SETTINGS = {"none": "off", "affine": "on", "affine + elastic": "alpha=34,sigma=4"}


def seconds(preset: str, augment: str, X: np.ndarray, Y: np.ndarray, batches: int, warmup: int = 3) -> float:
    """CPU seconds (of this process, all its threads) for ``batches`` training steps of ``preset`` (with
    ``augment``) on batches of X, Y."""
    cfg = {**PRESETS[preset], "augment": augment}
    model = build(cfg, seed=0)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        layer.rng = rng
    bs = cfg["batch_size"]
    start = 0.0
    for b in range(warmup + batches):
        if b == warmup:
            start = time.process_time()
        lo = (b * bs) % (X.shape[0] - bs)
        model.optimizer.train_step(model, X[lo:lo + bs], Y[lo:lo + bs])
    return time.process_time() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", help="folder with the full MNIST (default: the embedded sample)")
    p.add_argument("--presets", default="cnn,default", help="comma-separated presets (default cnn,default)")
    p.add_argument("--batches", type=int, default=40, help="timed batches per measurement (default 40)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    X, y = mnist.load("train", args.data_dir, sample=args.data_dir is None, verbose=False)
    Y = gn.one_hot(y, 10)
    print("| preset | batch | augmentation | CPU ms per batch | ratio to none | share of the epoch |")
    print("|---|---|---|---|---|---|")
    with blas_threads(args.threads):
        for preset in args.presets.split(","):
            times: dict[str, list[float]] = {name: [] for name in SETTINGS}
            for r in range(args.rounds):
                order = list(SETTINGS.items())
                for name, spec in order if r % 2 == 0 else order[::-1]:
                    times[name].append(seconds(preset, spec, X, Y, args.batches))
            base = statistics.median(times["none"])
            for name, ts in times.items():
                t = statistics.median(ts)
                share = (t - base) / t
                print(f"| {preset} | {PRESETS[preset]['batch_size']} | {name} | {1000 * t / args.batches:.1f} | "
                      f"{t / base:.3f} | {100 * share:+.1f}% |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
