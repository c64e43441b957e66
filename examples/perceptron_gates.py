"""The perceptron rule on the logic gates, its failure on XOR, and XOR by a hand-wired two-layer network.

    python examples/perceptron_gates.py
"""

import warnings

import numpy as np

from glassnet.classic import ConvergenceWarning, Perceptron, xor_network
from glassnet.datasets.toy import logic_gate


def main() -> None:
    print("Perceptron rule  w <- w + eta (y - y_hat) x,  b <- b + eta (y - y_hat)  (w = 0, b = 0, eta = 1)\n")
    header = f"{'gate':<5} {'epochs':>6}  {'mistakes per epoch':<24} {'weights':<12} {'bias':>5}  {'acc':>5}  converged"
    print(header)
    print("-" * len(header))
    failures = []
    for gate in ["and", "or", "not", "nand", "nor", "xor"]:
        X, y = logic_gate(gate)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            p = Perceptron(X.shape[1]).fit(X, y, max_epochs=20)
        failures += [f"{gate.upper()}: {w.message}" for w in caught]
        shown = p.mistakes if len(p.mistakes) <= 10 else [*p.mistakes[:8], "...", p.mistakes[-1]]
        weights = "(" + ", ".join(f"{v:g}" for v in p.weights) + ")"
        print(f"{gate.upper():<5} {p.epochs:>6}  {' '.join(map(str, shown)):<24} {weights:<12} {p.bias:>5g}  "
              f"{p.score(X, y):>5.2f}  {'yes' if p.converged else 'NO'}")
    print()
    for line in failures:
        print(f"ConvergenceWarning  {line}")

    print("\nXOR = AND(OR(x), NAND(x)), hand-wired step units:")
    model = xor_network()
    model.summary()
    X, y = logic_gate("xor")
    out = model.predict(X)[:, 0]
    hidden = model.layers[0].a
    print(f"\n{'x1':>3} {'x2':>3} | {'OR':>3} {'NAND':>4} | {'XOR':>3}  expected")
    for x, h, o, t in zip(X, hidden, out, y, strict=True):
        print(f"{x[0]:>3.0f} {x[1]:>3.0f} | {h[0]:>3.0f} {h[1]:>4.0f} | {o:>3.0f}  {t}")
    print(f"all correct: {bool(np.array_equal(out, y))}")


if __name__ == "__main__":
    main()
