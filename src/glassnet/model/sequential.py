"""Sequential: a stack of layers trained by backpropagation.

    forward:   a^0 = x,  a^l = layer_l(a^(l-1))
    backward:  delta^L from the loss, then delta^(l) from delta^(l+1) through each layer (chain rule)
    fit:       for each epoch, for each mini-batch: backprop, then the optimiser's update (glassnet.train)
"""

from __future__ import annotations

import contextlib
import operator
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from glassnet._base.checks import check_samples
from glassnet.data.encoding import check_targets
from glassnet.metrics import n_correct
from glassnet.model import penalty, summary
from glassnet.model.stats import layer_stats
from glassnet.nn.activations import Activation
from glassnet.nn.layers import Dense, Layer, Parameter, Shape
from glassnet.nn.losses import Loss, get_loss
from glassnet.optim.optimizers import Optimizer, get_optimizer

if TYPE_CHECKING:
    from glassnet.train.callbacks import Callback, History

_VALUE, _GRAD = operator.attrgetter("value"), operator.attrgetter("grad")
_CHUNK_ENTRIES = 1 << 22
"""Inference chunks hold at most this many entries in any layer's output (16 MiB in float32)."""


class Sequential:
    """A feed-forward network: ``Sequential([Dense(2, 2, activation="sigmoid"), Dense(2, 1, ...)])``.

    ``dtype`` is float32 by default (float64 for gradient checks); ``seed`` fixes the initial weights.
    ``input_shape`` (per sample) is needed only when the first layer cannot tell its input width.

    Examples
    --------
    >>> import numpy as np
    >>> import glassnet as gn
    >>> model = gn.Sequential([gn.Dense(2, 3, activation="tanh"), gn.Dense(3, 1, activation="sigmoid")], seed=0)
    >>> model.predict(np.array([[0.0, 1.0]])).shape
    (1, 1)
    >>> model.layers[0].z.shape, model.layers[0].a.dtype    # the glass box: what the last pass computed
    ((1, 3), dtype('float32'))
    """

    def __init__(self, layers: Sequence[Layer], dtype: Any = np.float32, seed: int | None = None,
                 input_shape: Shape | None = None) -> None:
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        layers = list(layers)
        if not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise ValueError("Sequential needs a non-empty list of Layer instances")
        self.layers = layers
        self.seed = seed
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self.metrics: list[str] = []
        self.l1 = self.l2 = 0.0
        self.history: History | None = None
        self.stop_training = False
        self.meta: dict[str, Any] = {}
        """Free-form JSON-compatible information saved with the model (e.g. class names)."""
        self._fused_act: Activation | None = None
        self._penalised_in_fit: list[tuple[Parameter, float, float]] | None = None
        self.fits = 0
        """How many times ``fit`` drew its random generator from the model's seed (a seeded model's n-th fit
        without a seed of its own draws from (seed, n))."""
        self._build(input_shape)

    # ------------------------------------------------------------------ construction
    def _build(self, input_shape: Shape | None) -> None:
        if input_shape is None:
            n_in = getattr(self.layers[0], "n_in", None)
            if n_in is None:
                raise ValueError(f"cannot tell the input shape of {type(self.layers[0]).__name__}; "
                                 "pass input_shape=(...) to Sequential")
            input_shape = (n_in,)
        self.input_shape = tuple(int(d) for d in input_shape)
        rng = np.random.default_rng(self.seed)
        shape = self.input_shape
        counts: dict[str, int] = {}
        names = set()
        for layer in self.layers:
            shape = layer.build(shape, self.dtype, rng)
            layer.rng = rng
            base = type(layer).__name__.lower()
            while layer.name is None or layer.name in names:  # generated names skip those taken
                counts[base] = counts.get(base, 0) + 1
                layer.name = f"{base}_{counts[base]}"
            names.add(layer.name)
        for layer in self.layers:  # layers that borrow another layer's weights (DenseTied) find it
            if hasattr(layer, "link"):
                layer.link(self.layers)
        self.output_shape = shape
        for layer in self.layers:  # dC/dx of the data is never needed, nor anything behind the first weights
            layer.needs_input_grad = False
            if layer.params:
                break
        self._pack_parameters()

    def _pack_parameters(self) -> None:
        """Move every parameter, and its gradient, into one buffer (each a 64-byte-aligned view of it),
        so that the optimiser updates the whole network with a few operations instead of a few per
        array: for small networks, most of an update is the per-call cost. Views rebound later (a
        layer rebuilt, ``p.value = ...``) are noticed by ``packed_parameters``."""
        params = list({id(p): p for p in self.parameters()}.values())
        self._packed: tuple[list[Parameter], list, list, list[Parameter]] | None = None
        if not params or any(p.value.dtype != self.dtype for p in params):
            return
        align = max(1, 64 // self.dtype.itemsize)
        offsets, total = [], 0
        for p in params:
            offsets.append(total)
            total += -(-p.value.size // align) * align
        values, grads = (np.zeros(total + align, self.dtype) for _ in range(2))
        skip = [(-a.ctypes.data // self.dtype.itemsize) % align for a in (values, grads)]
        for p, off in zip(params, offsets, strict=True):
            n, shape = p.value.size, p.value.shape
            value = values[skip[0] + off:skip[0] + off + n].reshape(shape)
            grad = grads[skip[1] + off:skip[1] + off + n].reshape(shape)
            value[...], grad[...] = p.value, p.grad
            p.value, p.grad = value, grad
        packed = Parameter(values[skip[0]:skip[0] + total], "packed")
        packed.grad = grads[skip[1]:skip[1] + total]
        self._packed = (params, [p.value for p in params], [p.grad for p in params], [packed])

    def packed_parameters(self) -> list[Parameter]:
        """``[p]`` with p one Parameter spanning every parameter and gradient of the network (padding
        between them stays zero), or ``parameters()`` when the arrays are no longer the packed views."""
        params = self.parameters()
        if self._packed is not None:
            packed_params, values, grads, packed = self._packed
            if (params == packed_params  # the same Parameter objects (compared by identity)
                    and all(map(operator.is_, map(_VALUE, params), values))
                    and all(map(operator.is_, map(_GRAD, params), grads))):
                return packed
        return params

    def compile(self, loss: str | Loss = "mse", optimizer: str | Optimizer = "sgd",
                metrics: Sequence[str] = ("accuracy",), l1: float = 0.0, l2: float = 0.0) -> Sequential:
        """Choose the cost, the optimiser and the metrics; ``l1``/``l2`` apply to every weight matrix
        whose layer sets none:  C_total = C + l1 sum|w| + l2/2 sum w^2.
        """
        self.loss = get_loss(loss)
        self.optimizer = get_optimizer(optimizer)
        for m in metrics:
            if m != "accuracy":
                raise ValueError(f"unknown metric {m!r}; known: accuracy")
        self.metrics = list(metrics)
        if l1 < 0 or l2 < 0:
            raise ValueError(f"l1 and l2 must be >= 0, got l1={l1}, l2={l2}")
        self.l1, self.l2 = float(l1), float(l2)
        out = self._output_activation()
        self._fused = out is not None and self.loss.fuses_with is not None and isinstance(
            out, self.loss.fuses_with)
        self._fused_act = out if self._fused else None
        return self

    def _output_activation(self) -> Activation | None:
        last = self.layers[-1]
        act = last.activation if isinstance(last, Dense) else last
        return act if isinstance(act, Activation) else None

    def parameters(self) -> list[Parameter]:
        """Every trainable parameter, first layer first."""
        return [p for layer in self.layers for p in layer.params]

    def count_params(self) -> int:
        return sum(p.value.size for p in self.parameters())

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter's value."""
        return [p.value.copy() for p in self.parameters()]

    def named_arrays(self) -> Iterator[tuple[str, np.ndarray]]:
        """("layer{i}.{name}", array) for every parameter and buffer, as model files store them (no copies)."""
        for i, layer in enumerate(self.layers):
            for p in layer.params:
                yield f"layer{i}.{p.name}", p.value
            for name, value in layer.buffers.items():
                yield f"layer{i}.{name}", value

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer by file key ("layer0.W", ...), as PyTorch's."""
        return {key: value.copy() for key, value in self.named_arrays()}

    def load_state_dict(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Copy a ``state_dict()`` into the parameters and buffers, in place (exactly the same keys)."""
        own = dict(self.named_arrays())
        if set(arrays) != set(own):
            diff = sorted(set(arrays) ^ set(own))
            raise ValueError(f"state_dict keys must be those of the model; {diff[0]!r} is not shared")
        for key, value in own.items():
            if np.shape(arrays[key]) != value.shape:
                raise ValueError(f"{key} must have shape {value.shape}, got {np.shape(arrays[key])}")
            value[...] = arrays[key]

    @contextlib.contextmanager
    def keeping_buffers(self) -> Iterator[None]:
        """Training-mode passes inside leave the buffers (running statistics) as they were before."""
        saved = [(buf, buf.copy()) for layer in self.layers for buf in layer.buffers.values()]
        try:
            yield
        finally:
            for buf, old in saved:
                buf[...] = old

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Copy ``weights`` (as from ``get_weights``) into the parameters, in place."""
        params = self.parameters()
        if len(weights) != len(params):
            raise ValueError(f"expected {len(params)} weight arrays, got {len(weights)}")
        for p, w in zip(params, weights, strict=True):
            w = np.asarray(w)
            if w.shape != p.value.shape:
                raise ValueError(f"weight {p.name} must have shape {p.value.shape}, got {w.shape}")
            p.value[...] = w

    # ------------------------------------------------------------------ data checks
    def as_inputs(self, X: Any, name: str = "X", min_samples: int = 0) -> np.ndarray:
        """``X`` checked and converted: a float array of samples of ``input_shape`` in the model's dtype."""
        return check_samples(X, self.input_shape, self.dtype, name, min_samples)

    def as_targets(self, Y: Any, n: int, name: str = "Y") -> np.ndarray:
        """``Y`` checked and converted: ``n`` targets of ``output_shape`` (integer labels one-hot encoded)."""
        return check_targets(Y, n, self.output_shape, self.dtype, name)

    def require_compiled(self) -> None:
        """Raise unless ``compile`` gave the model a loss and an optimiser."""
        if self.loss is None:
            raise RuntimeError("call model.compile(loss=..., optimizer=...) first")

    # ------------------------------------------------------------------ passes
    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        """a^L for a batch; every layer keeps its input, z, a of this pass."""
        a = X
        for layer in self.layers:
            a = layer.forward(a, training)
        return a

    def _loss_and_delta(self, a: np.ndarray, Y: np.ndarray, need_delta: bool = True
                        ) -> tuple[float, np.ndarray | None]:
        """Data cost C of the last forward pass (no penalty) and the delta to send back
        (dC/da^L, or dC/dz^L when the output activation is fused with the loss)."""
        if self._fused:
            act = self._fused_act
            loss = self.loss.fused_value(act.input, a, Y, act)
            delta = self.loss.fused_delta(a, Y, act) if need_delta else None
        elif need_delta:
            loss, delta = self.loss.value_and_gradient(a, Y)
        else:
            loss, delta = self.loss.value(a, Y), None
        return loss, delta

    def backward(self, delta: np.ndarray) -> None:
        """Propagate the output delta back through every layer, filling each parameter's ``.grad``."""
        layers = self.layers
        if self._fused:  # delta is already dC/dz of the output activation
            last = layers[-1]
            if isinstance(last, Dense):
                delta = last.backward_delta(delta)
            layers = layers[:-1]
        for layer in reversed(layers):
            if delta is None:
                break
            delta = layer.backward(delta)
        if self._penalised():
            self._penalty_grad()

    def backprop(self, X: np.ndarray, Y: np.ndarray) -> float:
        """One forward pass (training mode), the loss, and one backward pass that fills ``.grad``
        of every parameter; no update. Returns C (including any L1/L2 penalty).
        """
        self.require_compiled()
        a = self.forward(X, training=True)
        loss, delta = self._loss_and_delta(a, Y)
        self.backward(delta)
        return loss + self._penalty() if self._penalised() else loss

    def loss_value(self, X: np.ndarray, Y: np.ndarray, training: bool = False) -> float:
        """C on a batch without a backward pass (what gradient-free optimisers evaluate)."""
        self.require_compiled()
        return self._loss_and_delta(self.forward(X, training), Y, need_delta=False)[0] + self._penalty()

    # ------------------------------------------------------------------ regularisation
    def _penalised(self) -> list[tuple[Parameter, float, float]]:
        if self._penalised_in_fit is not None:  # fixed for the duration of fit
            return self._penalised_in_fit
        out = []
        for layer in self.layers:
            l1 = self.l1 if getattr(layer, "l1", None) is None else layer.l1
            l2 = self.l2 if getattr(layer, "l2", None) is None else layer.l2
            if l1 or l2:
                out.extend((p, l1, l2) for p in layer.params if p.regularize)
        return out

    @contextlib.contextmanager
    def penalties_fixed(self) -> Iterator[None]:
        """Within ``fit``: the list of penalised parameters is computed once, not once per batch."""
        self._penalised_in_fit = self._penalised()
        try:
            yield
        finally:
            self._penalised_in_fit = None

    def _penalty(self) -> float:
        """l1 sum|w| + l2/2 sum w^2 over the penalised weights."""
        return penalty.value(self._penalised())

    def _penalty_grad(self) -> None:
        """grad += l1 sign(w) + l2 w."""
        penalty.add_grad(self._penalised())

    # ------------------------------------------------------------------ training
    def fit(self, X: Any, Y: Any, epochs: int = 1, batch_size: int | None = 32, shuffle: bool = True,
            validation_data: tuple[Any, Any] | None = None, validation_split: float = 0.0,
            callbacks: Sequence[Callback] = (), seed: int | None = None, verbose: int = 1,
            record: Sequence[str] = (), resume: str | os.PathLike | bool | None = None,
            log_dir: str | os.PathLike | None = None) -> History:
        """Train for ``epochs`` passes over (X, Y) in mini-batches of ``batch_size``
        (None: full-batch gradient descent; 1: stochastic). ``validation_split`` holds out a random
        fraction (drawn with ``seed``). ``seed`` fixes the shuffling, the split and dropout; without it a
        model built with a seed draws them from that seed and the number of its fits so far, so that
        ``Sequential(..., seed=s)`` alone gives bit-identical runs; an unseeded model draws fresh ones.
        ``record`` names per-layer statistics (see ``callbacks.LAYER_STATS``) averaged per epoch into the
        History, e.g. "grad_norm/dense_1".
        If the loss becomes NaN or inf, training stops with :class:`DivergenceError` and the model
        keeps the weights of its last finished epoch.

        Ctrl-C (``KeyboardInterrupt``) stops at once and is raised again, the model holding the weights
        and buffers of its last finished epoch, or of the best one with ``EarlyStopping(restore_best=True)``;
        ``history.events`` has "weights_epoch" (which) and "interrupted_epoch".

        ``resume`` continues a run from a checkpoint written by the
        :class:`~glassnet.TrainingCheckpoint` callback: a checkpoint file, a folder (its newest
        complete checkpoint), or True (the TrainingCheckpoint's own folder if it holds one, else a fresh
        start). Weights, optimiser state, every random generator, the history and the callbacks' state are
        restored, so the run ends bit-identical to one never interrupted; ``epochs`` counts from the start
        of the run, as Keras's ``epochs`` with ``initial_epoch``.

        ``log_dir`` records the run in that folder (a :class:`~glassnet.RunLogger`: every epoch's history,
        per-layer statistics, weights, outputs on the first 100 validation rows, TensorBoard events), read back
        by ``glassnet.load_run``; with ``resume`` it appends to the run there.
        """
        from glassnet.train import loop  # the one call up: the training loop lives above the model

        return loop.fit(self, X, Y, epochs, batch_size, shuffle, validation_data, validation_split,
                            callbacks, seed, verbose, record, resume, log_dir)

    # ------------------------------------------------------------------ inference
    def inference_batch(self) -> int:
        """Rows per chunk in ``predict`` / ``evaluate``: up to 4096, fewer when a layer's output would
        keep more than _CHUNK_ENTRIES entries (a CNN's feature maps and an LSTM's gates then stay in
        cache rather than fill gigabytes)."""
        widest = max((layer.entries_per_sample() for layer in self.layers if layer.output_shape), default=1)
        return max(1, min(4096, _CHUNK_ENTRIES // max(1, widest)))

    def predict(self, X: Any, batch_size: int | None = None) -> np.ndarray:
        """Outputs a^L (probabilities for a softmax output), computed in chunks of ``batch_size``
        (None: ``inference_batch()``)."""
        X = self.as_inputs(X)
        batch_size = batch_size or self.inference_batch()
        outs = [self.forward(X[i:i + batch_size]).copy() for i in range(0, X.shape[0], batch_size)]
        return np.concatenate(outs) if outs else np.empty((0, *self.output_shape), self.dtype)

    def evaluate(self, X: Any, Y: Any, batch_size: int | None = None) -> dict[str, float]:
        """{"loss": C, "accuracy": ...} on (X, Y), without training-mode dropout."""
        self.require_compiled()
        X = self.as_inputs(X, min_samples=1)
        return self.evaluate_arrays(X, self.as_targets(Y, X.shape[0]), batch_size)

    def evaluate_arrays(self, X: np.ndarray, Y: np.ndarray, batch_size: int | None = None) -> dict[str, float]:
        """``evaluate`` on arrays already checked by ``as_inputs`` / ``as_targets``."""
        batch_size = batch_size or self.inference_batch()
        loss, correct, n = 0.0, 0, X.shape[0]
        for i in range(0, n, batch_size):
            xb, yb = X[i:i + batch_size], Y[i:i + batch_size]
            a = self.forward(xb)
            loss += self._loss_and_delta(a, yb, need_delta=False)[0] * xb.shape[0]
            correct += n_correct(a, yb)
        out = {"loss": loss / n + self._penalty()}
        if "accuracy" in self.metrics:
            out["accuracy"] = correct / n
        return out

    def inspect(self, X: Any, Y: Any, stats: Sequence[str] = ("grad_norm", "activation_mean")
                ) -> dict[str, float]:
        """One backprop on (X, Y) and the per-layer statistics of that pass, e.g. the gradient norms
        at initialisation: {"grad_norm/dense_1": ..., ...}. The running statistics of BatchNorm layers are
        left as they were.
        """
        X = self.as_inputs(X)
        with self.keeping_buffers():
            self.backprop(X, self.as_targets(Y, X.shape[0]))
        return layer_stats(self.layers, list(stats))

    # ------------------------------------------------------------------ description and files
    def summary(self, file: TextIO | None = None) -> None:
        """Print each layer's name, type, output shape and parameter count, then the totals."""
        print(self.summary_text(), file=file or sys.stdout)

    def summary_rows(self) -> list[tuple[str, str, str, str]]:
        """(name, type, output shape, parameter count) of each layer, as ``summary`` shows them."""
        return summary.rows(self)

    def summary_footer(self) -> str:
        """The totals line under the summary table."""
        return summary.footer(self)

    def summary_text(self) -> str:
        """The table ``summary`` prints."""
        return summary.text(self)

    def _repr_html_(self) -> str:
        """The summary as an HTML table: what Jupyter shows for a model at the end of a cell."""
        from glassnet.plot.notebook import summary_html

        return summary_html(self)

    def save(self, path: str) -> None:
        """Write the architecture (versioned JSON) and weights to one ``.npz`` file, atomically."""
        from glassnet.model.file import save

        save(self, path)

    def __repr__(self) -> str:
        return f"Sequential({self.layers!r}, dtype={self.dtype.name})"

