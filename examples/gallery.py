"""A gallery of what glassnet.plot draws, written as small PNGs into one folder.

    activations.png                 every activation function beside its derivative
    xor_boundary.png                a 2-3-1 network's decision boundary on XOR
    xor_network.png                 the same network neuron by neuron, with its activations for x = (1, 0)
    moons_training_curves.png       loss and accuracy, training vs validation, the early-stopping best epoch
    moons_boundary_evolution.png    the boundary moving while a network learns the two moons
    spirals_boundary.png            a softmax network's three regions on three spirals
    vanishing_gradients.png         ||dC/dW|| per layer of a deep sigmoid network: the first layers lag behind
    mnist_weights.png               first-layer weights of a small MNIST network, one tile per hidden unit
    mnist_confusion.png             its confusion matrix on the test images
    mnist_misclassified.png         the test digits it gets wrong

The MNIST pictures use the 5,000-image sample embedded in glassnet, so the gallery needs no download.
Needs matplotlib (pip install 'glassnet[plot]'); takes about 15 s of CPU time.

Run: python examples/gallery.py [OUT_DIR]        (default: docs/gallery)
"""

from __future__ import annotations

import sys
from pathlib import Path

from glassnet import SGD, Adam, Dense, EarlyStopping, Sequential, plot
from glassnet.datasets.toy import logic_gate, moons, spirals


def xor_network() -> Sequential:
    """2-3-1, tanh hidden units and a sigmoid output, trained by full-batch gradient descent."""
    X, y = logic_gate("xor")
    model = Sequential([Dense(2, 3, "tanh"), Dense(3, 1, "sigmoid")], seed=1)
    model.compile("binary_cross_entropy", SGD(lr=0.5))
    model.fit(X, y, epochs=1000, batch_size=None, seed=0, verbose=0)
    return model


def moons_network() -> Sequential:
    model = Sequential([Dense(2, 16, "tanh"), Dense(16, 1, "sigmoid")], seed=0)
    return model.compile("binary_cross_entropy", Adam(lr=0.02))


def main(out: Path) -> list[Path]:
    written: list[Path] = []

    def save(name: str) -> Path:
        written.append(out / name)
        return out / name

    plot.activation_functions(path=save("activations.png"))

    X, y = logic_gate("xor")
    xor = xor_network()
    plot.decision_boundary(xor, X, y, path=save("xor_boundary.png"))
    plot.network_diagram(xor, X[2], path=save("xor_network.png"))

    X, y = moons(400, noise=0.25, seed=0)
    model = moons_network()
    history = model.fit(X, y, epochs=300, batch_size=32, validation_split=0.3, seed=0, verbose=0,
                        callbacks=[EarlyStopping(patience=15)])
    plot.training_curves(history, path=save("moons_training_curves.png"))
    Xs, ys = moons(120, noise=0.2, seed=1)
    plot.boundary_evolution(moons_network, Xs, ys, epochs=60, frames=8, resolution=80,
                            fit_kwargs={"batch_size": 16, "seed": 0},
                            path=save("moons_boundary_evolution.png"))

    X, y = spirals(240, n_classes=3, noise=0.05, seed=0)
    model = Sequential([Dense(2, 32, "relu"), Dense(32, 32, "relu"), Dense(32, 3, "softmax")], seed=0)
    model.compile("cross_entropy", Adam(lr=0.01)).fit(X, y, epochs=400, batch_size=32, seed=0, verbose=0)
    plot.decision_boundary(model, X, y, path=save("spirals_boundary.png"))

    X, y = moons(400, noise=0.2, seed=0)
    deep = Sequential([Dense(2, 16, "sigmoid")] + [Dense(16, 16, "sigmoid") for _ in range(4)]
                      + [Dense(16, 1, "sigmoid")], seed=0)
    deep.compile("binary_cross_entropy", SGD(lr=0.5))
    history = deep.fit(X, y, epochs=30, batch_size=32, seed=0, verbose=0, record=["grad_norm"])
    plot.gradient_norms(history, path=save("vanishing_gradients.png"))

    try:
        from glassnet.datasets import mnist
    except ImportError:
        print("glassnet.datasets.mnist not available: MNIST pictures skipped", file=sys.stderr)
        return written
    X, y = mnist.load("train", sample=True)
    X_test, y_test = mnist.load("test", sample=True)
    model = Sequential([Dense(784, 36, "relu"), Dense(36, 10, "softmax")], seed=0)
    model.compile("cross_entropy", Adam(lr=0.002), l2=1e-3)
    model.fit(X, y, epochs=10, batch_size=64, seed=0, verbose=0)
    y_pred = model.predict(X_test).argmax(axis=1)
    plot.weights_as_images(model, path=save("mnist_weights.png"))
    plot.confusion_matrix(y_test, y_pred, n_classes=10, path=save("mnist_confusion.png"))
    plot.misclassified(X_test, y_test, y_pred, max_images=24, path=save("mnist_misclassified.png"))
    return written


if __name__ == "__main__":
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/gallery")
    for path in main(out_dir):
        print(f"{path}  {path.stat().st_size / 1024:.0f} KB")
