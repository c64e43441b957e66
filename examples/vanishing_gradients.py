"""Vanishing gradients: how the gradient norm ||dC/dW^l|| shrinks from the last layer to the first in a
deep network, for sigmoid, tanh and ReLU hidden units, at initialisation.

Backpropagation multiplies by W^T and f'(z) once per layer, delta^l = (delta^(l+1) (W^(l+1))^T) * f'(z^l),
and the sigmoid's slope is at most 1/4, so its deltas shrink geometrically with depth.

    python examples/vanishing_gradients.py
"""

import numpy as np

from glassnet import Dense, Sequential
from glassnet.datasets.toy import moons

DEPTH, WIDTH = 10, 32
SEEDS = range(5)
CONFIGS = [("sigmoid", "auto"), ("tanh", "auto"), ("relu", "auto"), ("sigmoid", "standard_normal")]


def deep_net(activation: str, init: str, seed: int) -> Sequential:
    layers = [Dense(2, WIDTH, activation=activation, init=init)]
    layers += [Dense(WIDTH, WIDTH, activation=activation, init=init) for _ in range(DEPTH - 1)]
    layers.append(Dense(WIDTH, 1, activation="sigmoid"))
    return Sequential(layers, seed=seed).compile("binary_cross_entropy", "sgd")


def geo_mean(x: np.ndarray, axis: int = 0) -> np.ndarray:
    return np.exp(np.mean(np.log(x), axis=axis))


def main() -> None:
    X, y = moons(256, noise=0.1, seed=0)
    print(f"{DEPTH} hidden layers of {WIDTH} units (+ a sigmoid output) on two moons (256 samples), one backprop "
          f"at initialisation, mean over {len(SEEDS)} seeds (geometric mean for ratios)\n")
    header = (f"{'hidden':<8} {'init':<15} {'||dC/dW^1||':>11} {'||dC/dW^10||':>12} {'W^1 / W^10':>10} "
              f"{'W^1 / W^out':>11} {'delta^1 / delta^10':>18}")
    print(header)
    print("-" * len(header))
    profiles = []
    for activation, init in CONFIGS:
        grads, deltas = [], []
        for seed in SEEDS:
            stats = deep_net(activation, init, seed).inspect(X, y, stats=["grad_norm", "delta_norm"])
            grads.append([stats[f"grad_norm/dense_{i}"] for i in range(1, DEPTH + 2)])
            deltas.append([stats[f"delta_norm/dense_{i}"] for i in range(1, DEPTH + 2)])
        g, d = np.array(grads), np.array(deltas)  # (seeds, layers): hidden 1..DEPTH, then the output
        last = DEPTH - 1
        init_name = {"auto": "he" if activation == "relu" else "xavier"}.get(init, init)
        print(f"{activation:<8} {init_name:<15} {g[:, 0].mean():>11.2e} {g[:, last].mean():>12.2e} "
              f"{geo_mean(g[:, 0] / g[:, last]):>10.2e} {geo_mean(g[:, 0] / g[:, DEPTH]):>11.2e} "
              f"{geo_mean(d[:, 0] / d[:, last]):>18.2e}")
        profiles.append((f"{activation} ({init_name})", geo_mean(g[:, :DEPTH] / g[:, last:DEPTH])))
    print(f"\n||dC/dW^l|| / ||dC/dW^10|| for l = 1..{DEPTH}:")
    for name, profile in profiles:
        print(f"  {name:<26} {' '.join(f'{p:7.1e}' for p in profile)}")


if __name__ == "__main__":
    main()
