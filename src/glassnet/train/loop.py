"""The training loop behind ``Sequential.fit``: mini-batch gradient descent with callbacks.

    for epoch t:  shuffle the rows (seeded), then for each batch B of size bs:
                  C_B = (1/|B|) sum_{x in B} C_x,   w <- optimiser(w, dC_B/dw)
    after each epoch: the epoch's mean loss (and accuracy), the validation metrics, the callbacks

The model keeps the weights of its last finished epoch, so that a diverging loss or Ctrl-C rolls back to them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet.metrics import n_correct, to_labels
from glassnet.train.callbacks import Callback, History, ProgressBar, Recorder

if TYPE_CHECKING:
    from glassnet.model.sequential import Sequential

_GATHER_BYTES = 1 << 18
"""Shuffled batches smaller than this are gathered several at a time (one ``take`` per 256 KiB)."""


@dataclass
class FitState:
    """What one ``fit`` keeps beside the model: the last finished epoch and its weights and buffers
    (``state_dict()``), restored when the loss diverges or Ctrl-C stops the run."""

    epoch: int
    arrays: dict[str, np.ndarray]


class DivergenceError(RuntimeError):
    """Training produced a NaN or infinite loss; the model keeps the weights of the last finite epoch."""


def fit(model: Sequential, X: Any, Y: Any, epochs: int = 1, batch_size: int | None = 32, shuffle: bool = True,
        validation_data: tuple[Any, Any] | None = None, validation_split: float = 0.0,
        callbacks: Sequence[Callback] = (), seed: int | None = None, verbose: int = 1,
        record: Sequence[str] = (), resume: str | os.PathLike | bool | None = None,
        log_dir: str | os.PathLike | None = None) -> History:
    """``model.fit``: checks the arguments, splits off the validation set, sets up the callbacks, runs the
    epochs and rolls back to the last finished epoch on Ctrl-C (see ``Sequential.fit``)."""
    model.require_compiled()
    if model.optimizer.uses_gradients:
        flat = [getattr(layer, "activation", None) or layer for layer in model.layers]
        dead = [type(layer).__name__ for layer in flat if not layer.has_derivative]
        if dead:
            raise ValueError(f"cannot train {dead[0]} by gradient descent: its derivative is zero "
                             "everywhere; use Perceptron, a gradient-free optimiser, or sigmoid")
    X = model.as_inputs(X, min_samples=1)
    Y = model.as_targets(Y, X.shape[0])
    if validation_data is not None:
        Xv = model.as_inputs(validation_data[0], "validation X", min_samples=1)
        validation_data = (Xv, model.as_targets(validation_data[1], Xv.shape[0], "validation Y"))
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    rng = np.random.default_rng(seed if seed is not None else _fit_seed(model))
    run = None
    if resume not in (None, False) or any(getattr(cb, "saves_training_state", False) for cb in callbacks):
        from glassnet.train.checkpoint import TrainingRun  # rewinds rng to the checkpoint's split

        settings = {"batch_size": batch_size, "shuffle": bool(shuffle), "validation_split": validation_split}
        run = TrainingRun(model, rng, resume, callbacks, settings, (X, Y, validation_data))
    if validation_data is None and validation_split:
        if not 0.0 < validation_split < 1.0:
            raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
        perm = rng.permutation(X.shape[0])
        n_val = max(1, int(round(validation_split * X.shape[0])))
        validation_data = (X[perm[:n_val]], Y[perm[:n_val]])
        X, Y = X[perm[n_val:]], Y[perm[n_val:]]
    n = X.shape[0]
    bs = n if batch_size is None else int(batch_size)
    if bs < 1:
        raise ValueError(f"batch_size must be >= 1 or None, got {batch_size}")
    for layer in model.layers:
        layer.rng = rng
    history = model.history = History()
    saving = [cb for cb in callbacks if getattr(cb, "saves_training_state", False)]
    others = [cb for cb in callbacks if cb not in saving]  # checkpoints see every other callback's epoch
    if log_dir is not None:  # the run folder: its probe set is the first 100 validation (else training) rows
        from glassnet.train.runs import RunLogger

        probe = validation_data if validation_data is not None else (X, Y)
        others.append(RunLogger(log_dir, probe=probe, resume=resume not in (None, False)))
    cbs: list[Callback] = ([Recorder(list(record))] if record else []) + [history, *others, *saving]
    if verbose:
        cbs.append(ProgressBar(epochs, math.ceil(n / bs), verbose))
    model.stop_training = False
    for cb in cbs:
        cb.model = model
        cb.on_train_begin({})
    start = run.restore(history, cbs) if run is not None else 0
    state = FitState(start - 1, model.state_dict())
    try:
        with np.errstate(over="ignore", invalid="ignore"), model.penalties_fixed():  # divergence caught below
            if not model.stop_training:
                run_epochs(model, X, Y, start, epochs, bs, shuffle, validation_data, rng, cbs, state)
    except KeyboardInterrupt:
        _interrupted(model, cbs, state)
        raise
    history.events["weights_epoch"] = state.epoch
    for cb in cbs:
        cb.on_train_end({})
    return history


def _fit_seed(model: Sequential) -> np.random.SeedSequence | None:
    """The generator of a fit given no seed: from the model's seed and its count of fits."""
    if model.seed is None:
        return None
    model.fits += 1
    return np.random.SeedSequence([int(model.seed), model.fits])


def _interrupted(model: Sequential, cbs: list[Callback], state: FitState) -> None:
    """Back to the last finished epoch (``on_train_end`` may then restore the best one)."""
    epoch = state.epoch
    model.load_state_dict(state.arrays)
    model.history.events.update(interrupted_epoch=epoch + 1, weights_epoch=epoch)
    for cb in cbs:
        cb.on_train_end({"interrupted": True})


def run_epochs(model: Sequential, X: np.ndarray, Y: np.ndarray, start: int, epochs: int, bs: int,
               shuffle: bool, validation_data: tuple[np.ndarray, np.ndarray] | None,
               rng: np.random.Generator, cbs: list[Callback], state: FitState) -> None:
    """Epochs ``start`` .. ``epochs - 1`` of mini-batch training, each ending with the callbacks'
    ``on_epoch_end``; a non-finite batch loss restores the last finished epoch and raises DivergenceError."""
    n = X.shape[0]
    n_batches = math.ceil(n / bs)
    optimizer, out_layer = model.optimizer, model.layers[-1]
    batch_cbs = [cb for cb in cbs if type(cb).on_batch_end is not Callback.on_batch_end]
    want_acc = "accuracy" in model.metrics
    # accuracy: one argmax per batch into `pred`, compared with the labels once per epoch
    flat_acc = want_acc and Y.ndim == 2
    if flat_acc:
        labels = to_labels(Y)
        pred = np.empty(n, labels.dtype)
    if shuffle:  # rows are gathered into two reused buffers, a few small batches at a time
        per_gather = max(1, _GATHER_BYTES // (bs * (X[:1].nbytes + Y[:1].nbytes) or 1))
        rows = min(per_gather * bs, n)
        xbuf = np.empty((rows, *X.shape[1:]), X.dtype)
        ybuf = np.empty((rows, *Y.shape[1:]), Y.dtype)
    for epoch in range(start, epochs):
        optimizer.begin_epoch(epoch)
        for cb in cbs:
            cb.on_epoch_begin(epoch, {})
        perm = rng.permutation(n) if shuffle else None
        total, correct = 0.0, 0
        per_batch = optimizer.per_batch
        for b in range(n_batches):
            if per_batch:
                optimizer.begin_batch(epoch + b / n_batches)
            lo = b * bs
            hi = min(lo + bs, n)
            if perm is None:
                xb, yb = X[lo:hi], Y[lo:hi]
            else:
                if b % per_gather == 0:
                    first = lo
                    idx = perm[lo:lo + rows]
                    X.take(idx, axis=0, out=xbuf[:len(idx)], mode="clip")
                    Y.take(idx, axis=0, out=ybuf[:len(idx)], mode="clip")
                xb, yb = xbuf[lo - first:hi - first], ybuf[lo - first:hi - first]
            loss = optimizer.train_step(model, xb, yb)
            if not math.isfinite(loss):
                model.load_state_dict(state.arrays)
                raise DivergenceError(
                    f"loss became {loss} at epoch {epoch + 1}, batch {b + 1}; stopped, weights restored "
                    f"to the end of epoch {epoch} (try a learning rate below {optimizer.lr:g})")
            total += loss * (hi - lo)
            if flat_acc:
                to_labels(out_layer.output, out=pred[lo:hi])
            elif want_acc:
                correct += n_correct(out_layer.output, yb)
            if batch_cbs:
                batch_logs = {"loss": loss}
                for cb in batch_cbs:
                    cb.on_batch_end(b, batch_logs)
        logs: dict[str, float] = {"loss": total / n}
        if flat_acc:
            correct = int(np.count_nonzero(pred == (labels if perm is None else labels[perm])))
        if want_acc:
            logs["accuracy"] = correct / n
        if validation_data is not None:
            logs.update({f"val_{k}": v for k, v in model.evaluate_arrays(*validation_data).items()})
        logs["lr"] = optimizer.lr
        state.epoch, state.arrays = epoch, model.state_dict()
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
