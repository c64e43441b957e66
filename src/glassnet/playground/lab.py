"""The 2-D playground's sessions: data, a glassnet network trained in a thread, and the frames it shows.

One epoch over the training points per step (as TensorFlow Playground), then one forward pass of the
whole grid of the square: the output's decision heatmap and, from the same pass, every hidden unit's
heatmap (each Dense layer keeps its ``a``). Frames are published on a :class:`Channel`; each event
stream sends what its page has not seen (new epochs of the loss curves, new data, new settings).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

import glassnet as gn
from glassnet._base.blas import one_thread
from glassnet.model.sequential import Sequential
from glassnet.playground import data2d
from glassnet.playground.channel import Channel
from glassnet.playground.frames import GRID, GRID_POINTS, THUMB_STEP, output_map, unit_map
from glassnet.playground.state import DATA_FIELDS, NETWORK_FIELDS, TRAINING_FIELDS, check_state, default_state
from glassnet.playground.wire import ApiError, rounded
from glassnet.train.loop import DivergenceError

MAX_FPS = 30.0
MAX_SESSIONS = 16
IDLE_PAUSE_S = 30.0  # a playing session with no page watching it pauses after this


class Session:
    """One page's playground: its state, data, network and training thread."""

    def __init__(self, sid: str, state: dict[str, Any] | None = None) -> None:
        self.id = sid
        self.lock = threading.RLock()
        self.channel = Channel()
        self.state = default_state()
        self.custom: tuple[np.ndarray, np.ndarray] | None = None  # your own points (x1, x2) and labels
        self.playing = False
        self.error: str | None = None
        self.listeners = 0
        self.last_seen = time.monotonic()
        self.structure = 0  # grows when the data, the settings or the network's shape change
        self._extras_cache: tuple[int, dict[str, Any]] = (-1, {})
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.apply(state or {})

    # ------------------------------------------------------------------ settings
    def apply(self, given: dict[str, Any]) -> None:
        """Change settings: new data, a new network, or new training settings, as each field needs."""
        with self.lock:
            new = check_state(given, self.state)
            changed = {k for k in new if new[k] != self.state.get(k)} if hasattr(self, "model") else set(new)
            old, self.state = self.state, new
            try:
                if changed & set(DATA_FIELDS) or not hasattr(self, "X"):
                    self._make_data()
                if changed & (set(DATA_FIELDS) | set(NETWORK_FIELDS)) or not hasattr(self, "model"):
                    self.reset()
                elif changed:
                    if changed & set(TRAINING_FIELDS):
                        self._compile(self.model)  # same weights, new loss, optimiser or penalty
                    self.structure += 1  # the pages learn the new settings
                    self.publish()
            except ApiError:
                self.state = old
                raise

    def _problem(self) -> tuple[str, int]:
        """("classification", k) or ("regression", 1)."""
        s = self.state
        if s["problem"] == "regression":
            return "regression", 1
        if self._dataset() == "custom":
            return "classification", max(2, int(self.y.max()) + 1) if self.y.size else 2
        return "classification", s["classes"]

    def _dataset(self) -> str:
        return self.state["reg_dataset" if self.state["problem"] == "regression" else "dataset"]

    def _make_data(self) -> None:
        s = self.state
        if self._dataset() == "custom":
            if self.custom is None or self.custom_problem != s["problem"]:
                self.custom, self.custom_problem = (np.empty((0, 2)), np.empty(0)), s["problem"]
            pts, y = self.custom
        else:
            pts, y = data2d.generate(s["problem"], self._dataset(), s["n_points"], s["noise"] / 100.0,
                                     s["classes"], s["seed"])
        self.points, self.y = pts, y
        self.train_idx, self.test_idx = data2d.split(len(y), s["train_ratio"] / 100.0, s["seed"])
        self.X = data2d.features(pts, s["features"]) if len(y) else np.empty((0, len(s["features"])))

    def set_points(self, values: np.ndarray, replace: bool) -> None:
        """Your own data: points (x1, x2, label) added to, or replacing, the custom data set."""
        with self.lock:
            pts, labels = data2d.check_points(values, self.state["problem"])
            if replace:
                old = (np.empty((0, 2)), np.empty(0, labels.dtype))
            elif self._dataset() != "custom":  # clicking on generated data: it becomes yours, with the new point
                old = (self.points, self.y)
            else:
                old = self.custom
            if len(old[1]) + len(labels) > data2d.MAX_POINTS:
                raise ApiError(400, f"at most {data2d.MAX_POINTS:,} points; the data set would have "
                                    f"{len(old[1]) + len(labels):,}")
            self.custom = (np.concatenate([old[0], pts]), np.concatenate([old[1], labels]))
            self.custom_problem = self.state["problem"]
            key = "reg_dataset" if self.state["problem"] == "regression" else "dataset"
            self.state[key] = "custom"
            self._make_data()
            self.reset()

    # ------------------------------------------------------------------ the network
    def reset(self) -> None:
        """A new network with the initial weights of ``init_seed``; epoch 0, no history."""
        with self.lock:
            s = self.state
            problem, k = self._problem()
            out_units, out_act = (k, "softmax") if k > 2 else (1, "linear" if problem == "regression" else "sigmoid")
            sizes = [len(s["features"]), *s["hidden"], out_units]
            layers = [gn.Dense(a, b, activation=s["activation"]) for a, b in zip(sizes[:-2], sizes[1:-1], strict=True)]
            layers.append(gn.Dense(sizes[-2], sizes[-1], activation=out_act))
            model = Sequential(layers, dtype=np.float64, seed=s["init_seed"])
            self._compile(model)
            self._install(model)

    def _install(self, model: Sequential) -> None:
        self.model = model
        self.epoch = 0
        self.error = None
        self.history: dict[str, list] = {"epoch": [], "train_loss": [], "test_loss": [], "grad_norm": []}
        self.structure += 1
        self.publish()

    def _compile(self, model: Sequential) -> None:
        s = self.state
        problem, k = self._problem()
        loss = "mse" if s["loss"] == "mse" else ("cross_entropy" if k > 2 else "binary_cross_entropy")
        if s["optimizer"] == "adam":
            optimizer = gn.Adam(s["learning_rate"])
        else:
            optimizer = gn.SGD(s["learning_rate"], momentum=s["momentum"] if s["optimizer"] == "momentum" else 0.0)
        rate = s["reg_rate"]
        model.compile(loss=loss, optimizer=optimizer, metrics=() if problem == "regression" else ("accuracy",),
                      l1=rate if s["regularization"] == "l1" else 0.0,
                      l2=rate if s["regularization"] == "l2" else 0.0)

    def _targets(self, idx: np.ndarray) -> np.ndarray:
        y = self.y[idx]
        return y.astype(np.float64) if self.state["problem"] == "regression" else y

    # ------------------------------------------------------------------ training
    def step(self) -> bool:
        """One epoch over the training points; False (and ``error`` set) when there is nothing to learn
        from or the loss diverged. Small networks: one BLAS thread is fastest."""
        with self.lock, one_thread:
            if len(self.train_idx) == 0:
                self.error = "no training points: add points or choose a data set"
                self.playing = False
                self.publish()
                return False
            Xtr, ytr = self.X[self.train_idx], self._targets(self.train_idx)
            try:
                history = self.model.fit(Xtr, ytr, epochs=1, batch_size=min(self.state["batch_size"], len(ytr)),
                                         seed=self.state["init_seed"] * 1_000_003 + self.epoch,
                                         verbose=0, record=["grad_norm"])
            except DivergenceError as e:
                self.error = f"training diverged: {e}"
                self.playing = False
                self.publish()
                return False
            self.epoch += 1
            h = self.history
            h["epoch"].append(self.epoch)
            h["train_loss"].append(self._loss(self.train_idx))
            h["test_loss"].append(self._loss(self.test_idx))
            h["grad_norm"].append([history[f"grad_norm/{layer.name}"][0] for layer in self.model.layers])
            self.error = None
            self.publish()
            return True

    def _loss(self, idx: np.ndarray) -> float | None:
        if len(idx) == 0:
            return None
        return float(self.model.evaluate(self.X[idx], self._targets(idx))["loss"])

    def play(self) -> None:
        with self.lock:
            if self.playing:
                return
            self.playing = True
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"playground-{self.id}", daemon=True)
            self._thread.start()
            self.publish()

    def pause(self) -> None:
        with self.lock:
            self.playing = False
            self._stop.set()
            self.publish()

    def close(self) -> None:
        self.pause()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        next_frame = time.monotonic()
        while not self._stop.is_set():
            if self.listeners == 0 and time.monotonic() - self.last_seen > IDLE_PAUSE_S:
                self.pause()
                break
            if not self.step():
                break
            next_frame += 1.0 / MAX_FPS
            delay = next_frame - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_frame = time.monotonic()

    # ------------------------------------------------------------------ frames
    def publish(self) -> None:
        """Compute this moment's frame and hand it to every stream."""
        self.channel.publish(self.frame_core())

    def frame_core(self) -> dict[str, Any]:
        """What changes every epoch: losses, the output heatmap, every unit's heatmap, weights."""
        with self.lock, one_thread:
            problem, k = self._problem()
            feats = data2d.features(GRID_POINTS, self.state["features"])
            out = self.model.forward(feats)
            hidden = [layer.a for layer in self.model.layers[:-1]]
            h = self.history
            core = {
                "session": self.id, "structure": self.structure, "epoch": self.epoch, "playing": self.playing,
                "error": self.error, "train_loss": h["train_loss"][-1] if h["epoch"] else self._loss(self.train_idx),
                "test_loss": h["test_loss"][-1] if h["epoch"] else self._loss(self.test_idx),
                "output": output_map(out, problem, k),
                "neurons": [[unit_map(a[:, j]) for j in range(a.shape[1])] for a in hidden],
                "weights": [rounded(layer.W.value, 3) for layer in self.model.layers],
                "biases": [rounded(layer.b.value, 3) for layer in self.model.layers],
            }
            if self._extras_cache[0] != self.structure:
                self._extras_cache = (self.structure, self._extras())
            core["_history"], core["_extras"] = h, self._extras_cache[1]
            return core

    def _extras(self) -> dict[str, Any]:
        """What changes only with the settings or the data: the state, the points, every feature's map."""
        problem, k = self._problem()
        feats = data2d.features(GRID_POINTS, list(data2d.FEATURES))
        return {
                "state": dict(self.state), "problem": problem, "classes": k,
            "sizes": [self.model.input_shape[0], *(layer.n_out for layer in self.model.layers)],
            "features": [{"name": name, **unit_map(feats[:, i])} for i, name in enumerate(data2d.FEATURES)],
            "points": {part: np.column_stack([self.points[idx], self.y[idx]]).round(3).tolist()
                       for part, idx in (("train", self.train_idx), ("test", self.test_idx))},
            "grid": GRID, "thumb": GRID // THUMB_STEP,
        }

    # ------------------------------------------------------------------ files
    def export(self) -> bytes:
        """The trained network as a glassnet ``.npz`` (readable by ``glassnet.load``), settings in its meta."""
        with self.lock:
            problem, k = self._problem()
            self.model.meta = {"task": "playground", "features": self.state["features"], "problem": problem,
                               "classes": k, "epoch": self.epoch, "state": dict(self.state),
                               "input": "features of (x1, x2) in [-6, 6]^2, in the order of 'features'"}
            with tempfile.TemporaryDirectory() as d:
                path = Path(d) / "playground.npz"
                self.model.save(path)
                return path.read_bytes()

    def load(self, data: bytes) -> None:
        """Take a network from the bytes of a ``.npz`` (as exported): its settings and its weights."""
        fd, tmp = tempfile.mkstemp(suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            try:
                model = gn.load(tmp)
            except gn.ModelFileError as e:
                raise ApiError(400, "not a glassnet model file: " + str(e).split(": ", 1)[-1]) from None
        finally:
            Path(tmp).unlink(missing_ok=True)
        meta = model.meta if isinstance(model.meta, dict) else {}
        with self.lock:
            if not all(isinstance(layer, gn.Dense) for layer in model.layers):
                raise ApiError(400, "the playground takes networks of Dense layers only")
            wanted = meta.get("state") if isinstance(meta.get("state"), dict) else {}
            try:
                hidden_act = model.layers[0].activation if len(model.layers) > 1 else None
                wanted = {**wanted, "hidden": [layer.n_out for layer in model.layers[:-1]],
                          "features": meta.get("features", ["x1", "x2"][:model.input_shape[0]])}
                if hidden_act is not None:
                    wanted["activation"] = hidden_act.key if hasattr(hidden_act, "key") else \
                        type(hidden_act).__name__.lower()
                state = check_state(wanted, self.state)
            except ApiError as e:
                raise ApiError(400, f"the model's settings do not fit the playground: {e.message}") from None
            if len(state["features"]) != model.input_shape[0]:
                raise ApiError(400, f"the model takes {model.input_shape[0]} inputs but names "
                                    f"{len(state['features'])} features")
            self.pause()
            if state["dataset"] == "custom" or state["reg_dataset"] == "custom":
                state["dataset" if state["problem"] == "classification" else "reg_dataset"] = \
                    default_state()["dataset" if state["problem"] == "classification" else "reg_dataset"]
            self.state = state
            self._make_data()
            problem, k = self._problem()
            want_out = k if k > 2 else 1
            if model.output_shape != (want_out,):
                raise ApiError(400, f"the model has {model.output_shape[0]} outputs; this {problem} problem "
                                    f"needs {want_out}")
            if model.dtype != np.float64:
                model = _as_float64(model)
            self._compile(model)
            self._install(model)


def _as_float64(model: Sequential) -> Sequential:
    """The same network computing in float64 (the playground's precision)."""
    copy = Sequential([type(layer)(**layer.get_config()) for layer in model.layers], dtype=np.float64)
    copy.load_state_dict(model.state_dict())  # weights and buffers (running statistics)
    copy.meta = model.meta
    return copy


class Sessions:
    """At most MAX_SESSIONS playgrounds; creating one more closes the least recently used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._count = 0

    def create(self, state: dict[str, Any] | None) -> Session:
        with self._lock:
            self._count += 1
            sid = f"s{self._count}-{os.urandom(4).hex()}"
        session = Session(sid, state)  # validates the state before anything is kept
        with self._lock:
            self._sessions[sid] = session
            while len(self._sessions) > MAX_SESSIONS:
                _, old = self._sessions.popitem(last=False)
                old.pause()
        return session

    def get(self, sid: str) -> Session:
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                raise ApiError(404, f"no playground session {sid!r} (it may have expired: reload the page)")
            self._sessions.move_to_end(sid)
        session.last_seen = time.monotonic()
        return session

    def close(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
        for s in sessions:
            s.close()
