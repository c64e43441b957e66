"""The playground's web application (Starlette): the pages, the static files and the HTTP API.

Handlers read and check the request (bounded bodies, one-line JSON errors with a 4xx status), then run
glassnet in a worker thread so the event loop keeps serving the streams.
"""

from __future__ import annotations

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
from glassnet.playground.digits import DigitData, Models
from glassnet.playground.inputs import (
    MAX_UPLOAD_BYTES,
    answer_digit,
    check_digit_body,
    int_query,
    read_body,
    read_json,
)
from glassnet.playground.runs import Runs
from glassnet.playground.runs import routes as run_routes
from glassnet.playground.security import Policy, SecurityMiddleware
from glassnet.playground.wire import ApiError

STATIC = Path(__file__).with_name("static")
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
    body = await read_json(request)
    unknown = sorted(set(body) - {"model", "pixels", "image", "top_units", "z"})
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}; expected model, pixels or image, top_units, z")
    entry = pg.models.get(body.get("model"))
    check_digit_body(body)
    top = body.get("top_units", 0)
    if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= 16:
        raise ApiError(400, f"top_units must be a whole number in [0, 16], got {top!r}")
    with_z = body.get("z", True)
    if not isinstance(with_z, bool):
        raise ApiError(400, f"z must be true or false, got {with_z!r}")

    return JSONResponse(await run_in_threadpool(answer_digit, body, lambda x: entry.inspect(x, top, with_z)))


async def test_digit(request: Request) -> Response:
    pg: Playground = request.app.state.pg
    entry = pg.models.get(request.query_params.get("model"))
    kind = request.query_params.get("kind", "random")
    seed = int_query(request, "seed", None)
    return JSONResponse(await run_in_threadpool(pg.data.pick, entry, kind, seed))


# ----------------------------------------------------------------------------- the 2-D playground
async def lab_create(request: Request) -> Response:
    pg: Playground = request.app.state.pg
    body = await read_json(request, required=False)
    session = await run_in_threadpool(pg.sessions.create, body.get("state", {}))
    return JSONResponse(_full_frame(session), status_code=201)


def _full_frame(session: lab.Session) -> dict[str, Any]:
    return frames.render_for({})(session.frame_core())


async def lab_get(request: Request) -> Response:
    session = request.app.state.pg.sessions.get(request.path_params["sid"])
    return JSONResponse(await run_in_threadpool(_full_frame, session))


async def lab_state(request: Request) -> Response:
    session = request.app.state.pg.sessions.get(request.path_params["sid"])
    body = await read_json(request)
    await run_in_threadpool(session.apply, body)
    return JSONResponse(await run_in_threadpool(_full_frame, session))


ACTIONS = ("play", "pause", "step", "reset", "regenerate", "new_weights")


async def lab_action(request: Request) -> Response:
    session = request.app.state.pg.sessions.get(request.path_params["sid"])
    body = await read_json(request)
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
    body = await read_json(request)
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
    body = await read_body(request, MAX_UPLOAD_BYTES)
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
    data = await read_body(request, MAX_UPLOAD_BYTES)
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
    body = await read_json(request)
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


async def _favicon(request: Request) -> Response:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


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
        Route("/favicon.ico", _favicon),  # what browsers ask for on their own, beside the pages' declared icon
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    handlers = {ApiError: _api_error, HTTPException: _api_error, Exception: _api_error}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.pg = pg
    return SecurityMiddleware(app, policy)
