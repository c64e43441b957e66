"""Autoencoders: a network trained to reproduce its input through a narrow code layer.

    encoder:  z = e(x)          (layers 1..k, the last one the code layer of width d)
    decoder:  x_hat = g(z)      (layers k+1..L)
    cost:     C = 1/n sum_i c(x_i, g(e(x~_i)))   with x~ = x, or a corrupted copy of x (denoising)

The whole network is one :class:`~glassnet.model.Sequential` trained by ``fit(X, X)``: the input is the
target. A denoising autoencoder (Vincent et al., 2008) puts a corruption layer first (:class:`GaussianNoise`
or :class:`MaskingNoise`); like dropout it acts only in training, with fresh noise for every batch, so the
targets stay clean. With linear units and the quadratic cost the optimum spans the same subspace as PCA
(Baldi & Hornik, 1989); with nonlinear units and several layers it can do much better (Hinton &
Salakhutdinov, 2006).

Saved files are ordinary Sequential files with ``meta["autoencoder"] = {"code_layer": k, ...}``;
``glassnet.load`` returns the Sequential (``predict`` reconstructs), :meth:`Autoencoder.load` the autoencoder.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from glassnet.model.sequential import Sequential
from glassnet.nn.layers import Dense, Layer, Shape
from glassnet.nn.losses import Loss
from glassnet.nn.noise import GaussianNoise, MaskingNoise, Noise
from glassnet.nn.tied import DenseTied
from glassnet.optim.optimizers import Optimizer
from glassnet.train.callbacks import Callback, History

__all__ = ["Autoencoder", "DenseTied", "GaussianNoise", "MaskingNoise"]


NOISE_KINDS = {"gaussian": GaussianNoise, "masking": MaskingNoise}


def _noise_layer(noise: float | Layer | None) -> Noise | None:
    """A corruption layer from None / 0 (none), a float (Gaussian std) or a noise layer."""
    if noise is None:
        return None
    if isinstance(noise, Noise):
        return noise if noise.level > 0 else None
    if isinstance(noise, Layer) or isinstance(noise, bool) or not isinstance(noise, int | float):
        raise ValueError("noise must be a number (Gaussian std), GaussianNoise(std) or MaskingNoise(p), "
                         f"got {type(noise).__name__}")
    return GaussianNoise(noise) if noise > 0 else None


def _layers_of(part: Sequential | Sequence[Layer], what: str) -> tuple[list[Layer], list[np.ndarray]]:
    """The layers of ``part`` and, for a built Sequential, the weights to keep."""
    if isinstance(part, Sequential):
        return list(part.layers), part.get_weights()
    layers = list(part) if isinstance(part, Sequence) else None
    if not layers or not all(isinstance(layer, Layer) for layer in layers):
        raise ValueError(f"{what} must be a Sequential or a non-empty list of layers, "
                         f"got {type(part).__name__}")
    return layers, []


# ----------------------------------------------------------------------------- the autoencoder
class Autoencoder:
    """An encoder and a decoder trained together to reconstruct the input: ``x -> z -> x_hat``.

    ``encoder`` / ``decoder``: Sequentials (their weights are kept and their layers shared) or lists of
    layers (initialised here with ``seed``). ``noise``: None, a Gaussian std, or a :class:`GaussianNoise` /
    :class:`MaskingNoise` layer, placed first in the stack. ``model`` is the whole stack as one Sequential.
    """

    def __init__(self, encoder: Sequential | Sequence[Layer], decoder: Sequential | Sequence[Layer],
                 noise: float | Layer | None = None, dtype: Any = None, seed: int | None = None,
                 input_shape: Shape | None = None) -> None:
        enc, enc_w = _layers_of(encoder, "encoder")
        dec, dec_w = _layers_of(decoder, "decoder")
        if isinstance(encoder, Sequential):
            dtype = encoder.dtype if dtype is None else dtype
            input_shape = encoder.input_shape if input_shape is None else input_shape
        if isinstance(decoder, Sequential):
            dtype = decoder.dtype if dtype is None else dtype
        layers = enc + dec
        corrupt = _noise_layer(noise)
        if input_shape is None and getattr(layers[0], "n_in", None) is not None:
            input_shape = (layers[0].n_in,)
        model = Sequential(([corrupt] if corrupt else []) + layers, seed=seed, input_shape=input_shape,
                           dtype=np.float32 if dtype is None else dtype)
        for part, weights in ((enc, enc_w), (dec, dec_w)):  # building re-initialised them
            if weights:
                for p, w in zip([p for layer in part for p in layer.params], weights, strict=True):
                    p.value[...] = w
        self._adopt(model, len(enc) + (1 if corrupt else 0))

    def _adopt(self, model: Sequential, code_layer: int) -> None:
        """Take ``model`` as the stack whose first ``code_layer`` layers are the encoder; check it."""
        if not 1 <= code_layer < len(model.layers):
            raise ValueError(f"code_layer must be in 1..{len(model.layers) - 1} (the encoder and the decoder "
                             f"each need a layer), got {code_layer}")
        self.model = model
        self.code_layer = code_layer
        if model.output_shape != model.input_shape:
            raise ValueError(f"the decoder must give back the input shape {model.input_shape}, "
                             f"got {model.output_shape}")
        self.code_shape: Shape = tuple(model.layers[code_layer - 1].output_shape)
        self.model.meta["autoencoder"] = {"code_layer": code_layer, "code_shape": list(self.code_shape)}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_sizes(cls, n_in: int, hidden: Sequence[int] = (1000, 500, 250), code: int = 30,
                   activation: str | Layer = "relu", code_activation: str = "linear",
                   output_activation: str = "sigmoid", tied: bool = False, noise: float | Layer | None = None,
                   init: str = "auto", dtype: Any = np.float32, seed: int | None = None) -> Autoencoder:
        """Dense layers n_in -> hidden... -> code -> reversed(hidden)... -> n_in (a mirrored stack).

        Layers are named ``encoder_1..``, ``code``, ``decoder_1..`` and ``reconstruction``. With ``tied``
        each encoder layer is a :class:`DenseTied` using the transposed W of its mirror image in the decoder
        (about half the weights; each layer keeps its own bias).
        """
        sizes = [_positive(n_in, "n_in"), *(_positive(h, "hidden size") for h in hidden),
                 _positive(code, "code")]
        if isinstance(activation, Layer):  # one fresh instance per layer: activations keep their last pass
            activation = activation.get_config()
        back = sizes[::-1]
        dec = [Dense(a, b, activation, init=init, name=f"decoder_{i + 1}")
               for i, (a, b) in enumerate(zip(back[:-2], back[1:-1], strict=True))]
        dec.append(Dense(back[-2], n_in, output_activation, init=init, name="reconstruction"))
        acts = [activation] * (len(sizes) - 2) + [code_activation]
        names = [f"encoder_{i + 1}" for i in range(len(sizes) - 2)] + ["code"]
        if tied:  # encoder layer i uses W^T of decoder layer L - i
            enc: list[Layer] = [DenseTied(dec[-1 - i], activation=act, name=name)
                                for i, (act, name) in enumerate(zip(acts, names, strict=True))]
        else:
            enc = [Dense(a, b, act, init=init, name=name)
                   for a, b, act, name in zip(sizes[:-1], sizes[1:], acts, names, strict=True)]
        return cls(enc, dec, noise=noise, dtype=dtype, seed=seed)

    @classmethod
    def from_model(cls, model: Sequential, code_layer: int | None = None) -> Autoencoder:
        """Wrap a Sequential (sharing it) whose first ``code_layer`` layers are the encoder; by default
        ``code_layer`` comes from ``model.meta["autoencoder"]`` (set in files saved by an Autoencoder).
        """
        if not isinstance(model, Sequential):
            raise ValueError(f"model must be a Sequential, got {type(model).__name__}")
        if code_layer is None:
            info = model.meta.get("autoencoder")
            if not isinstance(info, dict) or "code_layer" not in info:
                raise ValueError("model.meta has no 'autoencoder' entry; pass code_layer=k (the number of "
                                 "encoder layers)")
            code_layer = info["code_layer"]
        if isinstance(code_layer, bool) or not isinstance(code_layer, int | np.integer):
            raise ValueError(f"code_layer must be an integer, got {code_layer!r}")
        ae = cls.__new__(cls)
        ae._adopt(model, int(code_layer))
        return ae

    @classmethod
    def load(cls, path: str | os.PathLike) -> Autoencoder:
        """Read an autoencoder written by :meth:`save` (any glassnet model file with the meta entry)."""
        from glassnet.model.file import ModelFileError, load

        model = load(path)
        try:
            return cls.from_model(model)
        except ValueError as e:
            raise ModelFileError(f"{path}: not an autoencoder ({e})") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write the whole stack as a Sequential model file with ``meta["autoencoder"]``."""
        self.model.save(path)

    # ------------------------------------------------------------------ parts
    @property
    def noise(self) -> Layer | None:
        """The corruption layer at the start of the stack, or None."""
        first = self.model.layers[0]
        return first if isinstance(first, Noise) else None

    @property
    def encoder_layers(self) -> list[Layer]:
        """Layers from the input to the code layer (after any corruption layer)."""
        return self.model.layers[(1 if self.noise else 0):self.code_layer]

    @property
    def decoder_layers(self) -> list[Layer]:
        return self.model.layers[self.code_layer:]

    @property
    def dtype(self) -> np.dtype:
        return self.model.dtype

    @property
    def history(self) -> History | None:
        return self.model.history

    def parameters(self) -> list:
        return self.model.parameters()

    def get_weights(self) -> list[np.ndarray]:
        return self.model.get_weights()

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        self.model.set_weights(weights)

    def set_noise(self, noise: float | Layer | None) -> None:
        """Replace the corruption (None or 0 removes it); weights and optimiser state are kept."""
        layer = _noise_layer(noise)
        layers = self.model.layers
        if self.noise is not None:
            layers.pop(0)
            self.code_layer -= 1
        if layer is not None:
            layer.build(self.model.input_shape, self.model.dtype, layers[0].rng)
            layer.rng = layers[0].rng
            taken = {other.name for other in layers}
            base = type(layer).__name__.lower()
            i = 1
            while layer.name is None or layer.name in taken:
                layer.name, i = f"{base}_{i}", i + 1
            layers.insert(0, layer)
            self.code_layer += 1
        self.model.meta["autoencoder"]["code_layer"] = self.code_layer

    # ------------------------------------------------------------------ training
    def compile(self, loss: str | Loss = "mse", optimizer: str | Optimizer = "adam", l1: float = 0.0,
                l2: float = 0.0) -> Autoencoder:
        """Choose the reconstruction cost ("mse": 1/2 ||x - x_hat||^2; "binary_cross_entropy" for a
        sigmoid output and inputs in [0, 1]) and the optimiser; no accuracy metric."""
        self.model.compile(loss=loss, optimizer=optimizer, metrics=(), l1=l1, l2=l2)
        return self

    def fit(self, X: Any, epochs: int = 1, batch_size: int | None = 32, shuffle: bool = True,
            validation_data: Any = None, validation_split: float = 0.0, noise: float | Layer | None = None,
            callbacks: Sequence[Callback] = (), seed: int | None = None, verbose: int = 1,
            record: Sequence[str] = (), resume: str | os.PathLike | bool | None = None,
            log_dir: str | os.PathLike | None = None) -> History:
        """Train to reconstruct ``X``: ``model.fit(X, X, ...)``. ``validation_data`` is an array of inputs
        (or an (X, X) tuple). ``noise`` (a Gaussian std or a noise layer; 0 for none) replaces the
        corruption for this and later fits; None keeps the current one. ``resume`` and ``log_dir``: as for
        :meth:`Sequential.fit`.
        """
        if noise is not None:
            self.set_noise(noise)
        if validation_data is not None and not isinstance(validation_data, tuple):
            validation_data = (validation_data, validation_data)
        return self.model.fit(X, X, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                              validation_data=validation_data, validation_split=validation_split,
                              callbacks=callbacks, seed=seed, verbose=verbose, record=record, resume=resume,
                              log_dir=log_dir)

    # ------------------------------------------------------------------ inference
    def _run(self, layers: list[Layer], A: np.ndarray, batch_size: int) -> np.ndarray:
        outs = []
        for i in range(0, A.shape[0], batch_size):
            a = A[i:i + batch_size]
            for layer in layers:
                a = layer.forward(a, False)
            outs.append(np.array(a, copy=True))
        return np.concatenate(outs) if outs else np.empty((0, *layers[-1].output_shape), self.dtype)

    def encode(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """Codes :math:`z = e(x)`, shape ``(n, *code_shape)`` (no corruption: inference mode)."""
        return self._run(self.model.layers[:self.code_layer], self.model.as_inputs(X), batch_size)

    def decode(self, Z: Any, batch_size: int = 4096) -> np.ndarray:
        r"""Reconstructions :math:`\hat x = g(z)` from codes, shape ``(n, *input_shape)``."""
        from glassnet._base.checks import as_float_array

        Z = as_float_array(Z, "Z", self.dtype)
        if Z.shape[1:] != self.code_shape:
            raise ValueError(f"Z must have codes of shape {self.code_shape}, got {Z.shape[1:]} "
                             f"(array shape {Z.shape})")
        return self._run(self.decoder_layers, Z, batch_size)

    def reconstruct(self, X: Any, batch_size: int = 4096) -> np.ndarray:
        """x_hat = g(e(x)) = ``decode(encode(X))``, in one pass."""
        return self.model.predict(X, batch_size)

    def reconstruction_error(self, X: Any, batch_size: int = 4096) -> float:
        """Mean over samples of the squared error summed over features:  1/n sum_i ||x_i - x_hat_i||^2."""
        X = self.model.as_inputs(X)
        total = 0.0
        for i in range(0, X.shape[0], batch_size):
            d = self.model.forward(X[i:i + batch_size]).astype(np.float64)
            d -= X[i:i + batch_size]
            total += float(np.vdot(d, d))
        return total / max(X.shape[0], 1)

    # ------------------------------------------------------------------ description
    def summary(self, file: TextIO | None = None) -> None:
        """The Sequential summary plus the code layer."""
        print(self.summary_text(), file=file or sys.stdout)

    def summary_text(self) -> str:
        code = self.model.layers[self.code_layer - 1]
        return (f"{self.model.summary_text()}\ncode: {code.name} {(None, *self.code_shape)} "
                f"(encoder: layers 1..{self.code_layer}, decoder: {self.code_layer + 1}.."
                f"{len(self.model.layers)})")

    def __repr__(self) -> str:
        return (f"Autoencoder(encoder={self.encoder_layers!r}, decoder={self.decoder_layers!r}, "
                f"noise={self.noise!r}, dtype={self.dtype.name})")


def _positive(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")
    return int(n)
