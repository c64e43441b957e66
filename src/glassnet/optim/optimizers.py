"""Optimisers update a list of :class:`~glassnet.layers.Parameter` from their ``.grad``, in place;
learning-rate schedules are separate objects, eta_t = schedule(epoch). Neither reaches into layers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet._base.registry import lookup, registrar
from glassnet._base.schema import Field, Float, class_schema
from glassnet.nn.layers import Parameter
from glassnet.optim.schedules import Schedule

if TYPE_CHECKING:
    from glassnet.model.sequential import Sequential


# ----------------------------------------------------------------------------- optimisers
OPTIMIZER_CLASSES: dict[str, type[Optimizer]] = {}
"""Every optimiser class by its class name, as model files name them (the genetic algorithm included)."""
register_optimizer = registrar(OPTIMIZER_CLASSES)
register_optimizer.__doc__ = """Class decorator: register an :class:`~glassnet.Optimizer` subclass under its class
name, so that model files (and ``OPTIMIZER_CLASSES``) can name it."""


class Optimizer:
    """Base: ``step(params)`` applies one update from ``p.grad``; ``lr`` is a float or a Schedule.

    ``train_step(model, x, y)`` is one iteration of ``fit``: by default backprop, then step.
    Gradient-free optimisers override it and set ``uses_gradients = False``.
    """

    uses_gradients = True

    decaying: dict[str, str] = {}
    """State arrays that shrink geometrically while their gradient is zero, by the attribute holding
    the factor, e.g. {"velocity": "momentum"}: see ``flush_subnormals``."""

    scratch: frozenset[str] = frozenset({"tmp"})
    """Per-parameter arrays that are workspace, not state: left out of ``state_dict``."""

    config_schema: dict[str, Field] = {"lr": Float(0, low_open=True)}
    """Ranges of the saved config's values (see :mod:`glassnet._base.schema`); the keys come from ``__init__``."""

    def __init__(self, lr: float | Schedule | Callable[[int], float]) -> None:
        self.schedule = lr if callable(lr) else None
        self.lr = float(lr(0) if callable(lr) else lr)
        if not self.lr > 0:
            raise ValueError(f"learning rate must be positive, got {self.lr}")
        self.iterations = 0
        self.state: dict[Parameter, dict[str, np.ndarray]] = {}
        self._next_flush = 0  # the step after which ``flush_subnormals`` runs next

    def begin_epoch(self, epoch: int) -> None:
        """Called by ``fit`` before each epoch: eta <- schedule(epoch)."""
        if self.schedule is not None:
            self.lr = float(self.schedule(epoch))

    @property
    def per_batch(self) -> bool:
        """True when the schedule wants ``begin_batch`` before every batch."""
        return bool(getattr(self.schedule, "per_batch", False))

    def begin_batch(self, epoch: float) -> None:
        """Called by ``fit`` before each batch when ``per_batch``: eta <- schedule(epoch + b / n_batches)."""
        self.lr = float(self.schedule(epoch))

    def train_step(self, model: Sequential, x: np.ndarray, y: np.ndarray) -> float:
        loss = model.backprop(x, y)
        self.step(model.packed_parameters())  # the same update as step(model.parameters()), in one go
        return loss

    def step(self, params: Sequence[Parameter]) -> None:
        self.iterations += 1
        state, update = self.state, self._update
        for p in params:
            st = state.get(p)
            if st is None:
                st = state[p] = self._init_state(p)
            update(p, st)
        if self.decaying and self.iterations >= self._next_flush:
            if self._next_flush:
                self.flush_subnormals()
            self._next_flush = self.iterations + self._flush_every()

    def flush_subnormals(self) -> None:
        """Set to zero the entries of decaying state (momentum, moment estimates) below 1e7 times the
        smallest normal float, before they shrink into subnormal numbers.

        Where a gradient entry stays exactly zero (an MNIST pixel that is always blank), its velocity
        decays as mu^t and after a few hundred steps becomes subnormal; arithmetic on subnormals is
        many times slower on common CPUs (6x for a whole SGD update measured on MNIST). The entries
        set to zero are below 1.2e-31 in float32: adding them changes no weight larger than 1e-24.
        """
        for st in self.state.values():
            for key in self.decaying:
                a = st.get(key)
                if a is not None:
                    a *= np.abs(a) >= np.finfo(a.dtype).tiny * 1e7

    def _flush_every(self) -> int:
        """Steps after which an entry just above the flush threshold can have decayed to 10x above
        the smallest normal float: ln(1e6) / ln(1 / factor) for the fastest-decaying state."""
        factors = [getattr(self, attr) for attr in self.decaying.values()]
        fastest = min((f for f in factors if 0.0 < f < 1.0), default=0.0)
        return max(1, int(math.log(1e6) / -math.log(fastest))) if fastest else 1 << 30

    def _init_state(self, p: Parameter) -> dict[str, np.ndarray]:
        return {"tmp": np.empty_like(p.value)}

    def _update(self, p: Parameter, st: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr}

    @classmethod
    def config_fields(cls) -> tuple[dict[str, Field], set[str]]:
        """(schema fields by key, required keys) of a saved ``get_config()``."""
        return class_schema(cls)

    # ------------------------------------------------------------------ state, for checkpoints
    def state_dict(self, params: Sequence[Parameter]) -> dict[str, Any]:
        """Everything the next update depends on, as JSON values and arrays (not copied): the step count
        t, the learning rate, the step of the next subnormal flush, the schedule's own state, and each
        parameter's state arrays (momentum, moments), keyed by the parameter's position in ``params``
        (the list ``step`` is given, e.g. ``model.packed_parameters()``), as PyTorch does."""
        index = {id(p): i for i, p in enumerate(params)}
        slots = [{"param": index[id(p)], **{k: v for k, v in st.items() if k not in self.scratch}}
                 for p, st in self.state.items() if id(p) in index]  # stale entries never update anything
        schedule = self.schedule.state_dict() if isinstance(self.schedule, Schedule) else {}
        return {"class": type(self).__name__, "iterations": self.iterations, "lr": self.lr,
                "next_flush": self._next_flush, "schedule": schedule, "slots": slots}

    def load_state_dict(self, state: dict[str, Any], params: Sequence[Parameter]) -> None:
        """Take back a ``state_dict(params)`` (for the same parameters, in the same order): after it the
        next ``step`` is bit-for-bit the one the saved optimiser would have made. Raises ValueError."""
        if state.get("class") != type(self).__name__:
            raise ValueError(f"optimizer state of {state.get('class')!r} cannot go into {type(self).__name__}")
        self.iterations, self.lr, self._next_flush = int(state["iterations"]), float(state["lr"]), int(
            state["next_flush"])
        if isinstance(self.schedule, Schedule):
            self.schedule.load_state_dict(state["schedule"])
        self.state = {}
        for slot in state["slots"]:
            p = params[int(slot["param"])]
            st = self._init_state(p)
            for key, value in st.items():
                if key in self.scratch:
                    continue
                saved = slot[key]
                if not isinstance(saved, np.ndarray) or saved.shape != value.shape or saved.dtype != value.dtype:
                    raise ValueError(f"optimizer state {key} of parameter {slot['param']} must be {value.dtype} "
                                     f"of shape {value.shape}")
                value[...] = saved
            self.state[p] = st

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


@register_optimizer
class SGD(Optimizer):
    """Gradient descent with momentum mu:  dw_t = -eta grad + mu dw_(t-1),  w <- w + dw_t.

    Nesterov:  w <- w + mu dw_t - eta grad  (the look-ahead form used by PyTorch and Keras).
    With mu = 0 this is plain  w <- w - eta grad.
    """

    config_schema = {"momentum": Float(0, 1, high_open=True)}

    def __init__(self, lr: float | Schedule = 0.01, momentum: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.decaying = {"velocity": "momentum"} if self.momentum else {}

    def _init_state(self, p: Parameter) -> dict[str, np.ndarray]:
        st = super()._init_state(p)
        if self.momentum:
            st["velocity"] = np.zeros_like(p.value)
        return st

    def step(self, params: Sequence[Parameter]) -> None:
        if self.momentum:
            super().step(params)
            return
        self.iterations += 1
        state, eta = self.state, -self.lr
        for p in params:  # plain gradient descent, the common small-network case: w <- w - eta grad
            st = state.get(p)
            if st is None:
                st = state[p] = self._init_state(p)
            p.value += np.multiply(p.grad, eta, out=st["tmp"])

    def _update(self, p: Parameter, st: dict[str, np.ndarray]) -> None:
        mu, eta = self.momentum, self.lr
        if mu and not self.nesterov:
            # dw = mu dw - eta grad as ((dw * (mu / -eta)) + grad) * -eta: in place, no temporary array
            v = st["velocity"]
            v *= mu / -eta
            v += p.grad
            v *= -eta
            p.value += v
            return
        step = np.multiply(p.grad, -eta, out=st["tmp"])  # -eta grad
        if mu:
            v = st["velocity"]
            v *= mu
            v += step
            step += mu * v  # Nesterov
        p.value += step

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}


@register_optimizer
class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015):  m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
    w <- w - eta * m_hat / (sqrt(v_hat) + eps)  with  m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t).
    """

    config_schema = {"beta1": Float(0, 1, high_open=True), "beta2": Float(0, 1, high_open=True),
                     "eps": Float(0, low_open=True)}

    def __init__(self, lr: float | Schedule = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.decaying = {"m": "beta1", "v": "beta2"}

    def _init_state(self, p: Parameter) -> dict[str, np.ndarray]:
        return {"m": np.zeros_like(p.value), "v": np.zeros_like(p.value), "tmp": np.empty_like(p.value)}

    def _update(self, p: Parameter, st: dict[str, np.ndarray]) -> None:
        t = self.iterations
        m, v, tmp = st["m"], st["v"], st["tmp"]
        m *= self.beta1
        np.multiply(p.grad, 1 - self.beta1, out=tmp)
        m += tmp
        v *= self.beta2
        np.square(p.grad, out=tmp)
        tmp *= 1 - self.beta2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp *= 1.0 / np.sqrt(1 - self.beta2**t)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= -self.lr / (1 - self.beta1**t)
        p.value += tmp

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


@register_optimizer
class RMSProp(Optimizer):
    """RMSProp (Hinton):  v <- rho v + (1 - rho) g^2,  w <- w - eta g / (sqrt(v) + eps)."""

    config_schema = {"rho": Float(0, 1, high_open=True), "eps": Float(0, low_open=True)}

    def __init__(self, lr: float | Schedule = 0.001, rho: float = 0.9, eps: float = 1e-7) -> None:
        super().__init__(lr)
        self.rho, self.eps = float(rho), float(eps)
        self.decaying = {"v": "rho"}

    def _init_state(self, p: Parameter) -> dict[str, np.ndarray]:
        return {"v": np.zeros_like(p.value), "tmp": np.empty_like(p.value)}

    def _update(self, p: Parameter, st: dict[str, np.ndarray]) -> None:
        v, tmp = st["v"], st["tmp"]
        v *= self.rho
        np.square(p.grad, out=tmp)
        tmp *= 1 - self.rho
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += self.eps
        np.divide(p.grad, tmp, out=tmp)
        tmp *= -self.lr
        p.value += tmp

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "rho": self.rho, "eps": self.eps}


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "rmsprop": RMSProp}
"""The gradient optimisers by short name, for ``compile(optimizer="adam")`` and the command line."""


def get_optimizer(spec: str | Optimizer) -> Optimizer:
    """An optimiser from its name (with default settings) or an instance."""
    return spec if isinstance(spec, Optimizer) else lookup(OPTIMIZERS, spec, "optimizer")()
