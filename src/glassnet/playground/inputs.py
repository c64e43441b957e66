"""What the server accepts: bounded request bodies, JSON objects, lists of numbers in a range, drawings prepared
as ``glassnet predict`` prepares pictures, whole-number query parameters. Every refusal is an ``ApiError`` with
a 4xx status and one line.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

import numpy as np
from starlette.requests import Request

from glassnet.playground.digits import PIXELS
from glassnet.playground.security import DRAIN_BYTES
from glassnet.playground.wire import ApiError

MAX_JSON_BYTES = 1 << 20  # 1 MiB: a drawing, a state, 10,000 points
MAX_UPLOAD_BYTES = 4 << 20  # 4 MiB: a CSV of 10,000 rows or an exported network, with room to spare
MAX_IMAGE_SIDE = 1024


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, at most ``limit`` bytes; a larger one is read and discarded (up to DRAIN_BYTES, so
    that the client, still sending, reads the 413 rather than a reset connection) and refused."""
    text = request.headers.get("content-length", "")
    declared = int(text) if text.isdigit() else None
    if declared is not None and declared > max(limit, DRAIN_BYTES):  # too large even to discard
        raise ApiError(413, f"request body of {declared:,} bytes is over the limit of {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN_BYTES:
            break
        if size <= limit:
            chunks.append(chunk)
    if declared is not None and declared > limit:
        raise ApiError(413, f"request body of {declared:,} bytes is over the limit of {limit:,}")
    if size > limit:
        raise ApiError(413, f"request body is over the limit of {limit:,} bytes")
    return b"".join(chunks)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


async def read_json(request: Request, required: bool = True) -> Any:
    body = await read_body(request, MAX_JSON_BYTES)
    if not body.strip():
        if required:
            raise ApiError(400, "expected a JSON object in the request body, got nothing")
        return {}
    try:
        value = json.loads(body, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"the request body is not valid JSON: {str(e).splitlines()[0]}") from None
    if not isinstance(value, dict):
        raise ApiError(400, f"expected a JSON object, got {type(value).__name__}")
    return value


def number_list(value: Any, name: str, length: int, lo: float, hi: float) -> np.ndarray:
    if not isinstance(value, list) or len(value) != length:
        got = f"{len(value)} values" if isinstance(value, list) else type(value).__name__
        raise ApiError(400, f"{name} must be a list of {length} numbers, got {got}")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        bad = next(v for v in value if not isinstance(v, int | float) or isinstance(v, bool))
        raise ApiError(400, f"{name} must hold numbers only, got {json.dumps(bad)[:20]}")
    arr = np.asarray(value, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ApiError(400, f"{name} must be finite numbers")
    if arr.min() < lo or arr.max() > hi:
        raise ApiError(400, f"{name} must lie in [{lo:g}, {hi:g}], got values from {arr.min():g} to {arr.max():g}")
    return arr


def drawing(image: Any) -> np.ndarray:
    """A raw grey drawing {"width", "height", "data": base64 bytes, ink bright} through the preprocessing of
    ``glassnet predict``: ink box scaled to 20x20, centred by mass in 28x28."""
    from glassnet.data.images import ImageError, preprocess_digit

    if not isinstance(image, dict) or set(image) != {"width", "height", "data"}:
        raise ApiError(400, 'image must be an object {"width": w, "height": h, "data": base64 of w*h grey bytes}')
    w, h = image["width"], image["height"]
    if not all(isinstance(v, int) and not isinstance(v, bool) and 8 <= v <= MAX_IMAGE_SIDE for v in (w, h)):
        raise ApiError(400, f"image width and height must be whole numbers in [8, {MAX_IMAGE_SIDE}], got {w!r}, {h!r}")
    try:
        raw = base64.b64decode(image["data"], validate=True) if isinstance(image["data"], str) else None
    except binascii.Error:
        raw = None
    if raw is None or len(raw) != w * h:
        raise ApiError(400, f"image data must be base64 of {w * h:,} bytes (width x height)")
    grey = np.frombuffer(raw, dtype=np.uint8).reshape(h, w)
    try:
        return preprocess_digit(grey).astype(np.float64)
    except ImageError as e:
        raise ApiError(422, str(e)) from None


def int_query(request: Request, name: str, default: int | None) -> int | None:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, f"query parameter {name} must be a whole number, got {text!r}") from None


def check_digit_body(body: dict[str, Any]) -> None:
    """A digit comes as exactly one of ``pixels`` (784 numbers) or ``image`` (a raw drawing)."""
    if ("pixels" in body) == ("image" in body):
        raise ApiError(400, f"give either pixels ({PIXELS} numbers in 0..1, row-major, ink = 1) or image")


def answer_digit(body: dict[str, Any], inspect: Callable[[np.ndarray], dict[str, Any]]) -> dict[str, Any]:
    """``inspect(x)`` of the digit in ``body``, with the 784 pixels the model saw as ``input`` (run it off the
    event loop)."""
    x = digit_input(body)
    out = inspect(x)
    out["input"] = np.round(x, 4).tolist()
    return out


def digit_input(body: dict[str, Any]) -> np.ndarray:
    """The 784 pixels a model sees, from a body that ``check_digit_body`` accepted (run it off the event loop:
    a drawing is preprocessed)."""
    return number_list(body["pixels"], "pixels", PIXELS, 0.0, 1.0) if "pixels" in body else drawing(body["image"])
