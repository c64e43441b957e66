"""The digit page's *Why?* lens: why a model gave its answer for a drawing, what its units look for, and the
smallest nudge of the drawing that makes it change its mind. Every number comes from ``glassnet.explain``:

    POST /api/why            the attribution over the 28x28 input for class k (ig, saliency, gradxinput,
                             occlusion) and a^l * d f_k / d a^l on the units of every layer (per channel for a
                             convolution, per row, h_t * df/dh_t summed over the units, for a recurrent layer)
    POST /api/why/fool       the least eps (bisection) whose FGSM or PGD nudge changes the answer, the nudged
                             digit and the new answer
    POST /api/why/looks-for  explain.maximize of one unit, computed on demand, cached per model version, layer
                             and unit (bounded)

An explanation sets flags on the model's layers and overwrites what they kept of the last pass, so each runs under
the model's lock, as ``predict`` does; the live model is a twin that the training thread only copies weights into
under the same lock.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from glassnet._base.blas import one_thread
from glassnet.playground.digits import PIXELS, ModelEntry, _probabilities
from glassnet.playground.inputs import number_list, read_json
from glassnet.playground.wire import ApiError, pack_signed, pack_unit, rounded

METHODS = ("ig", "saliency", "gradxinput", "occlusion")
IG_STEPS = 50
FOOL_METHODS = ("fgsm", "pgd")
MAX_EPS = 0.5
"""The largest nudge Fool it tries by default (a request may ask for up to 1)."""
LOOKS_FOR_STEPS = 200
LOOKS_FOR_CACHED = 256
"""Pictures of what a unit looks for kept per model (least recently used dropped first)."""
SKIPPED = ("Reshape", "Flatten")


def _signif(a: np.ndarray, digits: int = 4) -> list[float]:
    """Values with ``digits`` significant digits (attributions span many orders of magnitude)."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(a, dtype=np.float64).ravel()]


def _shown_layers(entry: ModelEntry) -> list[int]:
    """The layers whose units the lens colours: all but the last, the identities and the reshapes."""
    layers = entry.model.layers
    return [i for i, layer in enumerate(layers[:-1])
            if not layer.identity_at_inference and type(layer).__name__ not in SKIPPED
            and len(layer.output_shape) in (1, 2, 3)]


def _layer_record(index: int, layer: Any, attr: np.ndarray) -> dict[str, Any]:
    """One layer's attribution, per unit (dense), per channel (summed over its map) or, for a recurrent layer
    (n, T, H), per unit (summed over the steps) and per step (summed over the units)."""
    rec: dict[str, Any] = {"index": index, "name": layer.name, "class": type(layer).__name__}
    if getattr(layer, "n_hidden", None) and attr.ndim == 2:  # recurrent: (T, H)
        rec.update(kind="steps", values=_signif(attr.sum(axis=0)), steps=_signif(attr.sum(axis=1)))
    elif attr.ndim == 3:  # feature maps (C, H, W)
        rec.update(kind="channels", values=_signif(attr.sum(axis=(1, 2))))
    else:
        rec.update(kind="units", values=_signif(attr.ravel()))
    return rec


def why(entry: ModelEntry, x: np.ndarray, method: str, target: int | None) -> dict[str, Any]:
    """The lens for one 784-pixel image: the input attribution for class ``target`` (None: the predicted one)
    and the attribution on the units of every shown layer."""
    from glassnet import explain

    model = entry.model
    X = x[None, :].astype(model.dtype, copy=False)
    with entry.lock, one_thread:
        version = entry.version
        outputs = np.asarray(model.forward(X)[0], dtype=np.float64)
        k = int(np.argmax(outputs)) if target is None else target
        attr = explain.attribute(model, X, method, k, steps=IG_STEPS)[0]
        layers = [_layer_record(i, model.layers[i], explain.layer_attribution(model, X, i, k)[0])
                  for i in _shown_layers(entry)]
    packed, m = pack_signed(attr.reshape(28, 28))
    return {"model": entry.name, "version": version, "method": method, "target": k,
            "prediction": int(np.argmax(outputs)), "probabilities": rounded(_probabilities(model, outputs), 5),
            "attribution": {"d": packed, "m": float(f"{m:.4g}"), "total": float(f"{attr.sum():.4g}")},
            "layers": layers}


def fool(entry: ModelEntry, x: np.ndarray, method: str, max_eps: float) -> dict[str, Any]:
    """The smallest nudge of ``method`` within ``max_eps`` that changes the model's answer (found by bisection to
    1e-3, then grown by 10% while the rounded digit still fools it), the nudged digit and the new answer."""
    from glassnet import explain

    model = entry.model
    X = x[None, :].astype(model.dtype, copy=False)
    with entry.lock, one_thread:
        version = entry.version
        before = int(np.argmax(model.forward(X)[0]))
        try:
            eps = float(explain.minimal_eps(model, X, method=method, max_eps=max_eps, tol=1e-3)[0])
        except ValueError as e:  # a model without a loss to attack
            raise ApiError(422, f"cannot fool {entry.name!r}: {e}") from None
        out: dict[str, Any] = {"model": entry.name, "version": version, "method": method, "before": before,
                               "max_eps": max_eps, "fooled": False}
        if not np.isfinite(eps):
            return out
        for tried in (min(max_eps, 1.1 * eps), eps):  # a little past the boundary survives rounding
            nudged = np.round(explain.adversarial(model, X, eps=tried, method=method)[0].astype(np.float64), 4)
            outputs = np.asarray(model.forward(nudged[None].astype(model.dtype))[0], dtype=np.float64)
            if int(np.argmax(outputs)) != before:
                break
        else:
            return out
    return {**out, "fooled": True, "eps": round(tried, 4), "after": int(np.argmax(outputs)),
            "probabilities": rounded(_probabilities(model, outputs), 5), "pixels": nudged.tolist(),
            "change": round(float(np.abs(nudged - x).max()), 4)}


class _Pictures:
    """What units look for, per model (weakly: a replaced model's pictures go with it), each model's bounded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_model: weakref.WeakKeyDictionary[ModelEntry, OrderedDict] = weakref.WeakKeyDictionary()

    def get(self, entry: ModelEntry, key: tuple[int, int, int]) -> Any:
        with self._lock:
            cache = self._by_model.get(entry)
            if cache is None or key not in cache:
                return None
            cache.move_to_end(key)
            return cache[key]

    def put(self, entry: ModelEntry, key: tuple[int, int, int], value: Any) -> None:
        with self._lock:
            cache = self._by_model.setdefault(entry, OrderedDict())
            cache[key] = value
            while len(cache) > LOOKS_FOR_CACHED:
                cache.popitem(last=False)


class Lens:
    """The lens's state: the cache of what units look for."""

    def __init__(self) -> None:
        self.pictures = _Pictures()

    def looks_for(self, entry: ModelEntry, layer: int, unit: int) -> dict[str, Any]:
        """explain.maximize of ``unit`` of ``layer`` as a 28x28 picture in [0, 1] (cached per version), with
        the unit's value there (its z, a channel's mean activation)."""
        from glassnet import explain

        layers = entry.model.layers
        if not 0 <= layer < len(layers):
            raise ApiError(404, f"model {entry.name!r} has layers 0..{len(layers) - 1}, not {layer}")
        chosen = layers[layer]
        shape = chosen.output_shape
        width = shape[-1] if getattr(chosen, "n_hidden", None) and len(shape) == 2 else shape[0]
        if not 0 <= unit < width:
            raise ApiError(404, f"layer {layer} ({chosen.name}) has units 0..{width - 1}, not {unit}")
        key = (entry.version, layer, unit)
        cached = self.pictures.get(entry, key)
        if cached is not None:
            return {**cached, "cached": True}
        with entry.lock, one_thread:
            version = entry.version
            picture = explain.maximize(entry.model, layer, unit, steps=LOOKS_FOR_STEPS)
        out = {"model": entry.name, "version": version, "layer": layer, "name": chosen.name, "unit": unit,
               "picture": pack_unit(picture.reshape(28, 28))}
        self.pictures.put(entry, (version, layer, unit), out)
        return {**out, "cached": False}


# ----------------------------------------------------------------------------- routes
def _fields(body: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}; expected {', '.join(allowed)}")
    missing = [name for name in required if name not in body]
    if missing:
        raise ApiError(400, f"missing field {missing[0]!r}; expected {', '.join(required)}")


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ApiError(400, f"{name} must be one of {', '.join(choices)}, got {value!r}"[:200])
    return value


def _whole(value: Any, name: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        span = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ApiError(400, f"{name} must be a whole number {span}, got {value!r}"[:200])
    return value


def _pixels(body: dict[str, Any]) -> np.ndarray:
    return number_list(body["pixels"], "pixels", PIXELS, 0.0, 1.0)


async def why_route(request: Request) -> Response:
    body = await read_json(request)
    _fields(body, ("model", "pixels", "method", "target"), ("pixels",))
    entry = request.app.state.pg.models.get(body.get("model"))
    method = _choice(body.get("method", "ig"), "method", METHODS)
    target = body.get("target")
    if target is not None:
        target = _whole(target, "target", 0, 9)
    return JSONResponse(await run_in_threadpool(lambda: why(entry, _pixels(body), method, target)))


async def fool_route(request: Request) -> Response:
    body = await read_json(request)
    _fields(body, ("model", "pixels", "method", "max_eps"), ("pixels",))
    entry = request.app.state.pg.models.get(body.get("model"))
    method = _choice(body.get("method", "fgsm"), "method", FOOL_METHODS)
    max_eps = body.get("max_eps", MAX_EPS)
    if isinstance(max_eps, bool) or not isinstance(max_eps, int | float) or not 0 < max_eps <= 1:
        raise ApiError(400, f"max_eps must be a number in (0, 1], got {max_eps!r}"[:200])
    return JSONResponse(await run_in_threadpool(lambda: fool(entry, _pixels(body), method, float(max_eps))))


async def looks_for_route(request: Request) -> Response:
    body = await read_json(request)
    _fields(body, ("model", "layer", "unit"), ("layer", "unit"))
    pg = request.app.state.pg
    entry = pg.models.get(body.get("model"))
    layer, unit = _whole(body["layer"], "layer", 0), _whole(body["unit"], "unit", 0)
    return JSONResponse(await run_in_threadpool(pg.lens.looks_for, entry, layer, unit))


def routes() -> list[Route]:
    return [Route("/api/why", why_route, methods=["POST"]), Route("/api/why/fool", fool_route, methods=["POST"]),
            Route("/api/why/looks-for", looks_for_route, methods=["POST"])]
