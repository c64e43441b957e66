"""Weight initialisers: W^l (n_in, n_out) drawn so that signals keep their scale through the layers.

    he      w ~ N(0, 2 / n_in)                           (ReLU family)
    xavier  w ~ U(-r, r),  r = sqrt(6 / (n_in + n_out))  (sigmoid, tanh)
    lecun   w ~ N(0, 1 / n_in)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet._base.registry import lookup


def _init_he(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """He et al. (2015): w ~ N(0, 2 / n_in), for ReLU-like units."""
    return rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)


def _init_xavier(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """Glorot & Bengio (2010): w ~ U(-r, r), r = sqrt(6 / (n_in + n_out)), for sigmoid / tanh units."""
    r = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, size=(n_in, n_out))


def _init_lecun(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """LeCun (1998): w ~ N(0, 1 / n_in)."""
    return rng.standard_normal((n_in, n_out)) * np.sqrt(1.0 / n_in)


def _init_normal(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """Small normal: w ~ N(0, 0.05^2)."""
    return rng.standard_normal((n_in, n_out)) * 0.05


def _init_standard_normal(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """w ~ N(0, 1), as in Nielsen's ``network.py`` (biases too)."""
    return rng.standard_normal((n_in, n_out))


INITS = {
    "he": _init_he,
    "xavier": _init_xavier,
    "glorot": _init_xavier,
    "lecun": _init_lecun,
    "normal": _init_normal,
    "standard_normal": _init_standard_normal,
}


def check_init(init: str) -> str:
    """``init`` if it is "auto" or a known initialiser name, else a one-line error listing them."""
    if init != "auto":
        lookup(INITS, init, "initialiser")
    return init


def init_weights(init: str, activation: Any, rng: np.random.Generator, n_in: int, n_out: int,
                 n_bias: int) -> tuple[np.ndarray, np.ndarray]:
    """Initial W (n_in, n_out) and b (n_bias,): "auto" is He for the ReLU family, Xavier otherwise;
    biases are zero, except N(0, 1) with "standard_normal" (Nielsen's network.py)."""
    if init == "auto":
        init = "he" if type(activation).__name__ in {"ReLU", "LeakyReLU"} else "xavier"
    w = lookup(INITS, init, "initialiser")(rng, n_in, n_out)
    b = rng.standard_normal(n_bias) if init == "standard_normal" else np.zeros(n_bias)
    return w, b
