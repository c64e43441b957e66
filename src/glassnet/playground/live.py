"""Training an MNIST preset live: ``glassnet train``'s network and settings, trained in a thread, watched
from the page (loss and accuracy per epoch, progress within the epoch, the first layer's weights as
pictures) and probed with a drawing while it learns.

Probing never touches the network being trained (a forward pass would overwrite the glass-box arrays
that its backward pass needs): every second the weights are copied into a twin network, the model
``live`` of the digit page.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.playground.channel import Channel
from glassnet.playground.digits import ModelEntry
from glassnet.playground.wire import ApiError, pack_signed
from glassnet.train.callbacks import Callback, EarlyStopping
from glassnet.train.loop import DivergenceError

LIVE = "live"
PROGRESS_EVERY_S = 0.25
COPY_EVERY_S = 1.0
PICTURES = 32  # first-layer units shown
MAX_EPOCHS = 100


class _Stopped(Exception):
    """Raised from a callback to end ``fit`` when the page asks to stop."""


class LiveTraining:
    """At most one training run at a time; its state is published on ``channel``."""

    def __init__(self, models: Any, data: Any, runs_root: Path | None = None) -> None:
        self.models, self.data, self.runs_root = models, data, runs_root
        """Each run is recorded in a folder of ``runs_root`` (the Runs page replays it)."""
        self.channel = Channel()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.run_id = 0
        self.status: dict[str, Any] = {"status": "idle", "run": 0}
        self.pictures: dict[str, Any] = {"version": 0}
        self.publish()

    def publish(self) -> None:
        self.channel.publish({"status": dict(self.status), "pictures": self.pictures})

    def start(self, preset: str, epochs: int | None, data: str, seed: int) -> dict[str, Any]:
        from glassnet.presets import PRESETS

        if preset not in PRESETS:
            raise ApiError(400, f"unknown preset {preset!r}; known: {', '.join(sorted(PRESETS))}")
        if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int)
                                   or not 1 <= epochs <= MAX_EPOCHS):
            raise ApiError(400, f"epochs must be a whole number in [1, {MAX_EPOCHS}], got {epochs!r}")
        if data not in ("sample", "full"):
            raise ApiError(400, f"data must be 'sample' or 'full', got {data!r}")
        if data == "full" and not self.data.full_available():
            raise ApiError(409, "the full MNIST is not here: start glassnet playground with --data-dir DIR "
                                "(or set GLASSNET_DATA_DIR), or train on the sample")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ApiError(400, f"seed must be a whole number >= 0, got {seed!r}")
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise ApiError(409, "a training run is going on; stop it first")
            cfg = dict(PRESETS[preset])
            if epochs is not None:
                cfg["epochs"] = epochs
            self.run_id += 1
            self._stop.clear()
            self.status = {"status": "starting", "run": self.run_id, "preset": preset, "data": data, "seed": seed,
                           "epochs": cfg["epochs"], "epoch": 0, "batch": 0, "batches": 0, "history": {},
                           "batch_loss": [], "started": time.time()}
            self.publish()
            self._thread = threading.Thread(target=self._run, args=(preset, cfg, data, seed), daemon=True,
                                            name="playground-train")
            self._thread.start()
        return dict(self.status)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        return dict(self.status)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self, preset: str, cfg: dict[str, Any], data: str, seed: int) -> None:
        from glassnet.presets import build

        st = self.status
        outcome: dict[str, Any] = {}  # the final status, written into st at once
        try:
            model = build(cfg, seed)
            twin = build(cfg, seed)
            X, y = self.data.train_set(data)
            entry = ModelEntry(LIVE, twin, f"training now: preset {preset}, starting")
            self.models.add(entry, replace=True)
            n_val = max(1, int(round(cfg["validation"] * X.shape[0]))) if cfg["validation"] else 0  # as fit does
            n_train = X.shape[0] - n_val
            bs = cfg["batch_size"] or n_train
            st.update(status="running", batches=math.ceil(n_train / bs), train_images=n_train,
                      parameters=model.count_params())
            callbacks: list[Callback] = [_Watch(self, entry, preset)]
            if cfg["early_stopping"]:
                callbacks.insert(0, EarlyStopping("val_loss", patience=cfg["early_stopping"]))
            if self.runs_root is not None:
                callbacks.append(self._recorder(preset, seed))
            start = time.perf_counter()
            model.fit(X, y, epochs=cfg["epochs"], batch_size=cfg["batch_size"] or None,
                      validation_split=cfg["validation"], callbacks=callbacks, seed=seed, verbose=0)
            outcome["status"] = "done"
        except _Stopped:
            outcome["status"] = "stopped"
        except DivergenceError as e:
            outcome.update(status="error", error=str(e))
        except Exception as e:  # shown on the page; the server goes on
            outcome.update(status="error", error=f"{type(e).__name__}: {e}".splitlines()[0])
        finally:
            if outcome.get("status") in ("done", "stopped") and "model" in locals():
                outcome["seconds"] = round(time.perf_counter() - start, 2)
                entry.set_state(model.state_dict(), f"trained here: preset {preset}, {st['epoch']} epochs")
                X_test, y_test = self.data.test_set()[:2]
                outcome["test_accuracy"] = round(float(model.evaluate(X_test, y_test)["accuracy"]), 4)
                entry.model.meta = {"task": "mnist", "results": {"test_accuracy": outcome["test_accuracy"]}}
                self._pictures(model)
            st.update(outcome)  # "done" only once what it reports is there: a poller never sees half of it
            self.publish()

    def _recorder(self, preset: str, seed: int) -> Callback:
        """A RunLogger into a new folder of ``runs_root``, probed with the first 100 test digits."""
        import importlib.util

        from glassnet.train.runs import RunLogger

        X_test, y_test = self.data.test_set()[:2]
        name = f"live-{time.strftime('%Y%m%d-%H%M%S')}-{self.run_id}-{preset}"
        self.status["run_name"] = name
        return RunLogger(self.runs_root / name, probe=(X_test[:100], y_test[:100]), overwrite=True,
                         tensorboard=importlib.util.find_spec("tensorboardX") is not None,
                         meta={"preset": preset, "seed": seed, "live": True})

    def _pictures(self, model: Any) -> None:
        """The first layer's incoming weights of its first units, packed, as a new version."""
        layer = next(layer for layer in model.layers if layer.params)
        if hasattr(layer, "W_x"):  # recurrent: per unit, one row of input weights per gate
            h = layer.n_hidden
            pics = [layer.W_x.value[:, [g * h + j for g in range(layer.n_gates)]].T
                    for j in range(min(PICTURES, h))]
        elif layer.W.value.ndim == 4:  # convolution kernels (C', C, kh, kw), channels stacked
            pics = [w.reshape(-1, w.shape[-1]) for w in layer.W.value[:PICTURES]]
        else:
            W = layer.W.value
            shape = (28, 28) if W.shape[0] == 784 else (1, W.shape[0])
            pics = [W[:, j].reshape(shape) for j in range(min(PICTURES, W.shape[1]))]
        packed = [pack_signed(p) for p in pics]
        self.pictures = {"version": self.pictures["version"] + 1, "layer": layer.name,
                         "shape": list(pics[0].shape), "units": [{"d": d, "m": round(m, 5)} for d, m in packed]}


class _Watch(Callback):
    """Publishes progress, copies the weights into the twin, and stops ``fit`` when asked."""

    def __init__(self, live: LiveTraining, entry: ModelEntry, preset: str) -> None:
        self.live, self.entry, self.preset = live, entry, preset
        self.last_progress = self.last_copy = 0.0
        self.loss_sum, self.loss_n, self.epoch = 0.0, 0, 0

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self.live._pictures(self.model)
        self._copy()
        self.live.publish()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        self.epoch, self.loss_sum, self.loss_n = epoch, 0.0, 0

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        if self.live._stop.is_set():
            raise _Stopped
        self.loss_sum += logs["loss"]
        self.loss_n += 1
        now = time.monotonic()
        st = self.live.status
        if now - self.last_copy >= COPY_EVERY_S:
            self._copy()
        if now - self.last_progress >= PROGRESS_EVERY_S:
            self.last_progress = now
            st["batch"] = batch + 1
            progress = self.epoch + (batch + 1) / max(st["batches"], 1)
            st["batch_loss"] = [*st["batch_loss"], [round(progress, 4), round(self.loss_sum / self.loss_n, 5)]]
            self.live.publish()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        st = self.live.status
        st["epoch"] = epoch + 1
        st["batch"] = 0  # the next epoch's first batch is to come: "epoch 2, batch 36 of 36" was epoch 1's last
        history = {k: list(v) for k, v in st["history"].items()}
        for k, v in logs.items():
            if np.isscalar(v):
                history.setdefault(k, []).append(round(float(v), 6))
        st["history"] = history
        if "val_accuracy" in history:  # the live model's chip on the Digits page shows it while it trains
            self.entry.model.meta = {"task": "mnist", "results": {"val_accuracy": history["val_accuracy"][-1]}}
        self._copy()
        self.live._pictures(self.model)
        self.live.publish()

    def _copy(self) -> None:
        self.last_copy = time.monotonic()
        st = self.live.status
        self.entry.set_state(self.model.state_dict(),
                             f"training now: preset {self.preset}, epoch {st.get('epoch', 0) + 1} of {st['epochs']}")


def render_for(listener: dict[str, int]) -> Any:
    """A stream's ``render``: the status every time, the pictures when this listener lacks them."""

    def render(value: dict[str, Any]) -> dict[str, Any]:
        out = {"status": value["status"]}
        pictures = value["pictures"]
        if pictures.get("version", 0) != listener.get("pictures", -1):
            listener["pictures"] = pictures.get("version", 0)
            out["pictures"] = pictures
        return out

    return render
