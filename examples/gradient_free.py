"""Gradient descent against a genetic algorithm on XOR and two moons: loss evaluations needed to reach the
same loss, final accuracy and time.

One gradient-descent step costs one forward and one backward pass (counted as one evaluation here; the
backward pass costs about as much again as the forward); one generation of the genetic algorithm costs
``population`` forward passes.

    python examples/gradient_free.py
"""

import time

import numpy as np

from glassnet import SGD, Adam, Dense, Sequential
from glassnet.classic import GeneticAlgorithm
from glassnet.datasets.toy import logic_gate, moons, train_val_test_split

SEEDS = [0, 1, 2]


def mlp(hidden: int, seed: int) -> Sequential:
    return Sequential([Dense(2, hidden, activation="tanh"), Dense(hidden, 1, activation="sigmoid")], seed=seed)


def run(task: dict, method: str, seed: int) -> dict:
    model = mlp(task["hidden"], seed)
    if method == "GA":
        opt = GeneticAlgorithm(population=task["population"], seed=seed)
        epochs, per_epoch = task["generations"], task["population"]
    else:
        opt = task["gd"]()
        epochs, per_epoch = task["gd_epochs"], 1
    model.compile("binary_cross_entropy", opt)
    t0 = time.perf_counter()
    history = model.fit(task["X"], task["y"], epochs=epochs, batch_size=None, seed=seed, verbose=0)
    seconds = time.perf_counter() - t0
    losses = np.array(history["loss"])
    hit = np.flatnonzero(losses <= task["target"])
    evals_to_target = (int(hit[0]) + 1) * per_epoch if hit.size else None
    Xe, ye = task["eval"]
    return {"to_target": evals_to_target, "evals": epochs * per_epoch, "loss": float(losses[-1]),
            "acc": model.evaluate(Xe, ye)["accuracy"], "seconds": seconds}


def main() -> None:
    Xx, yx = logic_gate("xor")
    Xm, ym = moons(300, noise=0.15, seed=0)
    Xtr, ytr, Xv, yv, _, _ = train_val_test_split(Xm, ym, 0.2, 0.2, seed=0)
    tasks = {
        "XOR (2-3-1)": {"X": Xx, "y": yx, "eval": (Xx, yx), "hidden": 3, "target": 0.1,
                        "gd": lambda: SGD(lr=0.5, momentum=0.9), "gd_epochs": 300,
                        "population": 50, "generations": 60},
        "moons (2-8-1)": {"X": Xtr, "y": ytr, "eval": (Xv, yv), "hidden": 8, "target": 0.25,
                          "gd": lambda: Adam(lr=0.05), "gd_epochs": 300,
                          "population": 30, "generations": 100},
    }
    print(f"mean over seeds {SEEDS}; full-batch training; accuracy on the training set for XOR, on a held-out "
          "validation set for moons\n")
    header = (f"{'task':<14} {'method':<22} {'target loss':>11} {'reached':>7} {'evals to target':>15} "
              f"{'evals run':>9} {'final loss':>10} {'accuracy':>8} {'seconds':>7}")
    print(header)
    print("-" * len(header))
    for name, task in tasks.items():
        for method in ["GD", "GA"]:
            runs = [run(task, method, s) for s in SEEDS]
            hits = [r["to_target"] for r in runs if r["to_target"] is not None]
            label = (f"GD ({task['gd']().__class__.__name__})" if method == "GD"
                     else f"GA (pop {task['population']})")
            to_target = f"{np.mean(hits):.0f}" if hits else "-"
            print(f"{name:<14} {label:<22} {task['target']:>11g} {len(hits):>4}/{len(runs)} {to_target:>15} "
                  f"{runs[0]['evals']:>9} {np.mean([r['loss'] for r in runs]):>10.4f} "
                  f"{np.mean([r['acc'] for r in runs]):>8.3f} {np.mean([r['seconds'] for r in runs]):>7.3f}")


if __name__ == "__main__":
    main()
