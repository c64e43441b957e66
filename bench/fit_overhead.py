"""Does a change slow down fit's loop? Times the same training with this checkout and another one, in
alternating subprocesses (one BLAS thread each), and prints the medians and their ratio.

    python bench/fit_overhead.py --baseline ../main/src --data-dir ../shared/datasets/mnist

The network is the first benchmark row's, 784-128-10 ReLU, softmax cross-entropy, SGD with momentum 0.9,
at batch 32 (the setting where the per-batch overhead shows most), 2 epochs on the full MNIST; with
``--checkpoint`` this checkout also writes a training checkpoint after each epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "src"

CHILD = r"""
import json, sys, tempfile, time
import numpy as np
import glassnet as gn
from glassnet._base.blas import blas_threads
from glassnet.datasets import mnist

X, y = mnist.load("train", sys.argv[1])
callbacks = [gn.TrainingCheckpoint(tempfile.mkdtemp())] if sys.argv[3] == "1" else []
with blas_threads(1):
    model = gn.Sequential([gn.Dense(784, 128, activation="relu"), gn.Dense(128, 10, activation="softmax")], seed=0)
    model.compile(loss="cross_entropy", optimizer=gn.SGD(0.05, momentum=0.9))
    start = time.perf_counter()
    model.fit(X, y, epochs=int(sys.argv[2]), batch_size=32, verbose=0, callbacks=callbacks, seed=0)
    print(json.dumps({"seconds": time.perf_counter() - start, "w": float(np.abs(model.layers[0].W.value).sum())}))
"""


def run(src: Path, data: str, epochs: int, checkpoint: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, data, str(epochs), "1" if checkpoint else "0"], env=env,
                         capture_output=True, text=True, check=True, timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", required=True, help="the src folder of the checkout to compare with")
    p.add_argument("--data-dir", required=True, help="folder with the full MNIST")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--checkpoint", action="store_true", help="this checkout also writes checkpoints")
    args = p.parse_args()
    times: dict[str, list[float]] = {"baseline": [], "this": []}
    for r in range(args.rounds):
        order = [("baseline", Path(args.baseline), False), ("this", HERE, args.checkpoint)]
        for name, src, ckpt in order if r % 2 == 0 else order[::-1]:  # alternate who goes first
            result = run(src, args.data_dir, args.epochs, ckpt)
            times[name].append(result["seconds"])
            print(f"round {r + 1}: {name:<8} {result['seconds']:.3f} s  (sum |W1| = {result['w']:.6f})",
                  file=sys.stderr)
    base, this = statistics.median(times["baseline"]), statistics.median(times["this"])
    print(f"{args.epochs} epochs of 784-128-10 at batch 32, 1 thread, median of {args.rounds}: baseline {base:.3f} s, "
          f"this checkout {this:.3f} s{' (with checkpoints)' if args.checkpoint else ''}, ratio {this / base:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
