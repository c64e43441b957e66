"""Learning-rate schedules, eta_t = schedule(epoch), separate objects that an optimiser is given as ``lr``:
per epoch (step, exponential and inverse-time decay) or per batch (cosine annealing, one-cycle).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["NAMED_SCHEDULES", "CosineDecay", "ExponentialDecay", "InverseTimeDecay", "OneCycle", "Schedule",
           "StepDecay", "learning_rate"]


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
