"""How robust is each architecture? Accuracy on MNIST test digits nudged by FGSM, and the smallest nudge that
changes each answer.

    python bench/robustness.py default.npz cnn.npz lstm.npz [--data-dir DIR | --sample] [--limit 1000]
                               [--eps 0.05,0.1,0.2] [--threads 2]

For each model file: the accuracy on the first ``--limit`` test digits, clean and under FGSM (Goodfellow et al.
2014: x + eps sign(grad_x C), clipped to [0, 1]) at each eps; and the median over the digits it classifies
correctly of the minimal eps (``glassnet.explain.minimal_eps``: bisection to 1e-3) that changes its answer.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model files written by glassnet train")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files")
    parser.add_argument("--sample", action="store_true", help="the embedded 1,000-digit test sample")
    parser.add_argument("--limit", type=int, default=1000, help="first N test digits (default 1000)")
    parser.add_argument("--eps", default="0.05,0.1,0.2", help="FGSM radii (default 0.05,0.1,0.2)")
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    args = parser.parse_args()
    eps_list = [float(e) for e in args.eps.split(",")]

    import glassnet as gn
    from glassnet._base.blas import blas_threads
    from glassnet.datasets import mnist
    from glassnet.explain import adversarial, minimal_eps

    X, y = mnist.load("test", data_dir=args.data_dir, sample=args.sample)
    X, y = X[:args.limit], y[:args.limit]
    print(f"{len(y):,} MNIST test digits\n")
    header = ["model", "clean", *(f"FGSM eps {e:g}" for e in eps_list), "median minimal eps", "seconds"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    with blas_threads(args.threads):
        for path in args.models:
            start = time.perf_counter()
            model = gn.load(path)
            Xm = X.reshape(len(X), *model.input_shape)

            def accuracy(inputs: np.ndarray, model=model) -> float:
                return float(np.mean(model.predict(inputs).argmax(axis=1) == y))

            cells = [f"{100 * accuracy(Xm):.1f}%"]
            for eps in eps_list:
                cells.append(f"{100 * accuracy(adversarial(model, Xm, y, eps=eps)):.1f}%")
            right = model.predict(Xm).argmax(axis=1) == y
            m_eps = minimal_eps(model, Xm[right], y[right])
            cells.append(f"{np.median(m_eps):.3f}")
            cells.append(f"{time.perf_counter() - start:.0f}")
            print(f"| {Path(path).name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
