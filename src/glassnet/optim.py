"""Optimisers update a list of :class:`~glassnet.layers.Parameter` from their ``.grad``, in place;
learning-rate schedules are separate objects, eta_t = schedule(epoch). Neither reaches into layers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet._checks import lookup
from glassnet.layers import Parameter
from glassnet.schema import Field, Float, class_schema

if TYPE_CHECKING:
    from glassnet.model import Sequential


# ----------------------------------------------------------------------------- schedules
class Schedule:
    """eta(epoch) for epoch = 0, 1, ...; pass one as ``lr`` to any optimiser.

    A schedule with ``per_batch = True`` is asked before every batch, at the fractional epoch
    t = epoch + b / n_batches of batch b (so a warm-up or an annealing is smooth within an epoch).

    A schedule whose value depends on more than the epoch (its own counters) returns them from
    ``state_dict()`` and takes them back in ``load_state_dict``, so that checkpoints resume it exactly.
    """

    per_batch = False

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class StepDecay(Schedule):
    """eta_t = eta_0 * factor ^ floor(t / every)."""

    def __init__(self, lr: float, factor: float = 0.5, every: int = 10) -> None:
        self.lr, self.factor, self.every = float(lr), float(factor), int(every)

    def __call__(self, epoch: int) -> float:
        return self.lr * self.factor ** (epoch // self.every)


class ExponentialDecay(Schedule):
    """eta_t = eta_0 * rate ^ t."""

    def __init__(self, lr: float, rate: float = 0.95) -> None:
        self.lr, self.rate = float(lr), float(rate)

    def __call__(self, epoch: int) -> float:
        return self.lr * self.rate**epoch


class InverseTimeDecay(Schedule):
    """eta_t = eta_0 / (1 + decay * t)."""

    def __init__(self, lr: float, decay: float = 0.1) -> None:
        self.lr, self.decay = float(lr), float(decay)

    def __call__(self, epoch: int) -> float:
        return self.lr / (1.0 + self.decay * epoch)


def _cosine(t: float, start: float, end: float) -> float:
    """From ``start`` at t = 0 to ``end`` at t = 1 along half a cosine:  end + (start - end)(1 + cos(pi t)) / 2."""
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * min(max(t, 0.0), 1.0)))


class CosineDecay(Schedule):
    """Linear warm-up, then cosine annealing (Loshchilov & Hutter, 2017), per batch, over ``epochs`` epochs:

        eta_t = eta_0 (f + (1 - f) t / w)                                       for t < w (warm-up),
        eta_t = eta_min + (eta_0 - eta_min) (1 + cos(pi (t - w) / (T - w))) / 2  for w <= t <= T,

    with w = ``warmup`` epochs, f = ``warmup_from``, T = ``epochs``, eta_min = ``min_lr``.
    """

    per_batch = True

    def __init__(self, lr: float, epochs: int, warmup: float = 0.0, min_lr: float = 0.0,
                 warmup_from: float = 0.1) -> None:
        if not (epochs > 0 and 0 <= warmup <= epochs and 0 <= min_lr < lr and 0 < warmup_from <= 1):
            raise ValueError(f"CosineDecay needs epochs > 0, 0 <= warmup <= epochs, 0 <= min_lr < lr and "
                             f"0 < warmup_from <= 1, got epochs={epochs}, warmup={warmup}, min_lr={min_lr}, "
                             f"lr={lr}, warmup_from={warmup_from}")
        self.lr, self.epochs, self.warmup = float(lr), float(epochs), float(warmup)
        self.min_lr, self.warmup_from = float(min_lr), float(warmup_from)

    def __call__(self, epoch: float) -> float:
        if epoch < self.warmup:
            return self.lr * (self.warmup_from + (1.0 - self.warmup_from) * epoch / self.warmup)
        span = self.epochs - self.warmup
        return _cosine((epoch - self.warmup) / span if span > 0 else 1.0, self.lr, self.min_lr)


class OneCycle(Schedule):
    """The one-cycle policy (Smith & Topin, 2019), per batch, as PyTorch's OneCycleLR: over the first
    ``pct_start`` of the T = ``epochs`` epochs eta rises from eta_max / d to eta_max along half a cosine,
    then falls along another to eta_max / (d * ``final_div``), with d = ``div``.
    """

    per_batch = True

    def __init__(self, lr: float, epochs: int, pct_start: float = 0.3, div: float = 25.0,
                 final_div: float = 1e4) -> None:
        if not (epochs > 0 and 0 < pct_start < 1 and div >= 1 and final_div >= 1):
            raise ValueError(f"OneCycle needs epochs > 0, 0 < pct_start < 1, div >= 1 and final_div >= 1, got "
                             f"epochs={epochs}, pct_start={pct_start}, div={div}, final_div={final_div}")
        self.lr, self.epochs, self.pct_start = float(lr), float(epochs), float(pct_start)
        self.div, self.final_div = float(div), float(final_div)

    def __call__(self, epoch: float) -> float:
        up = self.pct_start * self.epochs
        if epoch < up:
            return _cosine(epoch / up, self.lr / self.div, self.lr)
        return _cosine((epoch - up) / (self.epochs - up), self.lr, self.lr / (self.div * self.final_div))


NAMED_SCHEDULES = ("exponential", "cosine", "onecycle")
"""The schedules the command line names (``learning_rate``)."""


def learning_rate(name: str, lr: float, epochs: int, decay: float = 1.0, warmup: int = 0) -> float | Schedule:
    """The learning rate a command's settings name: ``"exponential"`` eta decay^t (a constant float when
    decay = 1), ``"cosine"`` (``warmup`` epochs of warm-up, then annealing to 0 at ``epochs``) or
    ``"onecycle"`` (rising over ``warmup`` epochs, by default the first 30%, then falling)."""
    if name not in NAMED_SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; known: {', '.join(NAMED_SCHEDULES)}")
    if warmup and name == "exponential":
        raise ValueError("a warm-up goes with the cosine or onecycle schedule")
    if name == "cosine":
        return CosineDecay(lr, epochs, warmup=warmup)
    if name == "onecycle":
        if warmup and not 0 < warmup < epochs:
            raise ValueError(f"onecycle's warm-up must be between 0 and the {epochs} epochs, got {warmup}")
        return OneCycle(lr, epochs, pct_start=warmup / epochs if warmup else 0.3)
    return ExponentialDecay(lr, decay) if decay != 1.0 else float(lr)


# ----------------------------------------------------------------------------- optimisers
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
    """Ranges of the saved config's values (see :mod:`glassnet.schema`); the keys come from ``__init__``."""

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


def get_optimizer(spec: str | Optimizer) -> Optimizer:
    """An optimiser from its name (with default settings) or an instance."""
    return spec if isinstance(spec, Optimizer) else lookup(OPTIMIZERS, spec, "optimizer")()
