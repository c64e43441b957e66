"""The glass box's per-layer statistics, by name: computed from what each layer kept of its last forward and
backward pass, at no cost unless asked for (``Sequential.inspect``, ``fit(record=...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from glassnet._base.registry import lookup
from glassnet.nn.layers import Layer


def _weight(layer: Layer) -> Any:
    return layer.params[0] if layer.params else None


def _stat_grad_norm(layer: Layer) -> float | None:
    w = _weight(layer)
    return None if w is None else float(np.linalg.norm(w.grad))


def _stat_weight_norm(layer: Layer) -> float | None:
    w = _weight(layer)
    return None if w is None else float(np.linalg.norm(w.value))


def _stat_delta_norm(layer: Layer) -> float | None:
    d = getattr(layer, "delta", None)
    return None if d is None else float(np.linalg.norm(d))


def _stat_activation_mean(layer: Layer) -> float | None:
    return None if layer.output is None else float(layer.output.mean())


def _stat_activation_std(layer: Layer) -> float | None:
    return None if layer.output is None else float(layer.output.std())


def _stat_dead_fraction(layer: Layer) -> float | None:
    """Fraction of units whose output is <= 0 for every sample of the batch (dead ReLUs)."""
    a = layer.output
    return None if a is None or a.ndim != 2 else float(np.mean(np.all(a <= 0, axis=0)))


LAYER_STATS: dict[str, Callable[[Layer], float | None]] = {
    "grad_norm": _stat_grad_norm,
    "weight_norm": _stat_weight_norm,
    "delta_norm": _stat_delta_norm,
    "activation_mean": _stat_activation_mean,
    "activation_std": _stat_activation_std,
    "dead_fraction": _stat_dead_fraction,
}
"""Per-layer statistics by name: ||dC/dW||, ||W||, ||delta||, mean and std of a, dead units."""


def layer_stats(layers: list[Layer], stats: list[str]) -> dict[str, float]:
    """``{"stat/layer_name": value}`` for each stat and each layer it applies to."""
    fns = [(s, lookup(LAYER_STATS, s, "statistic")) for s in stats]
    out = {}
    for layer in layers:
        for s, fn in fns:
            v = fn(layer)
            if v is not None:
                out[f"{s}/{layer.name}"] = v
    return out
