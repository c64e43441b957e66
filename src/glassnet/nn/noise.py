"""Input corruption layers for denoising autoencoders (Vincent et al., 2008).

Like dropout they act only in training, with fresh noise for every batch, and never write into their
input, so when a network is trained by ``fit(X, X)`` the targets stay clean.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet._base.checks import check_rate
from glassnet._base.schema import Float
from glassnet.nn.layers import Layer, keep_mask, register

__all__ = ["GaussianNoise", "MaskingNoise", "Noise"]


class Noise(Layer):
    """Base of the corruption layers: identity outside training; ``frozen = True`` reuses the last noise
    (for gradient checks). Never writes into its input, which may be the very array used as the target.
    """

    identity_at_inference = True

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self.frozen = False

    @property
    def level(self) -> float:
        raise NotImplementedError

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        if not training or self.level == 0.0:
            self._clear()
            self.output = x
            return x
        self.output = self._corrupt(x)
        return self.output

    def _clear(self) -> None:
        raise NotImplementedError

    def _corrupt(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@register
class GaussianNoise(Noise):
    """Additive Gaussian corruption in training:  x~ = x + sigma eps,  eps ~ N(0, I);  identity otherwise.

    Backward: dC/dx = dC/dx~ (the noise does not depend on x).
    """

    config_schema = {"std": Float(0)}

    def __init__(self, std: float, name: str | None = None) -> None:
        super().__init__(name)
        if not float(std) >= 0.0 or not np.isfinite(float(std)):
            raise ValueError(f"GaussianNoise std must be a finite number >= 0, got {std}")
        self.std = float(std)
        self.noise: np.ndarray | None = None

    @property
    def level(self) -> float:
        return self.std

    def _clear(self) -> None:
        self.noise = None

    def _corrupt(self, x: np.ndarray) -> np.ndarray:
        if not (self.frozen and self.noise is not None and self.noise.shape == x.shape):
            self.noise = self.rng.standard_normal(x.shape, dtype=x.dtype)
            self.noise *= self.std
        return x + self.noise

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad

    def get_config(self) -> dict[str, Any]:
        return {"std": self.std, "name": self.name}

    def describe(self) -> str:
        return f"GaussianNoise({self.std:g})"


@register
class MaskingNoise(Noise):
    """Masking corruption in training:  x~ = x * m,  m_i ~ Bernoulli(1 - p)  (each input set to 0 with
    probability p, not rescaled: the network must fill in what is missing);  identity otherwise.

    Backward: dC/dx = dC/dx~ * m.
    """

    config_schema = {"p": Float(0, 1, high_open=True)}

    def __init__(self, p: float, name: str | None = None) -> None:
        super().__init__(name)
        self.p = check_rate(p, "MaskingNoise p")
        self.mask: np.ndarray | None = None

    @property
    def level(self) -> float:
        return self.p

    def _clear(self) -> None:
        self.mask = None

    def _corrupt(self, x: np.ndarray) -> np.ndarray:
        self.mask = keep_mask(self, x, self.p)
        return x * self.mask

    def backward(self, grad: np.ndarray) -> np.ndarray:
        if self.mask is not None:
            grad *= self.mask
        return grad

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p, "name": self.name}

    def describe(self) -> str:
        return f"MaskingNoise({self.p:g})"
