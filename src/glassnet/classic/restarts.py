"""Random restarts: train the same architecture from several random initialisations, keep the best.

Gradient descent finds a local minimum that depends on where it starts; n independent starts
theta_0^(1..n) and the run with the lowest validation loss are a cheap guard against a bad one.
Runs can go to worker processes or to any ``concurrent.futures.Executor`` (a Dask client's among them);
each run's seed fixes its result, so the outcome does not depend on where the runs go.
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassnet.model.sequential import Sequential
from glassnet.train.callbacks import History
from glassnet.train.loop import DivergenceError

Build = Callable[[int], Sequential]


@dataclass
class RestartRun:
    """One run: its ``seed``, final training ``loss`` (last epoch; inf if it diverged), ``val_loss``
    (None without validation data), trained ``weights``, per-epoch ``history``, any ``error`` and the trained
    ``buffers`` (BatchNorm running statistics) by their file keys."""

    index: int
    seed: int
    loss: float
    val_loss: float | None
    weights: list[np.ndarray]
    history: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None
    buffers: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class RestartsResult:
    """All runs, the index of the best (lowest ``criterion``: "val_loss", else "loss") and the best model,
    rebuilt with ``build(seed)`` and given that run's trained weights and history."""

    runs: list[RestartRun]
    best_index: int
    best_model: Sequential
    criterion: str

    @property
    def best(self) -> RestartRun:
        return self.runs[self.best_index]

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]

    @property
    def losses(self) -> np.ndarray:
        return np.array([r.loss for r in self.runs])

    @property
    def val_losses(self) -> np.ndarray | None:
        if self.criterion != "val_loss":
            return None
        return np.array([r.val_loss for r in self.runs], dtype=float)

    def __str__(self) -> str:
        rows = ["run  seed        loss      val_loss"]
        for r in self.runs:
            val = "-" if r.val_loss is None else f"{r.val_loss:.4f}"
            mark = "  <- best" if r.index == self.best_index else ""
            rows.append(f"{r.index:>3}  {r.seed:<10}  {r.loss:<8.4f}  {val:<8}{mark}")
        return "\n".join(rows)


def _run(build: Build, seed: int, index: int, fit_kwargs: Mapping[str, Any],
         validation_data: tuple[Any, Any] | None) -> RestartRun:
    model = build(seed)
    if not isinstance(model, Sequential) or model.loss is None:
        raise ValueError(f"build(seed) must return a compiled Sequential, got {type(model).__name__}"
                         + ("" if not isinstance(model, Sequential) else " that is not compiled"))
    kwargs = {"seed": seed, **fit_kwargs, "verbose": 0}
    error = None
    try:
        model.fit(**kwargs)
    except DivergenceError as exc:
        error = str(exc)
    history = dict(model.history.history) if model.history is not None else {}
    loss = history["loss"][-1] if error is None and history.get("loss") else math.inf
    val_loss = None
    if validation_data is not None:
        val_loss = math.inf if error else model.evaluate(*validation_data)["loss"]
    elif "val_loss" in history or fit_kwargs.get("validation_data") is not None \
            or fit_kwargs.get("validation_split"):
        val_loss = math.inf if error else history["val_loss"][-1]
    return RestartRun(index, seed, float(loss), None if val_loss is None else float(val_loss),
                      model.get_weights(), history, error, _buffers(model))


def _run_in_worker(payload: tuple[Build, Mapping[str, Any], Any], index: int, seed: int) -> RestartRun:
    build, fit_kwargs, validation_data = payload
    return _run(build, seed, index, fit_kwargs, validation_data)


def restart_seeds(seed: int, n: int) -> list[int]:
    """The n run seeds derived from ``seed`` (independent streams of ``np.random.SeedSequence(seed)``)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


def restarts(build: Build, n: int, fit_kwargs: Mapping[str, Any], n_jobs: int = 1, seed: int = 0,
             validation_data: tuple[Any, Any] | None = None, executor: Any = None) -> RestartsResult:
    """Train ``n`` models ``build(s)`` with ``model.fit(**fit_kwargs)`` from seeds s derived from ``seed``,
    and return every run and the best.

    ``build(seed) -> compiled Sequential`` must give the same model for the same seed; with
    ``n_jobs > 1`` (-1: one process per CPU) it runs in worker processes and must be picklable, i.e. a
    module-level function (not a lambda or a closure). ``executor`` (any ``concurrent.futures.Executor``, or a
    Dask ``Client``) runs them there instead; the data goes to each worker once. ``fit_kwargs`` holds the
    training data as ``X`` and ``Y`` plus any other ``fit`` arguments; ``fit``'s shuffling ``seed`` defaults to
    the run's seed.
    The best run has the lowest validation loss: on ``validation_data`` when given, else the last epoch's
    ``val_loss`` from ``fit_kwargs`` validation_data / validation_split, else the last training loss.
    A run that diverges is kept with loss inf. The same ``seed`` gives bit-identical runs for any ``n_jobs``
    or executor.
    """
    n = int(n) if isinstance(n, int | np.integer) and not isinstance(n, bool) else -1
    if n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not isinstance(fit_kwargs, Mapping) or "X" not in fit_kwargs or "Y" not in fit_kwargs:
        given = sorted(fit_kwargs) if isinstance(fit_kwargs, Mapping) else type(fit_kwargs).__name__
        raise ValueError(f"fit_kwargs must be a dict with the training data as 'X' and 'Y', got {given}")
    if "verbose" in fit_kwargs:
        fit_kwargs = {k: v for k, v in fit_kwargs.items() if k != "verbose"}
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or (n_jobs < 1 and n_jobs != -1):
        raise ValueError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
    n_jobs = min((os.cpu_count() or 1) if n_jobs == -1 else int(n_jobs), n)
    seeds = restart_seeds(seed, n)
    if n_jobs > 1 and executor is None:
        try:
            pickle.dumps(build)
        except Exception as exc:
            raise ValueError(f"build must be picklable for n_jobs > 1 (a module-level function, not a lambda "
                             f"or closure), got {build!r}: {exc}") from None
    from glassnet.parallel.executors import WorkerPool

    with WorkerPool((build, dict(fit_kwargs), validation_data), executor, n_jobs) as pool:
        runs = pool.map(_run_in_worker, list(enumerate(seeds)))
    criterion = "val_loss" if runs[0].val_loss is not None else "loss"
    scores = np.array([getattr(r, criterion) for r in runs], dtype=float)
    scores[np.isnan(scores)] = np.inf
    best_index = int(np.argmin(scores))
    best = runs[best_index]
    model = build(best.seed)
    model.set_weights(best.weights)
    model.load_state_dict({**model.state_dict(), **best.buffers})
    history = History()
    history.history = {k: list(v) for k, v in best.history.items()}
    history.epoch = list(range(len(best.history.get("loss", []))))
    model.history = history
    return RestartsResult(runs, best_index, model, criterion)


def _buffers(model: Sequential) -> dict[str, np.ndarray]:
    """Copies of the model's buffers by file key ("layer1.running_mean", ...)."""
    params = {f"layer{i}.{p.name}" for i, layer in enumerate(model.layers) for p in layer.params}
    return {k: v for k, v in model.state_dict().items() if k not in params}
