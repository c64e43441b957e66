"""What one trial does, on whichever worker runs it: build the model for its settings and seed, train it for
its epoch budget, measure it, and report one record.

Two kinds of task: :class:`TrainSettings` trains ``glassnet train``'s digit recogniser from the preset's
settings with the trial's on top (every ``glassnet train`` option is a sweepable key), and
:class:`BuildFunction` calls a user's ``build(seed=..., **params)``, sending the keys it does not take to
``Sequential.fit`` (``epochs``, ``batch_size``, ``shuffle``, ``validation_split``).
"""

from __future__ import annotations

import copy
import inspect
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassnet._base.blas import blas_threads
from glassnet.model.sequential import Sequential
from glassnet.parallel.executors import worker_name
from glassnet.sweep.space import Trial

FIT_KEYS = ("epochs", "batch_size", "shuffle", "validation_split")
"""``Sequential.fit`` arguments a sweep may vary for a build function."""


@dataclass
class Data:
    """The arrays every trial trains on: (X, Y), optional validation and test sets."""

    X: np.ndarray
    Y: np.ndarray
    validation: tuple[np.ndarray, np.ndarray] | None = None
    test: tuple[np.ndarray, np.ndarray] | None = None
    source: str = "arrays"

    def describe(self) -> dict[str, Any]:
        def shape(pair: tuple[np.ndarray, np.ndarray] | None) -> list[int] | None:
            return None if pair is None else list(np.shape(pair[0]))

        return {"train": list(np.shape(self.X)), "validation": shape(self.validation), "test": shape(self.test),
                "source": self.source}


def mnist_data(data_dir: str | None = None, train_images: int | None = None, test_images: int | None = None,
               quiet: bool = False, sample: bool = False) -> Data:
    """MNIST as ``glassnet train`` finds it (``data_dir``, $GLASSNET_DATA_DIR, the cache, a download, the
    embedded sample; only the sample with ``sample``), optionally cut to its first ``train_images`` /
    ``test_images`` images."""
    from glassnet.datasets import mnist

    X, y, source = mnist.load("train", data_dir, sample=sample, return_source=True, notice=quiet)
    X_test, y_test = mnist.load("test", data_dir, sample=sample, notice=False)
    for name, n, total in (("train_images", train_images, X.shape[0]), ("test_images", test_images,
                                                                         X_test.shape[0])):
        if n is not None and not 1 <= n <= total:
            raise ValueError(f"{name} must be between 1 and {total:,} (the images there are), got {n}")
    if train_images is not None:
        X, y = X[:train_images].copy(), y[:train_images].copy()
        source += f", the first {train_images:,}"
    if test_images is not None:
        X_test, y_test = X_test[:test_images].copy(), y_test[:test_images].copy()
    if not quiet:
        print(f"data: {source}", file=sys.stderr)
    return Data(X, y, test=(X_test, y_test), source=source)


class TrainSettings:
    """``glassnet train``'s model: ``build(cfg, seed)`` and ``fit_model`` of ``commands/train.py``, with
    cfg = the fixed settings updated by the trial's parameters."""

    def __init__(self, fixed: Mapping[str, Any], preset: str = "default") -> None:
        self.fixed, self.preset = dict(fixed), preset

    def config(self, params: Mapping[str, Any], epochs: int | None = None) -> dict[str, Any]:
        cfg = {**self.fixed, **params}
        if epochs is not None:
            cfg["epochs"] = epochs
        return cfg

    def build(self, params: Mapping[str, Any], seed: int) -> Sequential:
        from glassnet.presets import build

        return build(self.config(params), seed)

    def fit(self, model: Sequential, params: Mapping[str, Any], seed: int, epochs: int | None, data: Data,
            log_dir: str | None = None) -> Any:
        from glassnet.presets import fit_model

        return fit_model(model, self.config(params, epochs), data.X, data.Y, seed, log_dir=log_dir)

    def epochs(self, params: Mapping[str, Any]) -> int:
        return int(self.config(params)["epochs"])

    def has_validation(self, params: Mapping[str, Any]) -> bool:
        return bool(self.config(params)["validation"])

    def meta(self, params: Mapping[str, Any]) -> dict[str, Any]:
        from glassnet.presets import MNIST_META

        return {**MNIST_META, "config": self.config(params)}

    def describe(self) -> dict[str, Any]:
        return {"kind": "glassnet train", "preset": self.preset, "settings": self.fixed}


@dataclass
class BuildFunction:
    """A user's ``build(seed=..., **params) -> compiled Sequential`` and the other ``fit`` arguments."""

    build_fn: Callable[..., Sequential]
    fit_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not callable(self.build_fn):
            raise ValueError(f"build must be a function build(seed, **params), got {self.build_fn!r}")
        reserved = sorted(set(self.fit_kwargs) & {"X", "Y", "x", "y", "validation_data", "seed", "verbose"})
        if reserved:
            raise ValueError(f"fit must not hold {reserved[0]!r}: the sweep passes the data, the trial's seed "
                             "and verbose=0 itself (give data=, validation_data=)")
        try:
            sig = inspect.signature(self.build_fn)
        except (TypeError, ValueError):
            sig = None
        params = {} if sig is None else sig.parameters
        self._takes_any = sig is None or any(p.kind is p.VAR_KEYWORD for p in params.values())
        self._names = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if sig is not None and "seed" not in self._names and not self._takes_any:
            raise ValueError(f"build must take the trial's seed as an argument named 'seed', got "
                             f"{self.name}{sig}")

    @property
    def name(self) -> str:
        fn = self.build_fn
        return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"

    def route(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(arguments of build, arguments of fit): build's own parameter names first, then fit's, then
        build's ``**kwargs``; anything else is a one-line error."""
        to_build, to_fit = {}, {}
        for key, value in params.items():
            if key in self._names and key != "seed":
                to_build[key] = value
            elif key in FIT_KEYS:
                to_fit[key] = value
            elif self._takes_any and key != "seed":
                to_build[key] = value
            else:
                known = sorted(self._names - {"seed"})
                raise ValueError(f"unknown option {key!r}: {self.name} takes {', '.join(known) or 'no options'} "
                                 f"(and fit takes {', '.join(FIT_KEYS)})")
        return to_build, to_fit

    def build(self, params: Mapping[str, Any], seed: int) -> Sequential:
        model = self.build_fn(seed=seed, **self.route(params)[0])
        if not isinstance(model, Sequential) or model.loss is None:
            raise ValueError(f"build(seed, ...) must return a compiled Sequential, got {type(model).__name__}"
                             + (" that is not compiled" if isinstance(model, Sequential) else ""))
        return model

    def _fit_args(self, params: Mapping[str, Any], epochs: int | None) -> dict[str, Any]:
        args = {**self.fit_kwargs, **self.route(params)[1]}
        if epochs is not None:
            args["epochs"] = epochs
        return args

    def fit(self, model: Sequential, params: Mapping[str, Any], seed: int, epochs: int | None, data: Data,
            log_dir: str | None = None) -> Any:
        args = self._fit_args(params, epochs)
        if args.get("callbacks"):  # each trial its own (callbacks keep state)
            args["callbacks"] = copy.deepcopy(list(args["callbacks"]))
        return model.fit(data.X, data.Y, validation_data=data.validation, seed=seed, verbose=0, log_dir=log_dir,
                         **args)

    def epochs(self, params: Mapping[str, Any]) -> int:
        return int(self._fit_args(params, None).get("epochs", 1))

    def has_validation(self, params: Mapping[str, Any]) -> bool:
        return bool(self._fit_args(params, None).get("validation_split"))

    def meta(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def describe(self) -> dict[str, Any]:
        fit = {k: v for k, v in self.fit_kwargs.items() if isinstance(v, int | float | str | bool | type(None))}
        return {"kind": "build", "build": self.name, "fit": fit}


Task = TrainSettings | BuildFunction


@dataclass
class Payload:
    """What every worker holds once: the task, the data, and the BLAS threads per trial."""

    task: Task
    data: Data
    threads: int = 1
    runs: str | None = None
    """A folder where each trial records its run (``trial-0007``, ``trial-0007-rung2`` for a later rung of
    successive halving), for ``glassnet.load_run`` and the playground's Runs page; None records nothing."""


def fresh_run_folder(runs: str | None, trial: Trial, rung: int) -> str | None:
    """Where ``trial`` records rung ``rung`` of its run, emptied first, if runs are recorded."""
    if runs is None:
        return None
    folder = os.path.join(runs, f"trial-{trial.index:04d}" + (f"-rung{rung}" if rung else ""))
    shutil.rmtree(folder, ignore_errors=True)  # a trial not in the log (interrupted) records its run afresh
    return folder


def measure(model: Sequential, history: Any, data: Data) -> dict[str, Any]:
    """The record's numbers for the weights the model ends with: those of its best epoch when early stopping
    restored them (``history.events["best_epoch"]``), else of its last; test metrics when there is a test set."""
    values = history.history
    n = len(history.epoch)
    best = int(history.events.get("best_epoch", n - 1))
    out: dict[str, Any] = {"epochs": n, "best_epoch": best + 1}
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if key in values:
            out[key] = float(values[key][best])
    if data.test is not None:
        out.update({f"test_{k}": float(v) for k, v in model.evaluate(*data.test).items()})
    return out


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def run_trial(payload: Payload, trial: Trial, rung: int, epochs: int | None
              ) -> tuple[dict[str, Any], dict[str, np.ndarray] | None]:
    """Train one trial; returns its record and, when it finished, the trained model's ``state_dict()``
    (weights and buffers).

    A trial that raises (a diverging loss, a bad setting) is a record with status "failed" and the error's
    first line, never an exception: the sweep goes on.
    """
    start = time.perf_counter()
    record: dict[str, Any] = {"trial": trial.index, "config": trial.config, "seed_index": trial.seed_index,
                              "seed": trial.seed, "rung": rung, "budget": epochs, "params": trial.params}
    weights = None
    try:
        with blas_threads(payload.threads):
            model = payload.task.build(trial.params, trial.seed)
            history = payload.task.fit(model, trial.params, trial.seed, epochs, payload.data,
                                       fresh_run_folder(payload.runs, trial, rung))
            record.update(status="ok", **measure(model, history, payload.data))
        weights = model.state_dict()  # the parameters and the buffers (running statistics)
    except Exception as e:
        record.update(status="failed", error=one_line(e))
    record.update(seconds=round(time.perf_counter() - start, 4), worker=worker_name())
    return record, weights
