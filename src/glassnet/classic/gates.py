"""Logic gates as hand-wired perceptrons, and XOR as a two-layer network of them.

Each gate is  y = step(w . x + b)  with weights chosen by hand (output 1 when w . x + b >= 0):

    gate   w           b       fires when
    AND    (1, 1)     -1.5     x1 + x2 >= 1.5   (both inputs on)
    OR     (1, 1)     -0.5     x1 + x2 >= 0.5   (at least one on)
    NAND   (-1, -1)    1.5     x1 + x2 <= 1.5   (not both on)
    NOR    (-1, -1)    0.5     x1 + x2 <= 0.5   (neither on)
    NOT    (-1,)       0.5     x <= 0.5

XOR is not linearly separable, so no single perceptron computes it (Minsky & Papert, 1969), but two
layers do:  XOR(x) = AND(OR(x), NAND(x)).
"""

from __future__ import annotations

import numpy as np

from glassnet.classic.perceptron import Perceptron
from glassnet.model.sequential import Sequential
from glassnet.nn.activations import Step
from glassnet.nn.layers import Dense


def and_gate() -> Perceptron:
    """AND: w = (1, 1), b = -1.5."""
    return Perceptron.from_weights([1.0, 1.0], -1.5)


def or_gate() -> Perceptron:
    """OR: w = (1, 1), b = -0.5."""
    return Perceptron.from_weights([1.0, 1.0], -0.5)


def nand_gate() -> Perceptron:
    """NAND: w = (-1, -1), b = 1.5."""
    return Perceptron.from_weights([-1.0, -1.0], 1.5)


def nor_gate() -> Perceptron:
    """NOR: w = (-1, -1), b = 0.5."""
    return Perceptron.from_weights([-1.0, -1.0], 0.5)


def not_gate() -> Perceptron:
    """NOT (one input): w = (-1,), b = 0.5."""
    return Perceptron.from_weights([-1.0], 0.5)


def xor_network(dtype: np.dtype | type = np.float32) -> Sequential:
    """XOR(x1, x2) = AND(OR(x), NAND(x)) as a 2-2-1 network of step units with the gates' weights:

        hidden  h = step(x W1 + b1),  W1 = [[1, -1], [1, -1]],  b1 = (-0.5, 1.5)   (h1 = OR, h2 = NAND)
        output  y = step(h W2 + b2),  W2 = [[1], [1]],          b2 = (-1.5,)       (AND of h1, h2)

    After ``predict(X)`` the hidden outputs are ``model.layers[0].a``. Step units have no useful
    derivative, so the network cannot be trained by gradient descent (a gradient-free optimiser can).
    """
    gates = {"or": or_gate(), "nand": nand_gate(), "and": and_gate()}
    hidden = Dense(2, 2, activation=Step(), name="or_nand")
    output = Dense(2, 1, activation=Step(), name="and")
    model = Sequential([hidden, output], dtype=dtype)
    w1 = np.stack([gates["or"].weights, gates["nand"].weights], axis=1)
    b1 = np.array([gates["or"].bias, gates["nand"].bias])
    model.set_weights([w1, b1, gates["and"].weights[:, None], np.array([gates["and"].bias])])
    model.meta["description"] = "XOR = AND(OR(x), NAND(x)), hand-wired step units"
    return model
