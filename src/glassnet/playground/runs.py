"""The Runs page's side of the server: recorded runs (``glassnet playground --runs DIR``, and the live
training's), one epoch of one at a time for the slider, the model of any epoch answering a drawing.

An epoch's view is read from its snapshot (weights, the probe set's outputs) and the manifest's row (the
per-layer statistics); nothing is recomputed but the confusion matrix. Loaded models and views are kept in
small LRU caches, so moving the slider back and forth reads each snapshot once.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from glassnet.playground.digits import PIXELS, ModelEntry
from glassnet.playground.inputs import answer_digit, check_digit_body, read_json
from glassnet.playground.wire import ApiError, pack_signed, pack_unit
from glassnet.train.runs import Run, RunError, is_run, load_run
from glassnet.train.runs.pictures import first_layer_pictures

PICTURES = 32
MODELS_CACHED = 12
VIEWS_CACHED = 64
MAX_CLASSES = 100


class _LRU:
    """A bounded mapping: the least recently used entry goes first."""

    def __init__(self, size: int) -> None:
        self.size, self.items = size, OrderedDict()

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        value = make()
        self.items[key] = value
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return value


def find_runs(roots: list[Path]) -> list[Path]:
    """The run folders of ``roots``: each root that is a run, and each run directly inside one."""
    found = []
    for root in roots:
        if is_run(root):
            found.append(root)
        elif root.is_dir():
            found.extend(sorted(p for p in root.iterdir() if p.is_dir() and is_run(p)))
    return found


def check_roots(paths: list[str]) -> list[Path]:
    """``--runs`` folders, each a run or a folder of runs (one line naming the first that is neither)."""
    roots = [Path(p) for p in paths]
    for root in roots:
        if not root.is_dir():
            raise RunError(f"--runs {root}: no such folder")
        if not find_runs([root]):
            raise RunError(f"--runs {root}: neither a run nor a folder of runs (runs are written by "
                           "glassnet train --log-dir DIR)")
    return roots


class Runs:
    """The runs the page can show, found afresh on each listing (a live run appears while it trains)."""

    def __init__(self, roots: list[Path], live_root: Path | None = None, temporary: bool = False) -> None:
        self.roots, self.live_root, self.temporary = roots, live_root, temporary
        self._lock = threading.Lock()
        self._runs: dict[str, tuple[float, Run]] = {}
        self._models = _LRU(MODELS_CACHED)
        self._views = _LRU(VIEWS_CACHED)

    @classmethod
    def open(cls, paths: list[str]) -> Runs:
        """The runs of ``--runs`` folders; the live training records into the first folder of runs given, else
        into a temporary folder removed when the server stops."""
        roots = check_roots(paths)
        folder = next((r for r in roots if not is_run(r)), None)
        if folder is not None:
            return cls(roots, folder)
        return cls(roots, Path(tempfile.mkdtemp(prefix="glassnet-live-runs-")), temporary=True)

    def close(self) -> None:
        if self.temporary and self.live_root is not None:
            shutil.rmtree(self.live_root, ignore_errors=True)

    def paths(self) -> dict[str, Path]:
        roots = [*self.roots, *([self.live_root] if self.live_root and self.live_root.is_dir() else [])]
        out: dict[str, Path] = {}
        seen = set()
        for path in find_runs(roots):
            if path.resolve() in seen:  # the live runs' folder may be one of the --runs folders
                continue
            seen.add(path.resolve())
            name, k = path.name, 1
            while name in out:
                k += 1
                name = f"{path.name}-{k}"
            out[name] = path
        return out

    def get(self, name: str) -> Run:
        """The run named ``name``, read again when its manifest has changed (a run still training)."""
        paths = self.paths()
        if name not in paths:
            raise ApiError(404, f"unknown run {name!r}; runs: {', '.join(paths) or 'none'}")
        path = paths[name]
        manifest = path / "manifest.json"
        stamp = manifest.stat().st_mtime_ns if manifest.exists() else 0
        with self._lock:
            cached = self._runs.get(name)
            if cached is None or cached[0] != stamp or cached[1].path != path:
                try:
                    self._runs[name] = (stamp, load_run(path))
                except RunError as e:
                    raise ApiError(422, str(e)) from None
            return self._runs[name][1]

    def describe(self) -> list[dict[str, Any]]:
        out = []
        for name in self.paths():
            try:
                run = self.get(name)
            except ApiError as e:
                out.append({"name": name, "error": e.message})
                continue
            cfg = run.config["model"]
            out.append({"name": name, "path": str(run.path), "last_epoch": run.last_epoch, "snapshots": run.epochs,
                        "preset": run.meta.get("preset"), "live": bool(run.meta.get("live")),
                        "layers": [spec["class"] for spec in cfg["layers"]],
                        "digits": cfg["input_shape"] == [PIXELS]})
        return out

    # ------------------------------------------------------------------ a run, an epoch
    def summary(self, name: str) -> dict[str, Any]:
        """Everything that does not move with the slider: the history, the snapshots, the probe set."""
        run = self.get(name)
        probe = _probe(run)
        return {"name": name, "path": str(run.path), "epochs": run.epochs, "last_epoch": run.last_epoch,
                "history": {k: [None if v is None else round(v, 6) for v in vs] for k, vs in run.history.items()
                            if "/" not in k},
                "meta": {k: v for k, v in run.meta.items() if k in ("preset", "seed", "data", "live")},
                "probe": None if probe is None else {"labels": probe[1].tolist(), "pixels": _pack_probe(probe[0])},
                "digits": run.config["model"]["input_shape"] == [PIXELS] and _n_outputs(run) == 10}

    def model(self, name: str, epoch: int) -> ModelEntry | Any:
        run = self.get(name)
        key = (str(run.path), run.rows.get(epoch, {}).get("snapshot"), epoch)

        def make() -> Any:
            try:
                model = run.model(epoch)
            except RunError as e:
                raise ApiError(404 if "no snapshot" in str(e) else 422, str(e)) from None
            if model.input_shape == (PIXELS,) and model.output_shape == (10,):
                return ModelEntry(f"{name}@{epoch}", model, f"run {name}, epoch {epoch}")
            return model

        return self._models.get(key, make)

    def epoch(self, name: str, epoch: int) -> dict[str, Any]:
        """What the slider shows at ``epoch``: the per-layer table, the first layer's weights, the probe
        set's answers, its confusion matrix and the digits whose answer changed since the previous snapshot."""
        run = self.get(name)
        key = (str(run.path), run.rows.get(epoch, {}).get("snapshot"), epoch, "view")
        return self._views.get(key, lambda: self._epoch(run, name, epoch))

    def _epoch(self, run: Run, name: str, epoch: int) -> dict[str, Any]:
        entry = self.model(name, epoch)
        model = getattr(entry, "model", entry)
        stats = run.stats(epoch) if epoch in run.rows else {}
        layers = []
        for layer in model.layers:
            s = stats.get(layer.name, {})
            if layer.params:
                layers.append({"name": layer.name, "type": layer.describe(), "params": layer.n_params,
                               **{k: s.get(k) for k in ("grad_norm", "update_ratio", "dead_fraction",
                                                        "weight_norm")}})
        logs = {k: v for k, v in run.logs(epoch).items() if "/" not in k} if epoch in run.rows else {}
        out: dict[str, Any] = {"run": name, "epoch": epoch, "logs": logs, "layers": layers,
                               "pictures": _pictures(model)}
        probe = _probe(run)
        if probe is not None and run_outputs(model) <= MAX_CLASSES:  # a classifier: its answers, its confusion
            labels = probe[1]
            pred = _answers(run, epoch)
            k = max(int(labels.max()) + 1, run_outputs(model))
            confusion = np.zeros((k, k), np.int64)
            np.add.at(confusion, (labels, pred), 1)
            before = run.epochs[run.epochs.index(epoch) - 1] if run.epochs.index(epoch) > 0 else None
            changed = []
            if before is not None:
                try:
                    old = _answers(run, before)
                    changed = [{"index": int(i), "before": int(old[i]), "after": int(pred[i]), "label": int(labels[i])}
                               for i in np.flatnonzero(old != pred)]
                except RunError:
                    changed = []
            out.update(predictions=pred.tolist(), confusion=confusion.tolist(), previous=before, changed=changed,
                       probe_accuracy=round(float(np.mean(pred == labels)), 4))
        return out

    def diff(self, name: str, epoch: int, other: str, other_epoch: int) -> dict[str, Any]:
        """The first layer's weights of (name, epoch) minus those of (other, other_epoch), as pictures."""
        a = getattr(self.model(name, epoch), "model", None) or self.model(name, epoch)
        b = getattr(self.model(other, other_epoch), "model", None) or self.model(other, other_epoch)
        pa, pb = first_layer_pictures(a, PICTURES), first_layer_pictures(b, PICTURES)
        if pa is None or pb is None or [p.shape for p in pa[1]] != [p.shape for p in pb[1]]:
            raise ApiError(422, f"the first layers of {name}@{epoch} and {other}@{other_epoch} differ in shape; "
                                "only runs of the same architecture can be compared")
        return {"a": f"{name}@{epoch}", "b": f"{other}@{other_epoch}", "other": _pictures(b),
                "difference": _pack_pictures(pa[0], [x - y for x, y in zip(pa[1], pb[1], strict=True)])}

    def inspect(self, name: str, epoch: int, x: np.ndarray) -> dict[str, Any]:
        entry = self.model(name, epoch)
        if not isinstance(entry, ModelEntry):
            raise ApiError(422, f"run {name!r} is not a digit recogniser (784 pixels in, 10 classes out)")
        out = entry.inspect(x, 0, True)
        out["epoch"] = epoch
        return out


def run_outputs(model: Any) -> int:
    return int(model.output_shape[-1])


def _n_outputs(run: Run) -> int:
    probe_out = run.config["model"]["layers"]
    return int(probe_out[-1]["config"].get("n_out", 0)) if probe_out else 0


def _probe(run: Run) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        return run.probe
    except RunError:
        return None


def _answers(run: Run, epoch: int) -> np.ndarray:
    out = run.probe_outputs(epoch)
    return out.argmax(axis=1) if out.shape[1] > 1 else (out[:, 0] >= 0.5).astype(np.int64)


def _pack_probe(X: np.ndarray) -> str | None:
    return pack_unit(X) if X.ndim == 2 and X.shape[1] == PIXELS else None


def _pictures(model: Any) -> dict[str, Any] | None:
    found = first_layer_pictures(model, PICTURES)
    return None if found is None else _pack_pictures(*found)


def _pack_pictures(layer: str, pictures: list[np.ndarray]) -> dict[str, Any]:
    packed = [pack_signed(p) for p in pictures]
    return {"layer": layer, "shape": list(pictures[0].shape),
            "units": [{"d": d, "m": round(m, 5)} for d, m in packed]}


__all__ = ["Runs", "check_roots", "find_runs"]


# ----------------------------------------------------------------------------- the routes (app.py registers them)
def _runs(request: Request) -> Runs:
    runs = request.app.state.pg.runs
    if runs is None:
        raise ApiError(404, "no runs here: start glassnet playground with --runs DIR")
    return runs


def _epoch_param(request: Request, name: str = "epoch", text: str | None = None) -> int:
    text = request.path_params.get(name) if text is None else text
    try:
        return int(text)
    except (TypeError, ValueError):
        raise ApiError(400, f"{name} must be a whole number, got {text!r}") from None


async def list_runs(request: Request) -> Response:
    return JSONResponse({"runs": await run_in_threadpool(_runs(request).describe)})


async def run_summary(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(_runs(request).summary, request.path_params["name"]))


async def run_epoch(request: Request) -> Response:
    runs, name = _runs(request), request.path_params["name"]
    return JSONResponse(await run_in_threadpool(runs.epoch, name, _epoch_param(request)))


async def run_diff(request: Request) -> Response:
    runs, name, q = _runs(request), request.path_params["name"], request.query_params
    epoch = _epoch_param(request, "epoch", q.get("epoch"))
    other = q.get("other", name)
    other_epoch = _epoch_param(request, "other_epoch", q.get("other_epoch"))
    return JSONResponse(await run_in_threadpool(runs.diff, name, epoch, other, other_epoch))


async def run_predict(request: Request) -> Response:
    runs, name = _runs(request), request.path_params["name"]
    epoch = _epoch_param(request)
    body = await read_json(request)
    check_digit_body(body)
    if len(body) > 1:
        raise ApiError(400, f"unknown field {sorted(set(body) - {'pixels', 'image'})[0]!r}; expected pixels or image")

    return JSONResponse(await run_in_threadpool(answer_digit, body, lambda x: runs.inspect(name, epoch, x)))


def routes() -> list[Route]:
    base = "/api/runs/{name:str}"
    return [Route("/api/runs", list_runs), Route(base, run_summary), Route(base + "/diff", run_diff),
            Route(base + "/epochs/{epoch:str}", run_epoch),
            Route(base + "/epochs/{epoch:str}/predict", run_predict, methods=["POST"])]
