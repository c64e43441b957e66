"""Model files: one ``.npz`` holding the weights and a versioned JSON config of the architecture, or the same
in a ``.safetensors`` file (the config in its metadata; see ``glassnet._safetensors``). Data only: no pickle is
ever read and loading never executes code.

Keys: ``__config__`` (the JSON text) and ``layer{i}.{name}`` (e.g. ``layer0.W``) for the layers' parameters
and non-trainable buffers (e.g. running statistics).

Loading trusts nothing in the file. The zip members are read with bounded memory (each ``.npy`` header
is checked against the member's size before its data is read); the config is checked against a strict
schema (:mod:`glassnet._base.schema`: types, ranges, known keys, the layer list); every array's dtype, shape and
values are checked against the config before the model is built. Whatever is wrong raises
:class:`ModelFileError` with one line.

Writes go to a temporary file in the same folder, then ``os.replace``: a crash, a full disk or a
read-only folder never leaves half a file, and never harms the file already there.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from glassnet._base import schema
from glassnet._base.files import write_npz
from glassnet._base.schema import Choice, Dict, Float, Int, IntList, List, Optional, Record, SchemaError, Str
from glassnet.model import safetensors as _safetensors
from glassnet.nn.layers import LAYERS
from glassnet.nn.losses import smoothed_loss
from glassnet.optim import optimizer_classes

if TYPE_CHECKING:
    from glassnet.model.sequential import Sequential
    from glassnet.nn.layers import Layer

FORMAT = "glassnet.Sequential"
FORMAT_VERSION = 1
MAX_VALUES_PER_SAMPLE = 1 << 24
"""A layer whose output would hold more values than this per sample is refused when loading."""
_MAX_RATIO = 100
"""Compressed members may not claim more than this many times the file's size (and 64 MiB): no zip bombs."""

_READ_ERRORS = (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile, NotImplementedError,
                RuntimeError, SyntaxError, OverflowError, MemoryError, struct.error)
"""What zipfile and numpy's .npy header parser raise on damaged bytes."""


class ModelFileError(ValueError):
    """A model file that is missing, corrupt, or not one this version of glassnet can read."""


# ----------------------------------------------------------------------------- writing
def model_config(model: Sequential) -> dict[str, Any]:
    """The JSON-compatible description of ``model``'s architecture and compile settings."""
    from glassnet._base.version import __version__

    compiled = None
    if model.loss is not None:
        compiled = {"loss": model.loss.key, "metrics": model.metrics, "l1": model.l1, "l2": model.l2,
                    "optimizer": {"class": type(model.optimizer).__name__,
                                  "config": model.optimizer.get_config()}}
        if getattr(model.loss, "label_smoothing", 0.0):
            compiled["label_smoothing"] = model.loss.label_smoothing
    return {
        "format": FORMAT, "version": FORMAT_VERSION, "glassnet_version": __version__,
        "dtype": model.dtype.name, "input_shape": list(model.input_shape),
        "layers": [{"class": type(layer).__name__, "config": layer.get_config()} for layer in model.layers],
        "compile": compiled, "meta": model.meta,
    }


def save(model: Sequential, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` (the name is kept as given; ``.npz`` is the usual suffix, ``.safetensors``
    writes that format)."""
    arrays = {"__config__": np.array(json.dumps(model_config(model))), **dict(model.named_arrays())}
    if Path(path).suffix == ".safetensors":  # the same arrays, the config in the metadata
        return _safetensors.write(path, arrays)
    write_npz(path, arrays)


# ----------------------------------------------------------------------------- reading
def read_npz(path: str | os.PathLike, error: type[ValueError] = ModelFileError,
             what: str = "model file") -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file (read-only views), read with bounded memory: each member's ``.npy``
    header must agree with the member's size before its data is read, object (pickled) arrays are refused,
    and the zip's checksums are verified. Raises ``error`` with one line."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{path} is a directory, not a {what}")
    if not path.is_file():
        raise error(f"{path}: no such {what}")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            claimed = sum(i.file_size for i in infos if i.compress_type != zipfile.ZIP_STORED)
            if claimed > max(64 << 20, _MAX_RATIO * path.stat().st_size):
                raise ValueError(f"compressed members claim {claimed:,} bytes, too many for a file of this size")
            arrays = {}
            for info in infos:
                key = info.filename.removesuffix(".npy")
                if key == info.filename or key in arrays:
                    raise ValueError(f"unexpected member {info.filename!r}")
                with zf.open(info) as f:
                    arrays[key] = _read_member(f, info)
    except _READ_ERRORS as e:
        raise error(f"{path}: not a readable glassnet {what} ({_damage(e)})") from None
    return arrays


def _read_member(f: IO[bytes], info: zipfile.ZipInfo) -> np.ndarray:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f"{info.filename}: unsupported .npy version {version}")
    if dtype.hasobject or dtype.kind not in "biufU" or dtype.fields is not None:
        raise ValueError(f"{info.filename}: arrays of dtype {dtype} are not allowed")
    nbytes = math.prod(shape) * dtype.itemsize
    if info.file_size != f.tell() + nbytes:
        raise ValueError(f"{info.filename}: header says {shape} {dtype} ({nbytes:,} bytes), the member holds "
                         f"{info.file_size - f.tell():,}")
    data = f.read(nbytes)
    if len(data) != nbytes or f.read(1):
        raise ValueError(f"{info.filename}: {len(data):,} data bytes, the header needs {nbytes:,}")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:200] or type(e).__name__


def _damage(e: BaseException) -> str:
    """What is wrong with a damaged file, in words: zipfile's "File is not a zip file" rather than
    "BadZipFile: File is not a zip file"; the exception's name only when it says nothing else."""
    text = _one_line(e)
    if isinstance(e, zipfile.BadZipFile) and text != type(e).__name__:
        return text[0].lower() + text[1:]
    return text


def parse_json(text: np.ndarray, what: str) -> Any:
    """The JSON text stored as a 0-d string array (the schema refuses NaN and infinity where numbers
    must be finite; free-form ``meta`` may hold them)."""
    if not isinstance(text, np.ndarray) or text.dtype.kind != "U" or text.shape != ():
        raise ValueError(f"{what} must be one string, got an array of {text.dtype} with shape {text.shape}")
    try:
        return json.loads(str(text))
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply") from None


def _losses() -> list[str]:
    from glassnet.nn.losses import LOSSES

    return list(LOSSES)


CONFIG_SCHEMA = Record({
    "format": Str(), "version": Int(1), "glassnet_version": Str(), "dtype": Choice(("float32", "float64")),
    "input_shape": IntList(1),
    "layers": List(Record({"class": Choice(lambda: LAYERS, "layer type"), "config": Dict()}), 1),
    "compile": Optional(Record({
        "loss": Choice(_losses, "loss"), "metrics": List(Choice(("accuracy",))), "l1": Float(0), "l2": Float(0),
        "optimizer": Record({"class": Choice(optimizer_classes, "optimizer"), "config": Dict()}),
        "label_smoothing": Float(0, 1, high_open=True)},
        required=("loss", "metrics", "l1", "l2", "optimizer"))),
    "meta": Dict(),
}, required=("format", "version", "dtype", "input_shape", "layers"))
"""The top level of a model file's config; each layer's and the optimiser's config have their own schema."""


def check_model_config(cfg: Any, where: str = "config") -> dict[str, Any]:
    """``cfg`` checked against the model-file schema, down to every layer's and the optimiser's settings
    (raises SchemaError naming the bad value). A newer format version is refused first, by name."""
    if not isinstance(cfg, dict):
        raise SchemaError(f"{where} must be an object, got {type(cfg).__name__}")
    if cfg.get("format") != FORMAT:
        raise SchemaError(f"format {cfg.get('format')!r} is not {FORMAT!r}")
    version = cfg.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise SchemaError(f"written in format version {version} by a newer glassnet; this glassnet reads up "
                          f"to version {FORMAT_VERSION} (upgrade glassnet)")
    cfg = CONFIG_SCHEMA.check(cfg, where)
    for i, spec in enumerate(cfg["layers"]):
        cls = LAYERS[spec["class"]]
        fields, required = cls.config_fields()
        schema.check_config(fields, required, spec["config"], f"layers[{i}] ({spec['class']})")
    if cfg.get("compile"):
        opt = cfg["compile"]["optimizer"]
        fields, required = optimizer_classes()[opt["class"]].config_fields()
        schema.check_config(fields, required, opt["config"], f"optimizer ({opt['class']})")
    return cfg


def load(path: str | os.PathLike) -> Sequential:
    """Read a model written by ``save``, or import an ``.onnx`` file (:func:`glassnet.onnx.load`, verified against
    ONNX Runtime, each sample flattened as glassnet's digit models take it; needs the onnx extra); raises
    ``ModelFileError`` (one line) for anything that is not a valid model."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        from glassnet._base.extras import require_extra

        require_extra("onnx", "onnx", f"reading {path.name}")
        require_extra("onnxruntime", "onnx", f"reading {path.name}")
        from glassnet.onnx.importer import load as load_onnx

        return load_onnx(path, flatten_input=True)
    if path.suffix == ".safetensors":
        if path.is_dir():
            raise ModelFileError(f"{path} is a directory, not a model file")
        if not path.is_file():
            raise ModelFileError(f"{path}: no such model file")
        try:
            arrays = _safetensors.read(path)
        except (OSError, ValueError) as e:
            raise ModelFileError(f"{path}: not a readable glassnet model file ({_damage(e)})") from None
    else:
        arrays = read_npz(path)
    if "__config__" not in arrays:
        raise ModelFileError(f"{path}: no glassnet config inside (is it a glassnet model file?)")
    try:
        cfg = check_model_config(parse_json(arrays.pop("__config__"), "the config"))
    except (SchemaError, ValueError) as e:
        raise ModelFileError(f"{path}: {_one_line(e)}") from None
    try:
        return build_model(cfg, arrays)
    except ModelFileError as e:
        raise ModelFileError(f"{path}: {e}") from None


def build_model(cfg: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> Sequential:
    """The model of a checked config, with its arrays checked (names, dtype, shape, finite values) before
    anything large is allocated; raises ModelFileError."""
    from glassnet.model.sequential import Sequential

    dtype = np.dtype(cfg["dtype"])
    try:
        layers = [LAYERS[spec["class"]].from_config(spec["config"]) for spec in cfg["layers"]]
        _check_arrays(layers, tuple(cfg["input_shape"]), dtype, arrays)
        model = Sequential(layers, dtype=dtype, input_shape=tuple(cfg["input_shape"]))
    except (ValueError, TypeError, KeyError, IndexError) as e:
        if isinstance(e, ModelFileError):
            raise
        raise ModelFileError(f"the architecture cannot be built ({type(e).__name__}: {_one_line(e)})") from None
    for key, value in model.named_arrays():
        if key not in arrays or arrays[key].shape != value.shape:  # a layer whose array_shapes is wrong
            raise ModelFileError(f"array {key} does not fit the built layer (expected shape {value.shape})")
        value[...] = arrays[key]
    model.meta = cfg.get("meta") or {}
    if cfg.get("compile"):
        c = cfg["compile"]
        opt = c["optimizer"]
        try:
            optimizer = optimizer_classes()[opt["class"]](**opt["config"])
            loss = smoothed_loss(c["loss"], c.get("label_smoothing", 0.0))
            model.compile(loss=loss, optimizer=optimizer, metrics=c["metrics"], l1=c["l1"], l2=c["l2"])
        except (ValueError, TypeError) as e:
            raise ModelFileError(f"bad compile settings ({_one_line(e)})") from None
    return model


def _check_arrays(layers: list[Layer], input_shape: tuple[int, ...], dtype: np.dtype,
                  arrays: Mapping[str, np.ndarray]) -> None:
    """Every array the layers need is there, of the model's dtype, the right shape and finite, and no
    other is: checked from the config alone, so nothing is allocated for a file that lies."""
    shape, expected = input_shape, set()
    _check_size(shape, "the input")
    for i, layer in enumerate(layers):
        for name, want in layer.array_shapes(shape).items():
            key = f"layer{i}.{name}"
            expected.add(key)
            if key not in arrays:
                raise ModelFileError(f"array {key} is missing")
            a = arrays[key]
            if a.dtype != dtype or a.shape != tuple(want):
                raise ModelFileError(f"array {key} must be {dtype} of shape {tuple(want)}, got {a.dtype} of "
                                     f"shape {a.shape}")
            if not np.isfinite(a).all():
                raise ModelFileError(f"array {key} holds NaN or infinite values")
        shape = tuple(layer.compute_output_shape(shape))
        _check_size(shape, f"layer {i} ({type(layer).__name__})")
    extra = sorted(set(arrays) - expected)
    if extra:
        raise ModelFileError(f"unexpected array {extra[0]} (the layers need {len(expected)} arrays)")


def _check_size(shape: tuple[int, ...], what: str) -> None:
    if math.prod(shape) > MAX_VALUES_PER_SAMPLE:
        raise ModelFileError(f"{what} would give {math.prod(shape):,} values per sample (shape {shape}); "
                             f"at most {MAX_VALUES_PER_SAMPLE:,} are allowed")
