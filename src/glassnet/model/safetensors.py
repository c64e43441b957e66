"""The safetensors format, written and read with NumPy only: a second data-only model file, with readers in
many languages (https://github.com/huggingface/safetensors).

    8 bytes: N (little-endian unsigned 64-bit) | N bytes: a JSON header | the tensors' bytes, back to back

The header maps each tensor's name to {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]} (byte
offsets after the header) and "__metadata__" to a map of strings; glassnet keeps its JSON config there as
"glassnet_config". ``read`` checks the whole header before it trusts any of it: sizes, names, dtypes, shapes
and offsets that tile the data exactly, as the format requires.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

CONFIG_KEY = "__config__"
"""The key under which ``glassnet.io`` passes its JSON config (a 0-d string array, as in the .npz files)."""
METADATA_KEY = "glassnet_config"

DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16, "U32": np.uint32,
          "I32": np.int32, "U64": np.uint64, "I64": np.int64, "F16": np.float16, "F32": np.float32,
          "F64": np.float64}
CODES = {np.dtype(t): code for code, t in DTYPES.items()}
MAX_HEADER = 100 * 1024 * 1024
"""Largest header accepted (the reference implementation's limit)."""


def write(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` (with the config under ``CONFIG_KEY``) to ``path``, atomically."""
    from glassnet._base.files import atomic_write

    arrays = dict(arrays)
    header: dict[str, object] = {"__metadata__": {METADATA_KEY: str(arrays.pop(CONFIG_KEY))}}
    blobs, offset = [], 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        if a.dtype not in CODES:
            raise ValueError(f"safetensors cannot hold {name} of dtype {a.dtype}")
        blobs.append(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
        header[name] = {"dtype": CODES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned

    def put(f) -> None:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)

    atomic_write(path, put)


def read(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a safetensors file, its glassnet config under ``CONFIG_KEY``; ValueError if malformed."""
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise ValueError(f"{len(data)} bytes is too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > min(MAX_HEADER, len(data) - 8):
        raise ValueError(f"header size {n} does not fit a file of {len(data)} bytes")
    try:
        header = json.loads(data[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ValueError("__metadata__ must map names to strings")
    body = memoryview(data)[8 + n:]
    arrays, spans = {}, []
    for name, info in header.items():
        arrays[name], span = _tensor(name, info, body)
        spans.append(span)
    spans.sort()
    ends = [0] + [end for _, end in spans]
    if any(begin != end for (begin, _), end in zip(spans, ends, strict=False)) or ends[-1] != len(body):
        raise ValueError("tensor data offsets do not tile the data exactly (holes or overlaps)")
    if METADATA_KEY in meta:
        arrays[CONFIG_KEY] = np.array(meta[METADATA_KEY])
    return arrays


def _tensor(name: str, info: object, body: memoryview) -> tuple[np.ndarray, tuple[int, int]]:
    """One tensor from its header entry, checked; with its (begin, end) byte span."""
    ok = isinstance(info, dict) and set(info) == {"dtype", "shape", "data_offsets"}
    shape, offsets = (info.get("shape"), info.get("data_offsets")) if ok else (None, None)
    ok = (ok and info["dtype"] in DTYPES and isinstance(shape, list) and isinstance(offsets, list) and len(offsets) == 2
          and all(type(d) is int and d >= 0 for d in shape + offsets))
    if not ok:
        raise ValueError(f"tensor {name!r}: malformed header entry {info!r}")
    dtype = np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")
    begin, end = offsets
    if end - begin != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize or not begin <= end <= len(body):
        raise ValueError(f"tensor {name!r}: offsets {offsets} do not hold shape {shape} of {info['dtype']} in "
                         f"{len(body)} bytes of data")
    if end == begin:
        return np.zeros(shape, dtype.newbyteorder("=")), (begin, end)
    a = np.frombuffer(body, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=begin).reshape(shape)
    return a.astype(dtype.newbyteorder("="), copy=False), (begin, end)
