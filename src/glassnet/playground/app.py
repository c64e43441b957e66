"""The playground's web application (Starlette): the pages, the static files and the HTTP API.

Handlers read and check the request (bounded bodies, one-line JSON errors with a 4xx status), then run
glassnet in a worker thread so the event loop keeps serving the streams.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from glassnet.playground import frames, lab, live, why
from glassnet.playground.channel import event_stream
from glassnet.playground.digits import PIXELS, DigitData, Models
from glassnet.playground.runs import Runs
from glassnet.playground.runs import routes as run_routes
from glassnet.playground.security import DRAIN_BYTES, Policy, SecurityMiddleware
from glassnet.playground.wire import ApiError

STATIC = Path(__file__).with_name("static")
MAX_JSON_BYTES = 1 << 20  # 1 MiB: a drawing, a state, 10,000 points
MAX_UPLOAD_BYTES = 4 << 20  # 4 MiB: a CSV of 10,000 rows or an exported network, with room to spare
MAX_IMAGE_SIDE = 1024
PAGES = {"/": "index.html", "/playground": "playground.html", "/train": "train.html", "/runs": "runs.html"}


class Playground:
    """Everything the server holds: the models, the test digits, the 2-D sessions, the live training."""

    def __init__(self, models: Models, data: DigitData, runs: Runs | None = None) -> None:
        self.models, self.data, self.runs = models, data, runs
        self.sessions = lab.Sessions()
        self.live = live.LiveTraining(models, data, runs.live_root if runs is not None else None)
        self.lens = why.Lens()
        self.stopping = threading.Event()

    def close(self) -> None:
        self.stopping.set()
        self.sessions.close()
        self.live.close()
        if self.runs is not None:
            self.runs.close()


# ----------------------------------------------------------------------------- request helpers
async def _body(request: Request, limit: int) -> bytes:
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


async def _json(request: Request, required: bool = True) -> Any:
    body = await _body(request, MAX_JSON_BYTES)
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


def _number_list(value: Any, name: str, length: int, lo: float, hi: float) -> np.ndarray:
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


def _drawing(image: Any) -> np.ndarray:
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


def _int_query(request: Request, name: str, default: int | None) -> int | None:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, f"query parameter {name} must be a whole number, got {text!r}") from None


# ----------------------------------------------------------------------------- the digit page
async def health(request: Request) -> Response:
    from glassnet._base.version import __version__

    pg: Playground = request.app.state.pg
    return JSONResponse({"status": "ok", "glassnet": __version__, "models": [e.name for e in pg.models.all()],
                         "training": pg.live.status["status"] in ("starting", "running")})


async def models(request: Request) -> Response:
    pg: Playground = request.app.state.pg
    return JSONResponse({"models": [e.describe() for e in pg.models.all()]})


async def units(request: Request) -> Response:
    pg: Playground = request.app.state.pg
    entry = pg.models.get(request.path_params["name"])
    text = request.query_params.get("units")
    try:
        chosen = None if not text else [int(u) for u in text.split(",")]
    except ValueError:
        raise ApiError(400, f"units must be comma-separated whole numbers, got {text!r}") from None
    return JSONResponse(await run_in_threadpool(entry.units, request.path_params["index"], chosen))


async def predict(request: Request) -> Response:
    pg: Playground = request.app.state.pg
    body = await _json(request)
    unknown = sorted(set(body) - {"model", "pixels", "image", "top_units", "z"})
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}; expected model, pixels or image, top_units, z")
    entry = pg.models.get(body.get("model"))
    if ("pixels" in body) == ("image" in body):
        raise ApiError(400, f"give either pixels ({PIXELS} numbers in 0..1, row-major, ink = 1) or image")
    top = body.get("top_units", 0)
    if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= 16:
        raise ApiError(400, f"top_units must be a whole number in [0, 16], got {top!r}")
    with_z = body.get("z", True)
    if not isinstance(with_z, bool):
        raise ApiError(400, f"z must be true or false, got {with_z!r}")

    def work() -> dict[str, Any]:
        x = _number_list(body["pixels"], "pixels", PIXELS, 0.0, 1.0) if "pixels" in body else _drawing(body["image"])
        out = entry.inspect(x, top, with_z)
        out["input"] = np.round(x, 4).tolist()
        return out

    return JSONResponse(await run_in_threadpool(work))


async def test_digit(request: Request) -> Response:
    pg: Playground = request.app.state.pg
    entry = pg.models.get(request.query_params.get("model"))
    kind = request.query_params.get("kind", "random")
    seed = _int_query(request, "seed", None)
    return JSONResponse(await run_in_threadpool(pg.data.pick, entry, kind, seed))


# ----------------------------------------------------------------------------- the 2-D playground
async def lab_create(request: Request) -> Response:
    pg: Playground = request.app.state.pg
    body = await _json(request, required=False)
    session = await run_in_threadpool(pg.sessions.create, body.get("state", {}))
    return JSONResponse(_full_frame(session), status_code=201)


def _full_frame(session: lab.Session) -> dict[str, Any]:
    return frames.render_for({})(session.frame_core())


async def lab_get(request: Request) -> Response:
    session = request.app.state.pg.sessions.get(request.path_params["sid"])
    return JSONResponse(await run_in_threadpool(_full_frame, session))


async def lab_state(request: Request) -> Response:
    session = request.app.state.pg.sessions.get(request.path_params["sid"])
    body = await _json(request)
    await run_in_threadpool(session.apply, body)
    return JSONResponse(await run_in_threadpool(_full_frame, session))


ACTIONS = ("play", "pause", "step", "reset", "regenerate", "new_weights")


async def lab_action(request: Request) -> Response:
    session = request.app.state.pg.sessions.get(request.path_params["sid"])
    body = await _json(request)
    action = body.get("action")
    if action not in ACTIONS or set(body) != {"action"}:
        raise ApiError(400, f'expected {{"action": one of {", ".join(ACTIONS)}}}, got {json.dumps(body)[:60]}')

    def work() -> dict[str, Any]:
        if action == "play":
            session.play()
        elif action == "pause":
            session.pause()
        elif action == "step":
            session.pause()
            session.step()
        elif action == "reset":
            session.reset()
        elif action == "regenerate":
            session.apply({"seed": (session.state["seed"] + 1) % 2**31})
        else:
            session.apply({"init_seed": (session.state["init_seed"] + 1) % 2**31})
        return _full_frame(session)

    return JSONResponse(await run_in_threadpool(work))


async def lab_points(request: Request) -> Response:
    session = request.app.state.pg.sessions.get(request.path_params["sid"])
    body = await _json(request)
    points, replace = body.get("points"), body.get("replace", False)
    if not isinstance(points, list) or not points or not isinstance(replace, bool):
        raise ApiError(400, 'expected {"points": [[x1, x2, label], ...], "replace": false}')
    rows = []
    for p in points:
        if (not isinstance(p, list) or len(p) != 3
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in p)):
            raise ApiError(400, f"each point must be [x1, x2, label] with numbers, got {json.dumps(p)[:40]}")
        rows.append(p)
    await run_in_threadpool(session.set_points, np.asarray(rows, dtype=np.float64), replace)
    return JSONResponse(await run_in_threadpool(_full_frame, session))


async def lab_csv(request: Request) -> Response:
    from glassnet.playground.data2d import parse_csv

    session = request.app.state.pg.sessions.get(request.path_params["sid"])
    body = await _body(request, MAX_UPLOAD_BYTES)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(400, "the CSV must be UTF-8 text") from None

    def work() -> dict[str, Any]:
        pts, labels = parse_csv(text, session.state["problem"])
        session.set_points(np.column_stack([pts, labels]).astype(np.float64), replace=True)
        return _full_frame(session)

    return JSONResponse(await run_in_threadpool(work))


async def lab_stream(request: Request) -> Response:
    pg: Playground = request.app.state.pg
    session = pg.sessions.get(request.path_params["sid"])

    async def events() -> Any:
        session.listeners += 1
        try:
            async for chunk in event_stream(session.channel, frames.render_for({}), pg.stopping):
                yield chunk
        finally:
            session.listeners -= 1
            session.last_seen = time.monotonic()

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


async def lab_export(request: Request) -> Response:
    session = request.app.state.pg.sessions.get(request.path_params["sid"])
    data = await run_in_threadpool(session.export)
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": 'attachment; filename="playground.npz"'})


async def lab_import(request: Request) -> Response:
    session = request.app.state.pg.sessions.get(request.path_params["sid"])
    data = await _body(request, MAX_UPLOAD_BYTES)
    if not data:
        raise ApiError(400, "expected the bytes of a .npz model file in the request body")
    await run_in_threadpool(session.load, data)
    return JSONResponse(await run_in_threadpool(_full_frame, session))


# ----------------------------------------------------------------------------- live MNIST training
async def train_status(request: Request) -> Response:
    pg: Playground = request.app.state.pg
    return JSONResponse({"status": pg.live.status, "pictures": pg.live.pictures,
                         "presets": _presets(), "full_data": await run_in_threadpool(pg.data.full_available)})


def _presets() -> dict[str, Any]:
    from glassnet.presets import PRESETS

    return {name: {"architecture": p["architecture"], "hidden": p["hidden"], "epochs": p["epochs"]}
            for name, p in PRESETS.items()}


async def train_start(request: Request) -> Response:
    pg: Playground = request.app.state.pg
    body = await _json(request)
    unknown = sorted(set(body) - {"preset", "epochs", "data", "seed"})
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}; expected preset, epochs, data, seed")
    status = pg.live.start(body.get("preset", "default"), body.get("epochs"), body.get("data", "sample"),
                           body.get("seed", 0))
    return JSONResponse({"status": status}, status_code=202)


async def train_stop(request: Request) -> Response:
    return JSONResponse({"status": request.app.state.pg.live.stop()})


async def train_stream(request: Request) -> Response:
    pg: Playground = request.app.state.pg
    return StreamingResponse(event_stream(pg.live.channel, live.render_for({}), pg.stopping),
                             media_type="text/event-stream", headers={"Cache-Control": "no-store"})


# ----------------------------------------------------------------------------- the application
def _page(name: str) -> Any:
    async def page(request: Request) -> Response:
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    return page


async def _api_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ApiError):
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    if isinstance(exc, HTTPException):
        msg = {404: f"no such page or endpoint: {request.method} {request.url.path}",
               405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, str(exc.detail))
        return JSONResponse({"error": msg}, status_code=exc.status_code)
    line = f"{type(exc).__name__}: {exc}".splitlines()[0]  # the server logs the traceback
    return JSONResponse({"error": f"internal error: {line}"}, status_code=500)


def create_app(pg: Playground, policy: Policy) -> SecurityMiddleware:
    """The Starlette application serving ``pg``, behind the defences of ``policy`` (see ``security``)."""
    sid = "/api/lab/{sid:str}"
    routes = [
        *(Route(path, _page(name)) for path, name in PAGES.items()),
        Route("/api/health", health),
        Route("/api/models", models),
        Route("/api/models/{name:str}/layers/{index:int}/units", units),
        Route("/api/predict", predict, methods=["POST"]),
        Route("/api/digits/test", test_digit),
        Route("/api/lab", lab_create, methods=["POST"]),
        Route(sid, lab_get),
        Route(sid + "/state", lab_state, methods=["POST"]),
        Route(sid + "/action", lab_action, methods=["POST"]),
        Route(sid + "/points", lab_points, methods=["POST"]),
        Route(sid + "/csv", lab_csv, methods=["POST"]),
        Route(sid + "/stream", lab_stream),
        Route(sid + "/model.npz", lab_export),
        Route(sid + "/model", lab_import, methods=["POST"]),
        Route("/api/train", train_status),
        Route("/api/train", train_start, methods=["POST"]),
        Route("/api/train/stop", train_stop, methods=["POST"]),
        Route("/api/train/stream", train_stream),
        *run_routes(),
        *why.routes(),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    handlers = {ApiError: _api_error, HTTPException: _api_error, Exception: _api_error}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.pg = pg
    return SecurityMiddleware(app, policy)
