"""A logistic classifier on LDA-9 features against PCA-9 and PCA-50 on MNIST.

Each reduction is fitted on the 60,000 training images (LDA with their labels, PCA without), the features are
standardised with the training set's mean and standard deviation, and the same softmax regression
``Sequential([Dense(k, 10, activation="softmax")])`` is trained on them with cross-entropy and Adam. The
table gives the test accuracy and the seconds spent fitting the reduction, projecting both sets and training;
LDA's own Gaussian classifier (``LDA.predict``) and the classifier on the raw pixels are the references.

Run: python examples/lda_features.py [--epochs 10] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from glassnet import Dense, Sequential
from glassnet.datasets import mnist
from glassnet.decomposition import LDA, PCA


def softmax_regression(Z: np.ndarray, y: np.ndarray, Z_test: np.ndarray, y_test: np.ndarray, epochs: int,
                       seed: int) -> float:
    """Test accuracy of ``softmax(Z W + b)`` trained with cross-entropy on standardised ``Z``."""
    mu, sd = Z.mean(axis=0), Z.std(axis=0) + 1e-8
    model = Sequential([Dense(Z.shape[1], 10, activation="softmax")], seed=seed)
    model.compile("cross_entropy", "adam")
    model.fit((Z - mu) / sd, y, epochs=epochs, batch_size=128, seed=seed, verbose=0)
    return model.evaluate((Z_test - mu) / sd, y_test)["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    X, y = mnist.load("train", args.data_dir)
    X_test, y_test = mnist.load("test", args.data_dir)
    try:
        from threadpoolctl import threadpool_info

        blas = [f"{i['internal_api']} {i.get('architecture', '?')}, {i['num_threads']} threads"
                for i in threadpool_info() if i.get("user_api") == "blas"]
        print(f"BLAS: {'; '.join(blas) or 'unknown'}")
    except ImportError:
        pass
    print(f"{X.shape[0]:,} training and {X_test.shape[0]:,} test images; softmax regression, Adam, batch 128, "
          f"{args.epochs} epochs\n")
    print(f"{'features':<22} {'k':>4} {'test accuracy':>14} {'reduce s':>9} {'train s':>8} {'total s':>8}")
    rows = [("LDA-9", lambda: LDA(n_components=9).fit(X, y)), ("PCA-9", lambda: PCA(9, svd="full").fit(X)),
            ("PCA-50", lambda: PCA(50, svd="full").fit(X)), ("raw pixels", None)]
    for name, fit in rows:
        t0 = time.perf_counter()
        if fit is None:
            Z, Z_test, reducer = X, X_test, None
        else:
            reducer = fit()
            Z, Z_test = reducer.transform(X), reducer.transform(X_test)
        t1 = time.perf_counter()
        acc = softmax_regression(Z, y, Z_test, y_test, args.epochs, args.seed)
        t2 = time.perf_counter()
        print(f"{name:<22} {Z.shape[1]:>4} {100 * acc:>13.2f}% {t1 - t0:>9.1f} {t2 - t1:>8.1f} {t2 - t0:>8.1f}")
        if isinstance(reducer, LDA):
            acc = reducer.score(X_test, y_test)
            print(f"{'LDA.predict (Gaussian)':<22} {9:>4} {100 * acc:>13.2f}% {t1 - t0:>9.1f} {0.0:>8.1f} "
                  f"{t1 - t0:>8.1f}")


if __name__ == "__main__":
    main()
