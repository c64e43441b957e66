"""Layers: each one's forward pass and its derivative (backward pass) side by side.

A layer maps a batch ``x`` of shape (n, ...) to an output; ``backward(grad)`` receives
dC/d(output) and returns dC/d(input), filling ``.grad`` of its parameters on the way.
``backward`` may overwrite ``grad`` in place; layers never keep the array they return.

Glass box: after a pass every layer keeps ``input`` and ``output``; a :class:`Dense` layer
also keeps the textbook quantities of layer l:

    z^l = a^(l-1) W^l + b^l,    a^l = f(z^l),    delta^l = dC/dz^l = (dC/da^l) * f'(z^l).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from glassnet._base.blas import ones, serial_matmul, use_serial
from glassnet._base.checks import check_rate, check_widths
from glassnet._base.schema import Choice, Field, Float, Int, IntList, SchemaError, class_schema
from glassnet.nn.init import INITS, check_init, init_weights

Shape = tuple[int, ...]

LAYERS: dict[str, type[Layer]] = {}
"""Every layer class by name, for loading models from their JSON config."""


def register(cls: type[Layer]) -> type[Layer]:
    """Class decorator: make ``cls`` loadable by name from a saved config."""
    LAYERS[cls.__name__] = cls
    return cls


class Parameter:
    """A trainable array with its gradient: ``value``, ``grad`` (dC/dvalue) and ``name``.

    ``regularize`` marks weights that L1/L2 penalties apply to (biases are not penalised).
    """

    __slots__ = ("value", "grad", "name", "regularize")

    def __init__(self, value: np.ndarray, name: str, regularize: bool = True) -> None:
        self.value = value
        self.grad = np.zeros_like(value)
        self.name = name
        self.regularize = regularize

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.value.shape}, dtype={self.value.dtype})"


class Layer:
    """Base class. Subclasses implement ``build``, ``forward``, ``backward`` and ``get_config``, and
    ``array_shapes`` when they own parameters or buffers.

    Saved configs are checked against a schema derived from ``__init__`` (see :mod:`glassnet._base.schema`):
    the type hints give each value's type; ``config_schema`` adds ranges and choices. The entries here
    apply to every subclass whose constructor has a parameter of that name.
    """

    config_schema: ClassVar[dict[str, Field]] = {
        "n_in": Int(1), "n_out": Int(1), "n_hidden": Int(1), "in_channels": Int(1), "out_channels": Int(1),
        "l1": Float(0), "l2": Float(0), "init": Choice(lambda: ["auto", *INITS], "initialiser"),
    }

    has_derivative: ClassVar[bool] = True
    """False where f' = 0 almost everywhere (the step function): gradient descent cannot learn through it."""

    identity_at_inference: ClassVar[bool] = False
    """True for layers that only act in training (dropout, noise): exporters and viewers may skip them."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.params: list[Parameter] = []
        self.buffers: dict[str, np.ndarray] = {}
        """Non-trainable arrays saved with the model (running statistics), as PyTorch's buffers."""
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        self.input: np.ndarray | None = None
        self.output: np.ndarray | None = None
        self.rng: np.random.Generator = np.random.default_rng()
        self.needs_input_grad = True
        """The model clears this on every layer up to the first with parameters: dC/dx of the data is never
        needed, nor the gradient behind the first weights."""
        self.needs_param_grad = True
        """Cleared by an explanation pass (``glassnet.explain``), which wants dC/dx alone: backward then leaves
        every ``.grad`` as it was."""

    def build(self, input_shape: Shape, dtype: np.dtype, rng: np.random.Generator) -> Shape:
        """Create parameters for inputs of per-sample shape ``input_shape``; return the output shape."""
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        return self.output_shape

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _weights_and_bias(self, w: np.ndarray, b: np.ndarray, dtype: np.dtype) -> None:
        """Make ``W`` (penalised by L1/L2) and ``b`` (not) this layer's parameters."""
        self.W = Parameter(np.ascontiguousarray(w, dtype=dtype), "W")
        self.b = Parameter(b.astype(dtype), "b", regularize=False)
        self.params = [self.W, self.b]

    def entries_per_sample(self) -> int:
        """Array entries a forward pass keeps per sample (the output; more for recurrent layers): it
        sizes the chunks of inference."""
        return int(np.prod(self.output_shape))

    def array_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        """The shape of each parameter and buffer (by name) that ``build(input_shape, ...)`` creates,
        computed without building: loading checks a file's arrays against it before allocating any."""
        return {}

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-compatible values: ``type(self)(**config)`` rebuilds the layer."""
        return {"name": self.name}

    @classmethod
    def config_fields(cls) -> tuple[dict[str, Field], set[str]]:
        """(schema fields by key, required keys) of a saved config of this class."""
        return class_schema(cls)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """The layer of a saved (checked) config: ``cls(**config)``."""
        return cls(**config)

    @property
    def n_params(self) -> int:
        return sum(p.value.size for p in self.params)

    def describe(self) -> str:
        """Short type description for ``summary``."""
        return type(self).__name__

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name" and v is not None)
        return f"{type(self).__name__}({args})"


def _resolve_activation(activation: Any) -> Layer | None:
    from glassnet.nn.activations import get_activation

    return None if activation is None else get_activation(activation)


# ----------------------------------------------------------------------------- Dense
class ActivationField(Field):
    """An activation: its name ("relu"), or its saved config ({"activation": "sigmoid", "slope": 0.5})."""

    expected = "an activation name or config"

    def check(self, value: Any, where: str) -> Any:
        from glassnet._base.schema import check_config
        from glassnet.nn.activations import ACTIVATIONS

        name = value.get("activation") if isinstance(value, dict) else value
        if not isinstance(name, str):
            self.fail(value, where)
        key = name.lower().replace("-", "_")
        if key not in ACTIVATIONS:
            raise SchemaError(f"{where}: unknown activation {name!r}; known: {', '.join(sorted(ACTIVATIONS))}")
        if isinstance(value, dict):
            fields, required = ACTIVATIONS[key].config_fields()
            check_config(fields, required, value, where)
        return value


class Activated(Layer):
    """A layer that computes z from its input, then a = f(z) with an optional activation f.

    Subclasses compute z in ``forward`` and finish with ``return self._activate(z, training)``, and
    implement ``backward_delta(delta)`` from delta = dC/dz; ``backward`` applies f' first.
    """

    config_schema = {"activation": ActivationField()}

    def __init__(self, activation: str | Layer | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.activation = _resolve_activation(activation)
        self.z: np.ndarray | None = None
        self.a: np.ndarray | None = None
        self.delta: np.ndarray | None = None

    def _activate(self, z: np.ndarray, training: bool) -> np.ndarray:
        self.z = z
        self.a = self.activation.forward(z, training) if self.activation is not None else z
        self.output = self.a
        return self.a

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        delta = self.activation.backward(grad) if self.activation is not None else grad
        return self.backward_delta(delta)

    def backward_delta(self, delta: np.ndarray) -> np.ndarray | None:
        """Backward from delta = dC/dz (the fused softmax / sigmoid losses give it directly)."""
        raise NotImplementedError


@register
class Dense(Activated):
    r"""Fully connected layer :math:`z = x W + b`, :math:`a = f(z)` with an optional activation f.

    ``init``: "he", "xavier"/"glorot", "lecun", "normal" (N(0, 0.05^2)), "standard_normal", or "auto"
    (He for the ReLU family, Xavier otherwise). ``l1`` / ``l2`` override the model-wide penalties.

    Backward, given :math:`g = \partial C / \partial a`:

    .. math::

        \delta = g \odot f'(z), \quad \frac{\partial C}{\partial W} = x^T \delta, \quad
        \frac{\partial C}{\partial b} = \sum_n \delta_n, \quad \frac{\partial C}{\partial x} = \delta W^T.

    Examples
    --------
    >>> import numpy as np
    >>> import glassnet as gn
    >>> layer = gn.Sequential([gn.Dense(2, 3, activation="relu")], seed=0).layers[0]
    >>> layer.W.value.shape, layer.b.value.shape
    ((2, 3), (3,))
    """

    def __init__(
        self,
        n_in: int | None,
        n_out: int,
        activation: str | Layer | None = None,
        init: str = "auto",
        l1: float | None = None,
        l2: float | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(activation, name)
        self.n_in, self.n_out = check_widths("Dense", n_in, n_out=n_out)
        self.init = check_init(init)
        self.l1, self.l2 = l1, l2

    def build(self, input_shape: Shape, dtype: np.dtype, rng: np.random.Generator) -> Shape:
        if len(input_shape) != 1:
            raise ValueError(f"Dense expects 1-D samples (add Flatten first), got sample shape {input_shape}")
        if self.n_in is None:
            self.n_in = int(input_shape[0])
        elif input_shape[0] != self.n_in:
            raise ValueError(f"Dense expects inputs of width {self.n_in}, got width {input_shape[0]}")
        w, b = init_weights(self.init, self.activation, rng, self.n_in, self.n_out, self.n_out)
        self._weights_and_bias(w, b, dtype)
        return super().build(input_shape, dtype, rng)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (self.n_out,)

    def array_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        n_in = self.n_in if self.n_in is not None else input_shape[0]
        return {"W": (n_in, self.n_out), "b": (self.n_out,)}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        W = self.W.value
        z = serial_matmul(x, W) if training and use_serial(x.shape[0], W) else x @ W  # z = x W + b
        z += self.b.value
        return self._activate(z, training)

    def backward_delta(self, delta: np.ndarray) -> np.ndarray | None:
        self.delta = delta
        if self.needs_param_grad:
            np.matmul(self.input.T, delta, out=self.W.grad)  # dC/dW = x^T delta
            np.matmul(ones(delta.shape[0], delta.dtype), delta, out=self.b.grad)  # dC/db = 1^T delta
        if not self.needs_input_grad:
            return None
        W = self.W.value
        return serial_matmul(delta, W.T) if use_serial(delta.shape[0], W) else delta @ W.T  # dC/dx = delta W^T

    def get_config(self) -> dict[str, Any]:
        act = None if self.activation is None else self.activation.get_config()
        return {"n_in": self.n_in, "n_out": self.n_out, "activation": act, "init": self.init,
                "l1": self.l1, "l2": self.l2, "name": self.name}

    def describe(self) -> str:
        act = "" if self.activation is None else f", {self.activation.describe()}"
        return f"Dense{act}"


# ----------------------------------------------------------------------------- Maxout
@register
class Maxout(Layer):
    """Maxout units (Goodfellow et al., 2013):  a_j = max_k z_jk,  z_jk = x W_{:,jk} + b_jk.

    The gradient flows only to the winning piece of each unit.
    """

    config_schema = {"pieces": Int(1)}

    def __init__(self, n_in: int | None, n_out: int, pieces: int = 2, init: str = "xavier",
                 l1: float | None = None, l2: float | None = None, name: str | None = None) -> None:
        super().__init__(name)
        if int(pieces) < 1 or int(n_out) < 1:
            raise ValueError(f"Maxout needs n_out >= 1 and pieces >= 1, got n_out={n_out}, pieces={pieces}")
        self.n_in = None if n_in is None else int(n_in)
        self.n_out, self.pieces = int(n_out), int(pieces)
        self.init, self.l1, self.l2 = check_init(init), l1, l2

    def build(self, input_shape: Shape, dtype: np.dtype, rng: np.random.Generator) -> Shape:
        if len(input_shape) != 1 or (self.n_in is not None and input_shape[0] != self.n_in):
            raise ValueError(f"Maxout expects inputs of width {self.n_in}, got sample shape {input_shape}")
        self.n_in = int(input_shape[0])
        width = self.n_out * self.pieces
        w, b = init_weights(self.init, None, rng, self.n_in, width, width)
        self._weights_and_bias(w, b, dtype)
        return super().build(input_shape, dtype, rng)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (self.n_out,)

    def array_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        width = self.n_out * self.pieces
        return {"W": (self.n_in if self.n_in is not None else input_shape[0], width), "b": (width,)}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        z = (x @ self.W.value + self.b.value).reshape(x.shape[0], self.n_out, self.pieces)
        self.z = z
        self.argmax = z.argmax(axis=2)[..., None]
        self.output = np.take_along_axis(z, self.argmax, axis=2)[..., 0]
        return self.output

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        delta = np.zeros_like(self.z)
        np.put_along_axis(delta, self.argmax, grad[..., None], axis=2)
        delta = delta.reshape(grad.shape[0], -1)
        self.delta = delta
        if self.needs_param_grad:
            np.matmul(self.input.T, delta, out=self.W.grad)
            np.sum(delta, axis=0, out=self.b.grad)
        return delta @ self.W.value.T if self.needs_input_grad else None

    def get_config(self) -> dict[str, Any]:
        return {"n_in": self.n_in, "n_out": self.n_out, "pieces": self.pieces, "init": self.init,
                "l1": self.l1, "l2": self.l2, "name": self.name}


# ----------------------------------------------------------------------------- Dropout
def keep_mask(layer: Layer, x: np.ndarray, p: float, scale: float = 1.0) -> np.ndarray:
    """scale * m with m_i ~ Bernoulli(1 - p), shaped like x, drawn from ``layer.rng``; the layer's last
    mask is reused instead while ``layer.frozen`` is set and the shape matches (for gradient checks)."""
    mask = getattr(layer, "mask", None)
    if layer.frozen and mask is not None and mask.shape == x.shape:
        return mask
    mask = (layer.rng.random(x.shape, dtype=x.dtype) >= p).astype(x.dtype)
    if scale != 1.0:
        mask *= scale
    return mask


@register
class Dropout(Layer):
    """Inverted dropout: in training  a = x * m / (1 - p)  with  m_i ~ Bernoulli(1 - p);  identity otherwise.

    ``frozen = True`` reuses the last mask (for gradient checks); ``mask`` is the scaled mask m / (1 - p).
    """

    identity_at_inference = True
    config_schema = {"p": Float(0, 1, high_open=True)}

    def __init__(self, p: float, name: str | None = None) -> None:
        super().__init__(name)
        self.p = check_rate(p, "Dropout rate p")
        self.mask: np.ndarray | None = None
        self.frozen = False

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        if not training or self.p == 0.0:
            self.mask = None
            self.output = x
            return x
        self.mask = keep_mask(self, x, self.p, 1.0 / (1.0 - self.p))
        self.output = x * self.mask
        return self.output

    def backward(self, grad: np.ndarray) -> np.ndarray:
        if self.mask is not None:
            grad *= self.mask
        return grad

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p, "name": self.name}


# ----------------------------------------------------------------------------- shape layers
@register
class Flatten(Layer):
    """(n, d1, d2, ...) -> (n, d1 * d2 * ...)."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (int(np.prod(input_shape)),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        self.output = x.reshape(x.shape[0], -1)
        return self.output

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad.reshape(self.input.shape)


@register
class Reshape(Layer):
    """``(n, ...) -> (n, *shape)``; for example a flat image back to (n, 1, 28, 28)."""

    config_schema = {"shape": IntList(1)}

    def __init__(self, shape: tuple[int, ...] | list[int], name: str | None = None) -> None:
        super().__init__(name)
        self.shape = tuple(int(s) for s in shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if int(np.prod(input_shape)) != int(np.prod(self.shape)):
            raise ValueError(f"Reshape to {self.shape} needs {int(np.prod(self.shape))} values per sample, "
                             f"got sample shape {input_shape}")
        return self.shape

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        self.output = x.reshape((x.shape[0], *self.shape))
        return self.output

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad.reshape(self.input.shape)

    def get_config(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "name": self.name}
