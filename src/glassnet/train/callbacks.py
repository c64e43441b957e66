"""Callbacks hook into ``fit``: History, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau,
the per-epoch progress display, and the glass-box Recorder of per-layer statistics.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet._base.registry import lookup
from glassnet.model.stats import LAYER_STATS, layer_stats

if TYPE_CHECKING:
    from glassnet.model.sequential import Sequential


class Callback:
    """Base class; ``self.model`` is set by ``fit`` before ``on_train_begin``.

    ``on_train_end`` also runs when training is interrupted (Ctrl-C, SIGTERM), with
    ``logs["interrupted"] = True``. A callback that carries state from one epoch to the next returns it
    from ``state_dict()`` (JSON values and NumPy arrays) and takes it back in ``load_state_dict``: a
    :class:`~glassnet.TrainingCheckpoint` saves it, and ``fit(..., resume=...)`` restores it
    after ``on_train_begin``.
    """

    model: Sequential

    def on_train_begin(self, logs: dict[str, Any]) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None: ...
    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None: ...
    def on_train_end(self, logs: dict[str, Any]) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """What this callback has learnt so far (empty: stateless)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back a ``state_dict()``."""


class History(Callback):
    """``history[key]`` is the list of per-epoch values: "loss", "accuracy", "val_loss", "lr",
    and recorded statistics such as "grad_norm/dense_1".
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.events: dict[str, int] = {}
        """Epochs where something happened, e.g. {"early_stopping_best": 7}."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history, "epoch": self.epoch, "events": self.events}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = {str(k): [float(v) for v in vs] for k, vs in state["history"].items()}
        self.epoch = [int(e) for e in state["epoch"]]
        self.events = {str(k): int(v) for k, v in state["events"].items()}

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"

    def _repr_html_(self) -> str | None:
        """The training curves (inline PNG; a table of the epochs without matplotlib), for Jupyter."""
        from glassnet.plot.notebook import history_html

        return history_html(self)


class _Monitor:
    """Tracks the best value of a logged quantity: min for losses, max for accuracies."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.sign, self.min_delta = monitor, (1.0 if mode == "min" else -1.0), abs(min_delta)
        self.best = np.inf
        self.best_epoch = -1

    def update(self, epoch: int, logs: dict[str, Any]) -> bool:
        """True if ``logs[monitor]`` improved on the best by more than ``min_delta``."""
        if self.monitor not in logs:
            raise ValueError(f"cannot monitor {self.monitor!r}: the logs have {', '.join(sorted(logs))}"
                             " (val_* needs validation_data or validation_split)")
        value = self.sign * float(logs[self.monitor])
        if value < self.best - self.min_delta:
            self.best, self.best_epoch = value, epoch
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"best": None if np.isinf(self.best) else self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = np.inf if state["best"] is None else float(state["best"])
        self.best_epoch = int(state["best_epoch"])


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; with ``restore_best`` the
    model ends (also when interrupted) with the weights and buffers of its best epoch.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best: bool = True) -> None:
        self.tracker = _Monitor(monitor, mode, min_delta)
        self.patience, self.restore_best = int(patience), restore_best
        self.stopped_epoch: int | None = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self.tracker = _Monitor(self.tracker.monitor, "min" if self.tracker.sign > 0 else "max",
                                self.tracker.min_delta)
        self.best_weights: dict[str, np.ndarray] | None = None
        """Copies of the best epoch's parameters and buffers, as ``model.state_dict()``."""
        self.stopped_epoch = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.tracker.update(epoch, logs):
            if self.restore_best:
                self.best_weights = self.model.state_dict()
        elif epoch - self.tracker.best_epoch >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self.restore_best and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
            if self.model.history is not None:
                self.model.history.events["weights_epoch"] = self.tracker.best_epoch
        if self.model.history is not None:
            self.model.history.events["best_epoch"] = self.tracker.best_epoch
            if self.stopped_epoch is not None:
                self.model.history.events["stopped_epoch"] = self.stopped_epoch

    @property
    def best_epoch(self) -> int:
        return self.tracker.best_epoch

    def state_dict(self) -> dict[str, Any]:
        return {"tracker": self.tracker.state_dict(), "best_weights": self.best_weights,
                "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tracker.load_state_dict(state["tracker"])
        best = state["best_weights"]
        self.best_weights = None if best is None else {k: np.array(v) for k, v in best.items()}
        self.stopped_epoch = None if state["stopped_epoch"] is None else int(state["stopped_epoch"])


class ModelCheckpoint(Callback):
    """Save the model to ``path`` after each epoch, or only when ``monitor`` improves."""

    def __init__(self, path: str, monitor: str = "val_loss", save_best_only: bool = True,
                 mode: str = "auto") -> None:
        self.path, self.save_best_only = path, save_best_only
        self.tracker = _Monitor(monitor, mode, 0.0)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.tracker.update(epoch, logs) or not self.save_best_only:
            self.model.save(self.path)

    def state_dict(self) -> dict[str, Any]:
        return {"tracker": self.tracker.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tracker.load_state_dict(state["tracker"])


class ReduceLROnPlateau(Callback):
    """eta <- max(factor * eta, min_lr) when ``monitor`` has not improved for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 5,
                 min_lr: float = 0.0, min_delta: float = 1e-4, mode: str = "auto") -> None:
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        self.tracker = _Monitor(monitor, mode, min_delta)
        self.factor, self.patience, self.min_lr = float(factor), int(patience), float(min_lr)
        self.wait = 0

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        if self.model.optimizer.schedule is not None:
            raise ValueError("ReduceLROnPlateau needs an optimiser with a constant lr, not a schedule")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.tracker.update(epoch, logs):
            self.wait = 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            opt = self.model.optimizer
            opt.lr = max(opt.lr * self.factor, self.min_lr)
            self.wait = 0

    def state_dict(self) -> dict[str, Any]:  # the reduced lr itself is in the optimiser's state
        return {"tracker": self.tracker.state_dict(), "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tracker.load_state_dict(state["tracker"])
        self.wait = int(state["wait"])


class ProgressBar(Callback):
    """Per-epoch progress, with ``verbose=1``: in a Jupyter kernel with ipywidgets, one notebook widget bar
    (refilled each epoch, and replaced by the last epoch's line when training ends, so that a saved notebook
    keeps a record any viewer shows); on a terminal a tqdm bar per epoch on stderr; otherwise (``verbose=2``,
    a file or a pipe) one line per epoch.
    """

    _FORMAT = "{desc} {bar} {n_fmt}/{total_fmt} [{elapsed}<{remaining}]{postfix}"

    def __init__(self, epochs: int, n_batches: int, verbose: int = 1, file: Any = None) -> None:
        self.epochs, self.n_batches = epochs, n_batches
        self.widget = None
        if verbose == 1 and file is None:
            from glassnet.plot.notebook import notebook_tqdm

            self.widget = notebook_tqdm()
        self.file = file if file is not None else sys.stderr
        self.bars = self.widget is None and verbose == 1 and getattr(self.file, "isatty", lambda: False)()
        self.bar = None
        self.last_line = ""

    def _desc(self, epoch: int) -> str:
        return f"epoch {epoch + 1:>{len(str(self.epochs))}}/{self.epochs}"

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        if self.widget is not None:
            from IPython.display import display

            self.bar = self.widget(total=self.n_batches, desc=self._desc(0), unit="batch", leave=False,
                                   display=False, bar_format=self._FORMAT)
            self.display = display(self.bar.container, display_id=True)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.widget is not None:
            self.bar.reset(total=self.n_batches)
            self.bar.set_description(self._desc(epoch), refresh=False)
        elif self.bars:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.n_batches, desc=self._desc(epoch), file=self.file, leave=True,
                            unit="batch", bar_format=self._FORMAT.replace("{bar}", "{bar:20}"))

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        shown = {k: v for k, v in logs.items() if "/" not in k}
        text = "  ".join(f"{k} {v:.4g}" for k, v in shown.items())
        self.last_line = f"{self._desc(epoch)}  {text}"
        if self.widget is not None:
            self.bar.set_postfix_str(text, refresh=True)
        elif self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)
            self.bar.close()
            self.bar = None
        else:
            print(self.last_line, file=self.file, flush=True)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self.bar is None:
            return
        self.bar.close()  # the widget's, or a terminal bar interrupted in the middle of an epoch
        self.bar = None
        if self.widget is not None:
            self.display.update({"text/plain": self.last_line}, raw=True)


class Recorder(Callback):
    """Averages per-layer statistics over the batches of each epoch into the logs
    (``fit(record=[...])`` adds one); costs nothing unless used.
    """

    def __init__(self, stats: list[str]) -> None:
        for s in stats:
            lookup(LAYER_STATS, s, "statistic")
        self.stats = list(stats)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        self.count += 1
        for k, v in layer_stats(self.model.layers, self.stats).items():
            self.sums[k] = self.sums.get(k, 0.0) + v

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        logs.update({k: v / max(self.count, 1) for k, v in self.sums.items()})
