"""Optimisers update a list of :class:`~glassnet.layers.Parameter` from their ``.grad``, in place;
learning-rate schedules are separate objects, eta_t = schedule(epoch). Neither reaches into layers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet._checks import lookup
from glassnet.layers import Parameter

if TYPE_CHECKING:
    from glassnet.model import Sequential


# ----------------------------------------------------------------------------- schedules
class Schedule:
    """eta(epoch) for epoch = 0, 1, ...; pass one as ``lr`` to any optimiser."""

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError


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


# ----------------------------------------------------------------------------- optimisers
class Optimizer:
    """Base: ``step(params)`` applies one update from ``p.grad``; ``lr`` is a float or a Schedule.

    ``train_step(model, x, y)`` is one iteration of ``fit``: by default backprop, then step.
    Gradient-free optimisers override it and set ``uses_gradients = False``.
    """

    uses_gradients = True

    def __init__(self, lr: float | Schedule | Callable[[int], float]) -> None:
        self.schedule = lr if callable(lr) else None
        self.lr = float(lr(0) if callable(lr) else lr)
        if not self.lr > 0:
            raise ValueError(f"learning rate must be positive, got {self.lr}")
        self.iterations = 0
        self.state: dict[Parameter, dict[str, np.ndarray]] = {}

    def begin_epoch(self, epoch: int) -> None:
        """Called by ``fit`` before each epoch: eta <- schedule(epoch)."""
        if self.schedule is not None:
            self.lr = float(self.schedule(epoch))

    def train_step(self, model: Sequential, x: np.ndarray, y: np.ndarray) -> float:
        loss = model.backprop(x, y)
        self.step(model.parameters())
        return loss

    def step(self, params: Sequence[Parameter]) -> None:
        self.iterations += 1
        for p in params:
            st = self.state.get(p)
            if st is None:
                st = self.state[p] = self._init_state(p)
            self._update(p, st)

    def _init_state(self, p: Parameter) -> dict[str, np.ndarray]:
        return {"tmp": np.empty_like(p.value)}

    def _update(self, p: Parameter, st: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class SGD(Optimizer):
    """Gradient descent with momentum mu:  dw_t = -eta grad + mu dw_(t-1),  w <- w + dw_t.

    Nesterov:  w <- w + mu dw_t - eta grad  (the look-ahead form used by PyTorch and Keras).
    With mu = 0 this is plain  w <- w - eta grad.
    """

    def __init__(self, lr: float | Schedule = 0.01, momentum: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _init_state(self, p: Parameter) -> dict[str, np.ndarray]:
        st = super()._init_state(p)
        if self.momentum:
            st["velocity"] = np.zeros_like(p.value)
        return st

    def _update(self, p: Parameter, st: dict[str, np.ndarray]) -> None:
        step = np.multiply(p.grad, -self.lr, out=st["tmp"])  # -eta grad
        if self.momentum:
            v = st["velocity"]
            v *= self.momentum
            v += step
            if self.nesterov:
                step += self.momentum * v
            else:
                step = v
        p.value += step

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015):  m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
    w <- w - eta * m_hat / (sqrt(v_hat) + eps)  with  m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t).
    """

    def __init__(self, lr: float | Schedule = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

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

    def __init__(self, lr: float | Schedule = 0.001, rho: float = 0.9, eps: float = 1e-7) -> None:
        super().__init__(lr)
        self.rho, self.eps = float(rho), float(eps)

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
