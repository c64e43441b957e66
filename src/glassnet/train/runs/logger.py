"""``RunLogger``: the callback that writes a run folder as training goes (see ``glassnet.train.runs``)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from glassnet._base.files import atomic_write, write_npz
from glassnet.model.file import model_config
from glassnet.train.callbacks import Callback, Recorder

FORMAT = "glassnet.Run"
MANIFEST_FORMAT = "glassnet.RunManifest"
FORMAT_VERSION = 1
PROBE_SIZE = 100
STATS = ("grad_norm", "weight_norm", "dead_fraction")
"""Per-layer statistics recorded (by a Recorder) each epoch, beside the update-to-weight ratio."""
SNAPSHOT = re.compile(r"epoch-(\d{4,})\.npz")


def snapshot_name(epoch: int) -> str:
    return f"snapshots/epoch-{epoch:04d}.npz"


def write_json(path: Path, value: Any) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(value, indent=1, allow_nan=False).encode()))


def _finite(logs: dict[str, Any]) -> dict[str, float | None]:
    """A history row as JSON: floats, None for NaN or infinity (JSON has neither)."""
    out: dict[str, float | None] = {}
    for k, v in logs.items():
        if np.isscalar(v) and not isinstance(v, str):
            f = float(v)
            out[k] = f if np.isfinite(f) else None
    return out


class RunLogger(Callback):
    """Record a run into ``directory``: the config, then after every epoch its history row, per-layer
    statistics, a snapshot of the weights, the probe set's outputs and TensorBoard events.

    Parameters
    ----------
    directory : the run folder (created).
    probe : (X, y) of up to ``PROBE_SIZE`` inputs whose outputs are kept per epoch (y: labels or one-hot).
    cap : snapshots kept: every epoch up to ``cap``, then every 2nd, 4th, ... epoch (and the newest).
    tensorboard : write TensorBoard event files (needs tensorboardX, the ``runs`` extra).
    resume : append to the run already in ``directory``, from the epoch ``fit`` resumes at; without it a
        folder holding a run is refused unless ``overwrite``.
    meta : JSON values stored in ``run.json`` (e.g. the preset).
    stats_every : the per-layer statistics are averaged over every ``stats_every``-th batch (their cost
        stays a small fraction of an epoch).

    The per-layer statistics of epoch t, for each layer with weights W: the gradient norm ||dC/dW||, the
    weight norm ||W|| and the dead fraction (a Recorder's, averaged over the recorded batches), and the
    update-to-weight ratio ||W_t - W_(t-1)|| / ||W_t||.
    """

    def __init__(self, directory: str | os.PathLike, probe: tuple[Any, Any] | None = None, cap: int = 50,
                 tensorboard: bool = True, resume: bool = False, overwrite: bool = False,
                 meta: dict[str, Any] | None = None, stats_every: int = 8) -> None:
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 2:
            raise ValueError(f"cap must be an integer >= 2, got {cap!r}")
        if isinstance(stats_every, bool) or not isinstance(stats_every, int) or stats_every < 1:
            raise ValueError(f"stats_every must be an integer >= 1, got {stats_every!r}")
        if tensorboard:
            from glassnet._base.extras import require_extra

            require_extra("tensorboardX", "runs", "RunLogger's TensorBoard events (tensorboard=False: none)")
        self.directory, self.cap, self.tensorboard = Path(directory), cap, tensorboard
        self.resume, self.overwrite, self.meta, self.stats_every = resume, overwrite, meta or {}, stats_every
        self.probe = None if probe is None else _probe(probe)
        self.recorder = Recorder(list(STATS))
        self.rows: list[dict[str, Any]] = []
        self.stride = 1
        self.writer: Any = None
        self.seconds = 0.0
        """Time spent recording in all (the start included), for the benchmark."""
        self.epoch_seconds: list[float] = []
        """Time spent recording during each epoch (statistics, snapshot, probe outputs, events)."""
        self._spent = 0.0

    # ------------------------------------------------------------------ the run's start
    def on_train_begin(self, logs: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        from glassnet.train.runs.reader import MANIFEST, RunError, read_manifest

        model = self.model
        self.recorder.model = model
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        (d / "snapshots").mkdir(exist_ok=True)
        self._started = False
        self.rows, self.stride = [], 1
        if (d / MANIFEST).exists():
            if self.resume:
                manifest = read_manifest(d)
                self.rows, self.stride = manifest["epochs"], manifest["stride"]
            elif not self.overwrite:
                raise ValueError(f"{d} already holds a run; resume it (resume=...), use another folder, or pass "
                                 "overwrite=True")
            else:
                for path in [d / MANIFEST, *d.glob("events.out.tfevents.*"), *(d / "snapshots").iterdir()]:
                    path.unlink(missing_ok=True)
        elif self.resume and any((d / "snapshots").iterdir()):
            raise RunError(f"{d}: no manifest.json to resume from")
        if not self.rows or not (d / "run.json").exists():
            config = {"format": FORMAT, "version": FORMAT_VERSION, "model": model_config(model),
                      "probe": None if self.probe is None else {"count": len(self.probe[1]), "file": "probe.npz"},
                      "cap": self.cap, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "meta": self.meta}
            write_json(d / "run.json", config)
            if self.probe is not None:
                write_npz(d / "probe.npz", {"X": self.probe[0], "y": self.probe[1]})
        elif self.probe is None and (d / "probe.npz").exists():
            from glassnet.model.file import read_npz

            arrays = read_npz(d / "probe.npz", RunError, "probe set")
            self.probe = (np.array(arrays["X"]), np.array(arrays["y"]))
        self.previous = self._first_weights()
        self.seconds += time.perf_counter() - t0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        if not self._started:  # the first epoch of this fit: epoch 0 of a new run, or where a resumed one goes on
            self._started = True
            kept = [r for r in self.rows if r["epoch"] <= epoch]
            self._drop([r for r in self.rows if r["epoch"] > epoch])
            self.rows = kept
            self._clean()
            if self.tensorboard:
                from tensorboardX import SummaryWriter

                self.writer = SummaryWriter(logdir=str(self.directory), purge_step=epoch + 1 if kept else None,
                                            flush_secs=3600)
            if not kept:
                self._record(0, {}, None)
            self.previous = self._first_weights()
        self.recorder.on_epoch_begin(epoch, logs)
        self.seconds += time.perf_counter() - t0
        self._spent = 0.0

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        if batch % self.stats_every == 0:
            t0 = time.perf_counter()
            self.recorder.on_batch_end(batch, logs)
            self._spent += time.perf_counter() - t0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        row = dict(logs)
        self.recorder.on_epoch_end(epoch, row)
        now = self._first_weights()
        for name, w in now.items():
            before = self.previous.get(name)
            if before is not None:
                norm = float(np.linalg.norm(w))
                row[f"update_ratio/{name}"] = float(np.linalg.norm(w - before)) / norm if norm else 0.0
        self.previous = now
        self._record(epoch + 1, _finite(row), row)
        self.epoch_seconds.append(self._spent + time.perf_counter() - t0)
        self.seconds += self.epoch_seconds[-1]

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    # ------------------------------------------------------------------ writing
    def _first_weights(self) -> dict[str, np.ndarray]:
        """Each layer's first parameter (its weights), copied, by layer name."""
        return {layer.name: layer.params[0].value.copy() for layer in self.model.layers if layer.params}

    def _record(self, epoch: int, row: dict[str, Any], logs: dict[str, Any] | None) -> None:
        """Snapshot, then the manifest naming it (last), then the files it no longer names, then TensorBoard."""
        from glassnet.train.runs.reader import MANIFEST

        model = self.model
        arrays = {k: np.asarray(v, np.float32) for k, v in model.named_arrays()}
        if self.probe is not None:
            arrays["probe.outputs"] = model.predict(self.probe[0]).astype(np.float32)
        name = snapshot_name(epoch)
        write_npz(self.directory / name, arrays)
        dropped = [r for r in self.rows if r["snapshot"] and not self._keep(r["epoch"])]
        for r in dropped:  # the previous newest, unless it lies on the stride
            r["snapshot"] = None
        self.rows.append({"epoch": epoch, "snapshot": name, "logs": row, "time": round(time.time(), 3)})
        while sum(1 for r in self.rows if r["snapshot"]) > self.cap:
            self.stride *= 2
            for r in self.rows[:-1]:
                if r["snapshot"] and not self._keep(r["epoch"]):
                    dropped.append(dict(r))
                    r["snapshot"] = None
        write_json(self.directory / MANIFEST, {"format": MANIFEST_FORMAT, "version": FORMAT_VERSION,
                                               "stride": self.stride, "epochs": self.rows})
        for r in dropped:
            (self.directory / snapshot_name(r["epoch"])).unlink(missing_ok=True)
        if self.writer is not None:
            self._tensorboard(epoch, row, logs is not None)

    def _keep(self, epoch: int) -> bool:
        return epoch % self.stride == 0

    def _drop(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            if r["snapshot"]:
                (self.directory / r["snapshot"]).unlink(missing_ok=True)

    def _clean(self) -> None:
        """Remove what a killed run left: temporary files and snapshots the manifest does not name."""
        named = {Path(r["snapshot"]).name for r in self.rows if r["snapshot"]}
        for path in (self.directory / "snapshots").iterdir():
            if path.name not in named and (path.name.endswith(".tmp") or SNAPSHOT.fullmatch(path.name)):
                path.unlink(missing_ok=True)
        for path in self.directory.glob(".*.tmp"):
            path.unlink(missing_ok=True)

    def _tensorboard(self, epoch: int, row: dict[str, Any], with_grads: bool) -> None:
        from glassnet.train.runs.pictures import first_layer_pictures, tile

        w = self.writer
        for key, value in row.items():
            if value is not None:
                w.add_scalar(key if "/" in key else f"epoch/{key}", value, epoch)
        for layer in self.model.layers:
            for p in layer.params:
                w.add_histogram(f"weights/{layer.name}.{p.name}", p.value, epoch, bins=64)
                if with_grads and p.grad is not None:
                    w.add_histogram(f"gradients/{layer.name}.{p.name}", p.grad, epoch, bins=64)
        found = first_layer_pictures(self.model, 32)
        if found is not None:
            name, pictures = found
            w.add_image(f"first_layer/{name}", tile(pictures), epoch, dataformats="HW")
        w.flush()


def _probe(probe: tuple[Any, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(X, integer labels) of at most PROBE_SIZE rows."""
    X, y = probe
    X = np.asarray(X)[:PROBE_SIZE]
    y = np.asarray(y)[:PROBE_SIZE]
    if len(X) != len(y) or not len(X):
        raise ValueError(f"probe must be (X, y) with as many rows in each (at least 1), got {len(X)} and {len(y)}")
    if y.ndim == 2:
        y = y.argmax(axis=1) if y.shape[1] > 1 else (y[:, 0] >= 0.5)
    return np.ascontiguousarray(X, np.float32), y.astype(np.int64)
