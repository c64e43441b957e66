"""Speed of Conv2D / pooling and LSTM networks on MNIST: seconds per 1,000 training images.

    python bench/cnn_lstm_experiment.py                       # timings on a 2,000-image subset
    python bench/cnn_lstm_experiment.py --train 10000 --epochs 1 --arch lenet  # plus a short training run

Timing = one epoch of forward + backward + Adam step (batch 64), the best of ``--repeats`` runs, with a
per-layer breakdown. MNIST comes from GLASSNET_DATA_DIR (else the embedded sample).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import glassnet as gn
from glassnet.datasets import mnist
from glassnet.nn.conv import Conv2D, MaxPool2D
from glassnet.nn.recurrent import LSTM


def architectures() -> dict[str, tuple[list, tuple[int, ...]]]:
    relu = "relu"
    return {
        "small": ([Conv2D(1, 16, 5, activation=relu), MaxPool2D(2), Conv2D(16, 32, 5, activation=relu),
                   MaxPool2D(2), gn.Flatten(), gn.Dense(None, 128, activation=relu),
                   gn.Dense(128, 10, activation="softmax")], (1, 28, 28)),
        "lenet": ([Conv2D(1, 32, 5, activation=relu), MaxPool2D(2), Conv2D(32, 64, 5, activation=relu),
                   MaxPool2D(2), gn.Flatten(), gn.Dense(None, 256, activation=relu),
                   gn.Dense(256, 10, activation="softmax")], (1, 28, 28)),
        "wide": ([Conv2D(1, 32, 5, padding=2, activation=relu), MaxPool2D(2),
                  Conv2D(32, 64, 5, padding=2, activation=relu), MaxPool2D(2), gn.Flatten(),
                  gn.Dense(None, 512, activation=relu), gn.Dense(512, 10, activation="softmax")], (1, 28, 28)),
        "lstm": ([LSTM(28, 128), gn.Dense(128, 10, activation="softmax")], (28, 28)),
    }


def time_epoch(model: gn.Sequential, X: np.ndarray, Y: np.ndarray, bs: int) -> tuple[float, dict[str, float]]:
    """Seconds for one pass of forward + backward + step over X, and the seconds spent in each layer."""
    per_layer = {layer.name: 0.0 for layer in model.layers}
    start = time.perf_counter()
    for i in range(0, X.shape[0], bs):
        a = X[i:i + bs]
        for layer in model.layers:
            t = time.perf_counter()
            a = layer.forward(a, True)
            per_layer[layer.name] += time.perf_counter() - t
        _, delta = model._loss_and_delta(a, Y[i:i + bs])
        t = time.perf_counter()
        delta = model.layers[-1].backward_delta(delta)
        per_layer[model.layers[-1].name] += time.perf_counter() - t
        for layer in reversed(model.layers[:-1]):
            if delta is None:
                break
            t = time.perf_counter()
            delta = layer.backward(delta)
            per_layer[layer.name] += time.perf_counter() - t
        model.optimizer.step(model.parameters())
    return time.perf_counter() - start, per_layer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="*", default=["small", "lenet", "wide", "lstm"])
    parser.add_argument("--subset", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train", type=int, default=0, help="also train on this many images and test")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    X, y = mnist.load("train")
    Xt, yt = mnist.load("test")
    for name in args.arch:
        layers, shape = architectures()[name]
        model = gn.Sequential(layers, input_shape=shape, seed=0).compile("cross_entropy", gn.Adam(1e-3))
        xs, ys = X[:args.subset].reshape(-1, *shape), gn.one_hot(y[:args.subset], 10)
        best = min((time_epoch(model, xs, ys, args.batch_size) for _ in range(args.repeats)), key=lambda r: r[0])
        per_1000 = 1000 * best[0] / xs.shape[0]
        print(f"{name:6s} {model.count_params():>9,} params  {per_1000:.3f} s per 1,000 images  "
              f"(~{per_1000 * 60:.0f} s per 60,000-image epoch)")
        print("        " + "  ".join(f"{k} {1000 * v / xs.shape[0]:.3f}" for k, v in best[1].items()))
        if args.train:
            model = gn.Sequential(architectures()[name][0], input_shape=shape, seed=0)
            model.compile("cross_entropy", gn.Adam(1e-3))
            start = time.perf_counter()
            model.fit(X[:args.train].reshape(-1, *shape), y[:args.train], epochs=args.epochs, batch_size=64,
                      seed=0, verbose=0)
            seconds = time.perf_counter() - start
            acc = model.evaluate(Xt.reshape(-1, *shape), yt)["accuracy"]
            print(f"        trained on {args.train:,} images x {args.epochs} epochs in {seconds:.0f} s: "
                  f"test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
