"""Rosenblatt's perceptron: one step-activation neuron trained by the perceptron rule.

    y_hat = step(w . x + b) = 1 if w . x + b >= theta else 0            (theta: the threshold)

The rule visits the samples one at a time and moves the boundary only on a mistake:

    w <- w + eta (y - y_hat) x,     b <- b + eta (y - y_hat)

If the two classes are linearly separable it stops after finitely many mistakes (Novikoff, 1962);
if not (XOR) it never stops, and ``fit`` says so with a :class:`ConvergenceWarning`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from glassnet._base.checks import as_float_array, check_labels


class ConvergenceWarning(UserWarning):
    """The perceptron rule still made mistakes after its last epoch."""


@dataclass(frozen=True)
class Boundary:
    """The decision hyperplane  coef . x + offset = 0,  i.e.  w . x + b = theta  (offset = b - theta).

    For two inputs it is the line  x2 = slope x1 + intercept  (slope = -w1 / w2, intercept = (theta - b) / w2);
    a vertical line (w2 = 0) has ``slope = inf`` and ``intercept = None`` and crosses x1 = ``x1_intercept``.
    """

    coef: tuple[float, ...]
    offset: float
    slope: float | None = None
    intercept: float | None = None
    x1_intercept: float | None = None

    def __str__(self) -> str:
        if self.slope is None:
            terms = " + ".join(f"{w:g} x{i + 1}" for i, w in enumerate(self.coef))
            return f"{terms} + {self.offset:g} = 0"
        if self.intercept is None:
            return "no boundary (w = 0)" if self.x1_intercept is None else f"x1 = {self.x1_intercept:g}"
        return f"x2 = {self.slope:g} x1 + {self.intercept:g}"


class Perceptron:
    """A single neuron  y_hat = step(w . x + b)  (output 1 when w . x + b >= ``threshold``), trained by the
    perceptron rule with learning rate eta = ``lr``.

    With ``seed=None`` it starts at w = 0, b = 0 and visits the samples in the given order (the textbook
    setting, deterministic); with an int seed it starts from small random weights U(-0.5, 0.5) and visits
    the samples in a fresh random order each epoch, the same for the same seed.
    """

    def __init__(self, n_inputs: int, threshold: float = 0.0, lr: float = 1.0, seed: int | None = None) -> None:
        if isinstance(n_inputs, bool) or not isinstance(n_inputs, int | np.integer) or n_inputs < 1:
            raise ValueError(f"n_inputs must be a positive integer, got {n_inputs!r}")
        if not math.isfinite(threshold):
            raise ValueError(f"threshold must be a finite number, got {threshold!r}")
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        self.n_inputs = int(n_inputs)
        self.threshold = float(threshold)
        self.lr = float(lr)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        if seed is None:
            self.weights = np.zeros(self.n_inputs)
            self.bias = 0.0
        else:
            self.weights = self.rng.uniform(-0.5, 0.5, self.n_inputs)
            self.bias = float(self.rng.uniform(-0.5, 0.5))
        self.mistakes: list[int] = []
        """Mistakes (weight updates) in each epoch of the last ``fit``; the last is 0 when it converged."""
        self.converged = False

    @classmethod
    def from_weights(cls, weights: Any, bias: float, threshold: float = 0.0) -> Perceptron:
        """A perceptron with fixed, hand-chosen weights (marked converged: it needs no training)."""
        w = as_float_array(weights, "weights", np.float64, ndim=1)
        p = cls(w.shape[0], threshold=threshold)
        p.weights, p.bias, p.converged = w.copy(), float(bias), True
        return p

    # ------------------------------------------------------------------ the neuron
    def net_input(self, X: Any) -> np.ndarray:
        """z = X w + b for a batch (n, n_inputs), or one sample."""
        X = self._check_x(X)
        return X @ self.weights + self.bias

    def predict(self, X: Any) -> np.ndarray:
        """y_hat = step(z - theta) as int64 labels in {0, 1}."""
        return (self.net_input(X) >= self.threshold).astype(np.int64)

    def score(self, X: Any, y: Any) -> float:
        """Accuracy: the fraction of samples with y_hat = y."""
        X = self._check_x(X)
        y = check_labels(np.asarray(y), 2)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y must have {X.shape[0]} labels to match X, got {y.shape[0]}")
        return float(np.mean(self.predict(X) == y))

    # ------------------------------------------------------------------ the rule
    def fit(self, X: Any, y: Any, max_epochs: int = 100) -> Perceptron:
        """Apply the perceptron rule sample by sample, starting from the current weights, until an epoch
        makes no mistakes.

        Records ``mistakes`` per epoch and sets ``converged``; if mistakes remain after ``max_epochs``
        it warns with :class:`ConvergenceWarning` (the data may not be linearly separable).
        """
        X = self._check_x(X)
        y = check_labels(np.asarray(y), 2)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y must have {X.shape[0]} labels to match X, got {y.shape[0]}")
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, int | np.integer) or max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive integer, got {max_epochs!r}")
        self.mistakes, self.converged = [], False
        w, eta, theta = self.weights, self.lr, self.threshold
        for _ in range(max_epochs):
            order = range(X.shape[0]) if self.seed is None else self.rng.permutation(X.shape[0])
            errors = 0
            for i in order:
                x_i = X[i]
                y_hat = 1 if float(x_i @ w) + self.bias >= theta else 0
                err = int(y[i]) - y_hat  # y - y_hat in {-1, 0, 1}
                if err:
                    w += (eta * err) * x_i
                    self.bias += eta * err
                    errors += 1
            self.mistakes.append(errors)
            if errors == 0:
                self.converged = True
                break
        if not self.converged:
            warnings.warn(f"perceptron did not converge in {max_epochs} epochs: {self.mistakes[-1]} mistake(s) "
                          "in the last epoch; the data may not be linearly separable",
                          ConvergenceWarning, stacklevel=2)
        return self

    @property
    def epochs(self) -> int:
        """Epochs run by the last ``fit``."""
        return len(self.mistakes)

    def boundary(self) -> Boundary:
        """The hyperplane w . x + b = theta; for two inputs also the line x2 = slope x1 + intercept."""
        coef = tuple(float(v) for v in self.weights)
        offset = self.bias - self.threshold
        if self.n_inputs != 2:
            return Boundary(coef, offset)
        w1, w2 = coef
        if w2 != 0:
            return Boundary(coef, offset, -w1 / w2, -offset / w2, None if w1 == 0 else -offset / w1)
        return Boundary(coef, offset, math.inf, None, None if w1 == 0 else -offset / w1)

    # ------------------------------------------------------------------ helpers
    def _check_x(self, X: Any) -> np.ndarray:
        X = as_float_array(X, "X", np.float64)
        if X.ndim == 1 and self.n_inputs == 1:
            X = X[:, None]  # a batch of scalars
        elif X.ndim == 1 and X.shape[0] == self.n_inputs:
            X = X[None, :]  # one sample
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"X must have shape (n, {self.n_inputs}), got {X.shape}")
        return X

    def __repr__(self) -> str:
        w = ", ".join(f"{v:g}" for v in self.weights)
        return f"Perceptron(weights=[{w}], bias={self.bias:g}, threshold={self.threshold:g})"
