"""Training checkpoints: after every epoch, everything ``fit`` needs to go on as if never interrupted.

    model.fit(X, y, epochs=20, callbacks=[gn.TrainingCheckpoint("ckpt")])   # writes ckpt/epoch-0001.npz, ...
    model.fit(X, y, epochs=20, callbacks=[gn.TrainingCheckpoint("ckpt")], resume="ckpt")   # after a crash

A checkpoint is one ``.npz`` file, written atomically (temporary file, fsync, rename) and read back with
the same bounded, pickle-free reader as model files. Its ``__checkpoint__`` entry is a JSON record whose
arrays are stored beside it (``{"__array__": key}`` marks where each one goes):

- the model: its config and every parameter and buffer, under the keys of a model file;
- the optimiser: ``optimizer.state_dict(model.packed_parameters())`` (step count, learning rate,
  momentum or moment estimates, the step of the next subnormal flush, the schedule's own state);
- the random generators: the one ``fit`` shuffles with (the layers draw dropout and noise from it),
  any other generator a layer holds, and the state before the validation split;
- the history and each callback's ``state_dict()`` (early stopping, learning-rate plateaus, ...);
- the fit settings and the SHA-256 of the training data, which resuming checks.

The record holds the epoch and whether training had stopped (early stopping); resuming a stopped run
only finishes it (the best weights are restored, nothing more is trained).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet._base.files import write_npz
from glassnet._base.schema import Bool, Dict, Int, List, Optional, Record, SchemaError, Str
from glassnet.model.file import ModelFileError, build_model, check_model_config, model_config, parse_json, read_npz
from glassnet.train.callbacks import Callback, History

if TYPE_CHECKING:
    from glassnet.model.sequential import Sequential

__all__ = ["CheckpointError", "TrainingCheckpoint", "checkpoints", "find", "read"]

FORMAT = "glassnet.Checkpoint"
FORMAT_VERSION = 1
_NAME = re.compile(r"epoch-(\d{4,})\.npz")


class CheckpointError(ValueError):
    """A checkpoint that is missing, damaged, or does not belong to the run being resumed."""


RECORD = Record({
    "format": Str(), "version": Int(1), "epoch": Int(0), "stopped": Bool(), "model": Dict(), "settings": Dict(),
    "data": Dict(), "optimizer": Dict(), "rngs": List(Dict(), 1), "layer_rngs": List(Int(0)),
    "split_rng": Dict(), "history": Dict(), "callbacks": List(Record({"class": Str(), "state": Dict()})),
    "meta": Optional(Dict()),
})


# ----------------------------------------------------------------------------- files
def checkpoints(directory: str | os.PathLike) -> list[Path]:
    """The checkpoint files in ``directory``, oldest epoch first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def read(path: str | os.PathLike) -> dict[str, Any]:
    """The checked record of one checkpoint file, its arrays in place; raises CheckpointError."""
    path = Path(path)
    arrays = read_npz(path, CheckpointError, "checkpoint")
    try:
        if "__checkpoint__" not in arrays:
            raise ValueError("no __checkpoint__ record inside")
        record = parse_json(arrays.pop("__checkpoint__"), "the record")
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise ValueError(f"format {record.get('format') if isinstance(record, dict) else None!r} is not "
                             f"{FORMAT!r}")
        if isinstance(record.get("version"), int) and record["version"] > FORMAT_VERSION:
            raise ValueError(f"written in checkpoint version {record['version']} by a newer glassnet")
        record = RECORD.check(record, "checkpoint")
        record["model"] = check_model_config(record["model"], "checkpoint.model")
        used: set[str] = set()
        state = _from_json(record, arrays, used)
        model_arrays = {k.removeprefix("model/"): v for k, v in arrays.items() if k.startswith("model/")}
        extra = sorted(set(arrays) - used - {f"model/{k}" for k in model_arrays})
        if extra:
            raise ValueError(f"unexpected array {extra[0]}")
        state["model_arrays"] = model_arrays
        build_model(state["model"], model_arrays)  # every array checked: dtype, shape, finite
    except (SchemaError, ModelFileError, ValueError, TypeError, KeyError) as e:
        raise CheckpointError(f"{path}: damaged checkpoint ({' '.join(str(e).split())})") from None
    return state


def find(directory: str | os.PathLike, quiet: bool = False) -> tuple[Path, dict[str, Any]] | None:
    """The newest complete checkpoint in ``directory`` and its record, or None. A damaged one (a disk
    error, a hand edit) is passed over for the one before, with a one-line notice on stderr."""
    for path in reversed(checkpoints(directory)):
        try:
            return path, read(path)
        except CheckpointError as e:
            if not quiet:
                print(f"glassnet: skipping {e}", file=sys.stderr)
    return None


def _to_json(obj: Any, key: str, arrays: dict[str, np.ndarray]) -> Any:
    """``obj`` with each array moved into ``arrays`` under its path and replaced by {"__array__": path}."""
    if isinstance(obj, np.ndarray):
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, dict):
        return {str(k): _to_json(v, f"{key}/{k}", arrays) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_to_json(v, f"{key}/{i}", arrays) for i, v in enumerate(obj)]
    return obj.item() if isinstance(obj, np.generic) else obj


def _from_json(obj: Any, arrays: dict[str, np.ndarray], used: set[str]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            key = obj["__array__"]
            if not isinstance(key, str) or key not in arrays:
                raise ValueError(f"array {key!r} is missing")
            used.add(key)
            return arrays[key]
        return {k: _from_json(v, arrays, used) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json(v, arrays, used) for v in obj]
    return obj


def _fingerprint(a: np.ndarray | None) -> dict[str, Any] | None:
    if a is None:
        return None
    a = np.ascontiguousarray(a)
    return {"shape": list(a.shape), "dtype": a.dtype.name, "sha256": hashlib.sha256(a.data).hexdigest()}


def _comparable(cfg: dict[str, Any]) -> dict[str, Any]:
    """A model config without what may change as training goes on (the learning rate, the meta)."""
    cfg = json.loads(json.dumps(cfg))
    if cfg.get("compile"):
        for key in ("lr", "mutation_scale"):  # the learning rate, or the genetic algorithm's in its slot
            cfg["compile"]["optimizer"]["config"].pop(key, None)
    return {k: cfg.get(k) for k in ("dtype", "input_shape", "layers", "compile")}


# ----------------------------------------------------------------------------- one run of fit
class TrainingRun:
    """What ``fit`` knows of a run that a checkpoint must keep: made before the validation split (it
    rewinds ``rng`` to a resumed run's split), then ``restore`` puts everything else back."""

    def __init__(self, model: Sequential, rng: np.random.Generator, resume: Any, callbacks: Sequence[Callback],
                 settings: dict[str, Any], data: tuple[np.ndarray, np.ndarray, Any]) -> None:
        self.model, self.rng, self.settings = model, rng, settings
        X, Y, validation = data
        self.data = {"X": _fingerprint(X), "Y": _fingerprint(Y),
                     "validation": None if validation is None else [_fingerprint(v) for v in validation]}
        self.callbacks = [cb for cb in callbacks if not getattr(cb, "saves_training_state", False)]
        writers = [cb for cb in callbacks if getattr(cb, "saves_training_state", False)]
        for cb in writers:
            cb.run = self
        self.state: dict[str, Any] | None = None
        self.resumed_from: Path | None = None
        found = self._find(resume, writers)
        if found is not None:
            self.resumed_from, self.state = found
            self._check_same_run()
            rng.bit_generator.state = self.state["split_rng"]
        self.split_state = rng.bit_generator.state

    @staticmethod
    def _find(resume: Any, writers: list[Callback]) -> tuple[Path, dict[str, Any]] | None:
        if resume is None or resume is False:
            return None
        if resume is True:
            if len(writers) != 1:
                raise ValueError(f"resume=True resumes from the folder of the TrainingCheckpoint callback; "
                                 f"fit has {len(writers)} of them: pass resume=FOLDER")
            return find(writers[0].directory)
        path = Path(resume)
        if path.is_dir():
            found = find(path)
            if found is None:
                raise CheckpointError(f"{path}: no complete checkpoint to resume from")
            return found
        return path, read(path)

    def _check_same_run(self) -> None:
        """A resumed run must be the same run: the same model, fit settings and data."""
        state, where = self.state, self.resumed_from
        if _comparable(state["model"]) != _comparable(model_config(self.model)):
            raise CheckpointError(f"{where} was written by a different model (architecture, loss or optimiser "
                                  "settings); build and compile the model as for the run being resumed")
        for key, value in self.settings.items():
            if state["settings"].get(key) != value:
                raise CheckpointError(f"{where} was written with {key}={state['settings'].get(key)!r}, "
                                      f"fit was given {key}={value!r}")
        for key, value in self.data.items():
            if state["data"].get(key) != value:
                raise CheckpointError(f"{where} was written for other training data ({key} differs)")

    # ------------------------------------------------------------------ restoring
    def restore(self, history: History, cbs: list[Callback]) -> int:
        """Put back the model, optimiser, generators, history and callbacks; the first epoch to run."""
        if self.state is None:
            return 0
        state, model = self.state, self.model
        try:
            model.load_state_dict(state["model_arrays"])
            model.optimizer.load_state_dict(state["optimizer"], model.packed_parameters())
            gens = [self.rng, *(np.random.Generator(getattr(np.random, st["bit_generator"])())
                                for st in state["rngs"][1:])]
            for gen, st in zip(gens, state["rngs"], strict=True):
                gen.bit_generator.state = st
            if len(state["layer_rngs"]) != len(model.layers):
                raise ValueError(f"{len(state['layer_rngs'])} layer generators for {len(model.layers)} layers")
            for layer, i in zip(model.layers, state["layer_rngs"], strict=True):
                layer.rng = gens[i]
            history.load_state_dict(state["history"])
            self._restore_callbacks(state["callbacks"])
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
            raise CheckpointError(f"{self.resumed_from}: cannot restore ({' '.join(str(e).split())})") from None
        model.stop_training = state["stopped"]
        return state["epoch"] + 1

    def _restore_callbacks(self, saved: list[dict[str, Any]]) -> None:
        pending = list(self.callbacks)
        for entry in saved:
            if not entry["state"]:
                continue
            match = next((cb for cb in pending if type(cb).__name__ == entry["class"]), None)
            if match is None:
                raise ValueError(f"the checkpoint holds the state of a {entry['class']} callback; pass the run's "
                                 "callbacks to fit again")
            pending = pending[pending.index(match) + 1:]
            match.load_state_dict(entry["state"])

    # ------------------------------------------------------------------ writing
    def write(self, path: Path, epoch: int, meta: dict[str, Any] | None) -> None:
        model = self.model
        gens: list[np.random.Generator] = [self.rng]
        for layer in model.layers:
            if all(layer.rng is not g for g in gens):
                gens.append(layer.rng)
        state = {
            "format": FORMAT, "version": FORMAT_VERSION, "epoch": epoch, "stopped": bool(model.stop_training),
            "model": model_config(model), "settings": self.settings, "data": self.data,
            "optimizer": model.optimizer.state_dict(model.packed_parameters()),
            "rngs": [g.bit_generator.state for g in gens],
            "layer_rngs": [next(i for i, g in enumerate(gens) if g is layer.rng) for layer in model.layers],
            "split_rng": self.split_state, "history": model.history.state_dict(),
            "callbacks": [{"class": type(cb).__name__, "state": cb.state_dict()} for cb in self.callbacks],
            "meta": meta,
        }
        arrays = {f"model/{k}": v for k, v in model.named_arrays()}
        record = _to_json(state, "state", arrays)
        arrays["__checkpoint__"] = np.array(json.dumps(record))
        write_npz(path, arrays)


# ----------------------------------------------------------------------------- the callback
class TrainingCheckpoint(Callback):
    """Write a checkpoint of the whole training state into ``directory`` after every epoch, keeping the
    newest ``keep`` (Keras's ``BackupAndRestore``); ``fit(..., resume=directory)`` (or ``resume=True``)
    continues from the newest complete one. ``meta`` (JSON values) is stored with each checkpoint.

    It refuses to start in a folder holding another run's checkpoints unless resuming it, or told
    ``overwrite=True`` (which deletes them). It runs after every other callback of the epoch, whatever
    its place in the list, so that each checkpoint holds their state at the end of the epoch.
    """

    saves_training_state = True

    def __init__(self, directory: str | os.PathLike, keep: int = 2, meta: dict[str, Any] | None = None,
                 overwrite: bool = False) -> None:
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be an integer >= 1, got {keep!r}")
        self.directory, self.keep, self.meta, self.overwrite = Path(directory), keep, meta, overwrite
        self.run: TrainingRun | None = None
        self.last: Path | None = None
        """The checkpoint written last."""

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        if self.run is None:
            raise RuntimeError("TrainingCheckpoint works inside Sequential.fit")
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob(".epoch-*.tmp"):  # left by a run killed while writing
            stale.unlink(missing_ok=True)
        existing = checkpoints(self.directory)
        resuming = self.run.resumed_from is not None and self.run.resumed_from.parent.resolve() == \
            self.directory.resolve()
        if existing and not resuming:
            if not self.overwrite:
                raise ValueError(f"{self.directory} already holds the checkpoints of a run (newest: "
                                 f"{existing[-1].name}); resume it (resume=...), use another folder, or pass "
                                 "overwrite=True")
            for path in existing:
                path.unlink()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        path = self.directory / f"epoch-{epoch + 1:04d}.npz"
        self.run.write(path, epoch, self.meta)
        self.last = path
        for old in checkpoints(self.directory)[:-self.keep]:
            old.unlink(missing_ok=True)
