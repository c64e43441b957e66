"""The digit page's side of the server: the loaded models, what each layer computed, and test digits.

Everything shown is read from glassnet's own forward pass (the glass box: each layer keeps ``input``,
``z`` and ``a`` of its last pass); nothing is recomputed elsewhere. A model is used by one request at a
time (its lock), because a pass overwrites those attributes.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from glassnet._base.blas import one_thread
from glassnet.model.sequential import Sequential
from glassnet.nn.layers import Layer
from glassnet.playground.wire import ApiError, rounded, unit_picture

PIXELS = 784
TOP_UNITS_MAX = 16
UNITS_PER_REQUEST = 64


def check_digit_model(model: Sequential, name: str) -> None:
    """A model the digit page can show: 784 pixels in, 10 classes out."""
    if model.input_shape != (PIXELS,):
        raise ValueError(f"{name} takes inputs of shape {model.input_shape}; the digit page needs models of "
                         f"28x28 = {PIXELS} pixels")
    if model.output_shape != (10,):
        raise ValueError(f"{name} has outputs of shape {model.output_shape}; the digit page needs 10 classes")


class ModelEntry:
    """A named model with its lock; ``version`` grows whenever its weights change."""

    def __init__(self, name: str, model: Sequential, source: str) -> None:
        check_digit_model(model, name)
        self.name, self.model, self.source = name, model, source
        self.lock = threading.Lock()
        self.version = 0
        self._wrong: tuple[int, np.ndarray] | None = None  # (version, indices of misclassified test digits)

    def describe(self) -> dict[str, Any]:
        m = self.model
        results = m.meta.get("results", {}) if isinstance(m.meta, dict) else {}
        return {
            "name": self.name, "source": self.source, "input_shape": list(m.input_shape),
            "output_shape": list(m.output_shape), "parameters": m.count_params(), "version": self.version,
            "test_accuracy": results.get("test_accuracy"), "val_accuracy": results.get("val_accuracy"),
            "layers": [{"index": i, "name": layer.name, "type": layer.describe(), "class": type(layer).__name__,
                        "output_shape": list(layer.output_shape), "params": layer.n_params,
                        "has_units": _n_units(layer) > 0}
                       for i, layer in enumerate(m.layers)],
        }

    def set_state(self, state: dict[str, np.ndarray], source: str | None = None) -> None:
        """Copy new weights and buffers (running statistics) in, as ``model.state_dict()`` gives them (the
        live model while it trains)."""
        with self.lock:
            self.model.load_state_dict(state)
            self.version += 1
            if source is not None:
                self.source = source

    # ------------------------------------------------------------------ one pass, every layer
    def inspect(self, x: np.ndarray, top_units: int = 0, with_z: bool = True) -> dict[str, Any]:
        """The prediction for one 784-pixel image and what every layer computed on the way."""
        with self.lock, one_thread:  # one image: a second BLAS thread costs more than it saves
            a = self.model.forward(x[None, :].astype(self.model.dtype, copy=False))[0]
            layers = [_layer_record(layer, with_z) for layer in self.model.layers]
            top = _top_units(self.model, top_units) if top_units else None
        outputs = np.asarray(a, dtype=np.float64)
        probs = _probabilities(self.model, outputs)
        out: dict[str, Any] = {
            "model": self.name, "version": self.version, "prediction": int(np.argmax(outputs)),
            "probabilities": rounded(probs, 5), "layers": layers,
        }
        if top is not None:
            out["top_units"] = top
        return out

    def units(self, layer_index: int, units: list[int] | None) -> dict[str, Any]:
        """Bias and incoming-weight picture of units of one layer (for hovering and kernel views)."""
        layers = self.model.layers
        if not 0 <= layer_index < len(layers):
            raise ApiError(404, f"model {self.name!r} has layers 0..{len(layers) - 1}, not {layer_index}")
        layer = layers[layer_index]
        n = _n_units(layer)
        if n == 0:
            raise ApiError(404, f"layer {layer_index} ({layer.name}) has no weights")
        if units is None:
            units = list(range(min(n, UNITS_PER_REQUEST)))
        if len(units) > UNITS_PER_REQUEST:
            raise ApiError(400, f"at most {UNITS_PER_REQUEST} units per request, got {len(units)}")
        bad = [u for u in units if not 0 <= u < n]
        if bad:
            raise ApiError(404, f"layer {layer_index} ({layer.name}) has units 0..{n - 1}, not {bad[0]}")
        with self.lock:
            pictures = [unit_picture(layer, u, self._input_image_shape(layer_index)) for u in units]
        return {"model": self.name, "layer": layer_index, "name": layer.name, "units": pictures}

    def _input_image_shape(self, layer_index: int) -> tuple[int, ...] | None:
        """(28, 28) when the layer reads the raw pixels, so its weights show as pictures."""
        before = self.model.layers[:layer_index]
        if any(layer.params for layer in before):
            return None
        return (28, 28) if self.model.layers[layer_index].input_shape == (PIXELS,) else None

    # ------------------------------------------------------------------ test digits
    def misclassified(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Indices of the test digits this model gets wrong (cached until its weights change)."""
        if self._wrong is not None and self._wrong[0] == self.version:
            return self._wrong[1]
        with self.lock:
            version = self.version
            pred = self.model.predict(X, batch_size=1000).argmax(axis=1)
        wrong = np.flatnonzero(pred != y)
        self._wrong = (version, wrong)
        return wrong


def _is_softmax(model: Sequential) -> bool:
    act = model._output_activation()
    return act is not None and type(act).__name__ == "Softmax"


def _probabilities(model: Sequential, outputs: np.ndarray) -> np.ndarray:
    """The outputs as class probabilities: a softmax's as they are, a log-softmax's exponentiated, logits of
    either sign (an imported network trained with a fused softmax loss) through the softmax, others normalised."""
    act = model._output_activation()
    if _is_softmax(model):
        return outputs
    if act is not None and type(act).__name__ == "LogSoftmax":
        return np.exp(outputs)
    if outputs.min() < 0:
        e = np.exp(outputs - outputs.max())
        return e / e.sum()
    total = float(outputs.sum())
    return outputs if total <= 0 else outputs / total


def _layer_record(layer: Layer, with_z: bool) -> dict[str, Any]:
    rec: dict[str, Any] = {"name": layer.name, "type": layer.describe(), "class": type(layer).__name__,
                           "output_shape": list(layer.output_shape), "activations": rounded(layer.output[0], 4),
                           "identity": layer.identity_at_inference}  # dropout, noise, augmentation
    z = getattr(layer, "z", None)
    if with_z and z is not None and z is not layer.output and z.ndim == 2 and z.shape == layer.output.shape:
        rec["z"] = rounded(z[0], 4)  # dense-like layers (and BatchNorm): one z per unit
    h = getattr(layer, "h", None)
    if h is not None and h.ndim == 3:  # recurrent layers: the hidden state after every step
        rec["states"] = rounded(h[0], 4)
    return rec


def _n_units(layer: Layer) -> int:
    if not layer.params:
        return 0
    for attr in ("n_out", "out_channels", "n_hidden"):
        if getattr(layer, attr, None):
            return int(getattr(layer, attr))
    return 0


def _top_units(model: Sequential, k: int) -> dict[str, Any] | None:
    """The k most active units of the first layer with weights, when it reads the raw pixels, with their
    incoming weights as 28x28 pictures."""
    first = next((i for i, layer in enumerate(model.layers) if layer.params), None)
    if first is None:
        return None
    layer = model.layers[first]
    W = getattr(layer, "W", None)
    if W is None or W.value.ndim != 2 or W.value.shape[0] != PIXELS or getattr(layer, "a", None) is None:
        return None
    a = np.asarray(layer.a[0], dtype=np.float64)
    order = np.argsort(-a, kind="stable")[:min(k, TOP_UNITS_MAX)]
    return {"layer": first, "name": layer.name,
            "units": [{**unit_picture(layer, int(j), (28, 28)), "a": round(float(a[j]), 4)} for j in order]}


class Models:
    """The loaded models by name, in the order they were given (the first is the default)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, ModelEntry] = {}

    def add(self, entry: ModelEntry, replace: bool = False) -> None:
        with self._lock:
            if entry.name in self._entries and not replace:
                raise ValueError(f"two models are named {entry.name!r}")
            self._entries[entry.name] = entry

    def get(self, name: str | None) -> ModelEntry:
        with self._lock:
            if name is None:
                if not self._entries:
                    raise ApiError(404, "no model is loaded")
                return next(iter(self._entries.values()))
            if not isinstance(name, str) or name not in self._entries:
                raise ApiError(404, f"unknown model {name!r}; loaded: {', '.join(self._entries)}")
            return self._entries[name]

    def all(self) -> list[ModelEntry]:
        with self._lock:
            return list(self._entries.values())


class DigitData:
    """The MNIST test digits (and training set, for live training), found without downloading: the data
    folder given, ``$GLASSNET_DATA_DIR`` or the cache, else the embedded sample. Loaded on first use."""

    def __init__(self, data_dir: str | None = None) -> None:
        self.data_dir = data_dir
        self._lock = threading.Lock()
        self._test: tuple[np.ndarray, np.ndarray, str] | None = None

    def full_available(self) -> bool:
        return self._found("train")

    def _found(self, split: str) -> bool:
        from glassnet.datasets import mnist

        try:
            return mnist.locate(split, self.data_dir) is not None
        except mnist.DatasetError:
            return False

    def test_set(self) -> tuple[np.ndarray, np.ndarray, str]:
        with self._lock:
            if self._test is None:
                self._test = self._load("test", sample=False)
            return self._test

    def train_set(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        return self._load("train", sample=which == "sample")[:2]

    def _load(self, split: str, sample: bool) -> tuple[np.ndarray, np.ndarray, str]:
        from glassnet.datasets import mnist

        if not sample and not self._found(split):
            sample = True
        return mnist.load(split, self.data_dir, download=False, sample=sample, return_source=True)

    def pick(self, entry: ModelEntry, kind: str, seed: int | None) -> dict[str, Any]:
        """A random test digit, or one that ``entry`` gets wrong, with its label and the model's guess."""
        X, y, source = self.test_set()
        rng = np.random.default_rng(seed)
        if kind == "random":
            pool = np.arange(len(y))
        elif kind == "misclassified":
            pool = entry.misclassified(X, y)
            if pool.size == 0:
                raise ApiError(404, f"model {entry.name!r} gets every test digit right")
        else:
            raise ApiError(400, f"kind must be 'random' or 'misclassified', got {kind!r}")
        i = int(pool[rng.integers(pool.size)])
        return {"index": i, "label": int(y[i]), "pixels": rounded(X[i], 4), "source": source,
                "misclassified_count": int(entry.misclassified(X, y).size) if kind == "misclassified" else None}
