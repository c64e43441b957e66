"""Model files: one ``.npz`` (loaded with ``allow_pickle=False``) holding the weights and a
versioned JSON config of the architecture, or the same in a ``.safetensors`` file (the config in its
metadata; see ``glassnet._safetensors``). Data only: loading never executes code.

Keys: ``__config__`` (the JSON text) and ``layer{i}.{param}`` (e.g. ``layer0.W``) for the weights and the
layers' non-trainable buffers (e.g. running statistics).
Writes go to a temporary file in the same folder, then ``os.replace``: a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet import _safetensors
from glassnet.layers import LAYERS

if TYPE_CHECKING:
    from glassnet.model import Sequential

FORMAT = "glassnet.Sequential"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file that is missing, corrupt, or not one this version of glassnet can read."""


def model_config(model: Sequential) -> dict[str, Any]:
    """The JSON-compatible description of ``model``'s architecture and compile settings."""
    from glassnet import __version__

    compiled = None
    if model.loss is not None:
        compiled = {"loss": model.loss.key, "metrics": model.metrics, "l1": model.l1, "l2": model.l2,
                    "optimizer": {"class": type(model.optimizer).__name__,
                                  "config": model.optimizer.get_config()}}
    return {
        "format": FORMAT, "version": FORMAT_VERSION, "glassnet_version": __version__,
        "dtype": model.dtype.name, "input_shape": list(model.input_shape),
        "layers": [{"class": type(layer).__name__, "config": layer.get_config()} for layer in model.layers],
        "compile": compiled, "meta": model.meta,
    }


def atomic_write(path: str | os.PathLike, write: Any, suffix: str = ".tmp") -> None:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(model: Sequential, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` (the name is kept as given; ``.npz`` is the usual suffix, ``.safetensors``
    writes that format)."""
    arrays = {"__config__": np.array(json.dumps(model_config(model)))}
    for i, layer in enumerate(model.layers):
        for p in layer.params:
            arrays[f"layer{i}.{p.name}"] = p.value
        for name, value in layer.buffers.items():
            arrays[f"layer{i}.{name}"] = value
    if Path(path).suffix == ".safetensors":  # the same arrays, the config in the metadata
        return _safetensors.write(path, arrays)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load(path: str | os.PathLike) -> Sequential:
    """Read a model written by ``save``; raises ``ModelFileError`` (one line) for a bad file."""
    from glassnet.model import Sequential

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        if path.suffix == ".safetensors":
            arrays = _safetensors.read(path)
        else:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise ModelFileError(f"{path}: not a readable glassnet model file ({type(e).__name__}: {e})") from e
    if "__config__" not in arrays:
        raise ModelFileError(f"{path}: no glassnet config inside (is it a glassnet model file?)")
    try:
        cfg = json.loads(str(arrays.pop("__config__")))
        fmt, version = cfg["format"], int(cfg["version"])
    except (ValueError, KeyError, TypeError) as e:
        raise ModelFileError(f"{path}: corrupt glassnet config ({e})") from e
    if fmt != FORMAT:
        raise ModelFileError(f"{path}: format {fmt!r} is not {FORMAT!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: written in format version {version} by a newer glassnet; this "
                             f"glassnet reads up to version {FORMAT_VERSION} (upgrade glassnet)")
    try:
        layers = []
        for spec in cfg["layers"]:
            if spec["class"] not in LAYERS:
                raise ModelFileError(f"{path}: unknown layer type {spec['class']!r}; known: "
                                     f"{', '.join(sorted(LAYERS))}")
            layers.append(LAYERS[spec["class"]](**spec["config"]))
        model = Sequential(layers, dtype=cfg["dtype"], input_shape=tuple(cfg["input_shape"]))
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, ModelFileError):
            raise
        raise ModelFileError(f"{path}: corrupt architecture in config ({type(e).__name__}: {e})") from e
    for i, layer in enumerate(model.layers):
        for p in layer.params:
            key = f"layer{i}.{p.name}"
            if key not in arrays:
                raise ModelFileError(f"{path}: weight {key} is missing")
            if arrays[key].shape != p.value.shape:
                raise ModelFileError(f"{path}: weight {key} has shape {arrays[key].shape}, "
                                     f"the architecture needs {p.value.shape}")
            p.value[...] = arrays[key]
        for name, value in layer.buffers.items():
            key = f"layer{i}.{name}"
            if key not in arrays or arrays[key].shape != value.shape:
                raise ModelFileError(f"{path}: buffer {key} is missing or has the wrong shape")
            value[...] = arrays[key]
    model.meta = cfg.get("meta") or {}
    if cfg.get("compile"):
        c = cfg["compile"]
        from glassnet.optim import OPTIMIZERS

        opt_cls = OPTIMIZERS.get(c["optimizer"]["class"].lower())
        optimizer = opt_cls(**c["optimizer"]["config"]) if opt_cls else "sgd"
        model.compile(loss=c["loss"], optimizer=optimizer, metrics=c["metrics"], l1=c["l1"], l2=c["l2"])
    return model
