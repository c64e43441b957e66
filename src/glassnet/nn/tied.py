"""Tied weights: a dense layer that uses the transpose of another layer's weight matrix, W' = W^T, as the
decoder of an autoencoder does (Hinton & Salakhutdinov, 2006); only its bias is its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from glassnet._base.schema import Str
from glassnet.nn.layers import Activated, Dense, Layer, Parameter, Shape, register


@register
class DenseTied(Activated):
    """Dense layer that borrows the transposed weights of a later :class:`~glassnet.Dense` layer,
    its ``target``:  z = x W_t^T + b,  a = f(z)  with W_t the target's W (own bias b only).

    In a tied autoencoder the encoder layers are DenseTied and the mirrored decoder layers own the weights,
    so W is one Parameter, listed and updated once. Backward, given g = dC/da:  delta = g * f'(z),
    dC/dW_t += delta^T x  (added to the target's gradient, which the target, coming later in the stack, has
    already written in this backward pass),  dC/db = sum_n delta,  dC/dx = delta W_t.

    ``target`` is the layer or, in a saved config, its name; a name is resolved by ``link(layers)``.
    """

    config_schema = {"target": Str()}

    def __init__(self, target: Layer | str, n_out: int | None = None, activation: str | Layer | None = None,
                 name: str | None = None) -> None:
        super().__init__(activation, name)
        self.target = target
        if n_out is None and isinstance(target, Dense):
            n_out = target.n_in
        if n_out is None or int(n_out) < 1:
            raise ValueError(f"DenseTied needs n_out >= 1 (or a target Dense with n_in), got {n_out}")
        self.n_out = int(n_out)
        self.n_in: int | None = target.n_out if isinstance(target, Dense) else None
        self._target_input: np.ndarray | None = None

    def build(self, input_shape: Shape, dtype: np.dtype, rng: np.random.Generator) -> Shape:
        if len(input_shape) != 1 or (self.n_in is not None and input_shape[0] != self.n_in):
            raise ValueError(f"DenseTied expects inputs of width {self.n_in}, got sample shape {input_shape}")
        self.n_in = int(input_shape[0])
        self.b = Parameter(np.zeros(self.n_out, dtype=dtype), "b", regularize=False)
        self.params = [self.b]
        return super().build(input_shape, dtype, rng)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (self.n_out,)

    def array_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        return {"b": (self.n_out,)}  # W belongs to the target

    def link(self, layers: Sequence[Layer]) -> None:
        """Resolve a target given by name among ``layers`` and check that it follows this layer with
        weights of shape (n_out, n_in)."""
        if isinstance(self.target, str):
            found = [layer for layer in layers if layer.name == self.target]
            if not found:
                raise ValueError(f"DenseTied {self.name!r}: no layer named {self.target!r} to take "
                                 "weights from")
            self.target = found[0]
        target = self.target
        if not isinstance(target, Dense):
            raise ValueError(f"DenseTied {self.name!r} needs a Dense target, got {type(target).__name__}")
        ids = [id(layer) for layer in layers]
        if id(self) in ids and (id(target) not in ids or ids.index(id(target)) < ids.index(id(self))):
            raise ValueError(f"DenseTied {self.name!r} must come before its target {target.name!r} in the "
                             "stack")
        want = (self.n_out, self.n_in)
        if target.W.value.shape != want:
            raise ValueError(f"DenseTied {self.name!r} needs target weights of shape {want}, got "
                             f"{target.W.value.shape} from {target.name!r}")

    def _weights(self) -> Parameter:
        if isinstance(self.target, str):
            raise ValueError(f"DenseTied {self.name!r} is not linked to its target {self.target!r}; "
                             "build it inside a Sequential, which links it")
        return self.target.W

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        self._target_input = self.target.input if isinstance(self.target, Layer) else None
        z = x @ self._weights().value.T
        z += self.b.value
        return self._activate(z, training)

    def backward_delta(self, delta: np.ndarray) -> np.ndarray | None:
        self.delta = delta
        W = self._weights()
        if self.target.input is self._target_input:  # the target did not run after this layer
            raise ValueError(f"DenseTied {self.name!r} must come before its target {self.target.name!r} in "
                             "the stack (the target's backward pass writes its gradient first)")
        if self.needs_param_grad:
            W.grad += delta.T @ self.input
            np.sum(delta, axis=0, out=self.b.grad)
        return delta @ W.value if self.needs_input_grad else None

    def get_config(self) -> dict[str, Any]:
        target = self.target if isinstance(self.target, str) else self.target.name
        act = None if self.activation is None else self.activation.get_config()
        return {"target": target, "n_out": self.n_out, "activation": act, "name": self.name}

    def describe(self) -> str:
        target = self.target if isinstance(self.target, str) else self.target.name
        act = "" if self.activation is None else f", {self.activation.describe()}"
        return f"DenseTied({target}^T{act})"
