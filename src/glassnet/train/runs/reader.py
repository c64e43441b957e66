"""Reading a run folder back: ``load_run(DIR)`` gives the history, the statistics and the model at any
recorded epoch. Nothing is trusted: the JSON files are checked against a schema, each snapshot is read
with the bounded, pickle-free reader of model files when asked for, and a damaged one raises a one-line
:class:`RunError` naming its file while the rest of the run still loads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet._base.schema import Dict, Float, Int, List, Optional, Record, SchemaError, Str
from glassnet.model.file import ModelFileError, build_model, check_model_config, read_npz
from glassnet.train.runs.logger import FORMAT, FORMAT_VERSION, MANIFEST_FORMAT

if TYPE_CHECKING:
    from glassnet.model import Sequential

MANIFEST = "manifest.json"
CONFIG = "run.json"
_MAX_JSON_BYTES = 64 << 20

CONFIG_SCHEMA = Record({"format": Str(), "version": Int(1), "model": Dict(), "probe": Optional(Dict()),
                        "cap": Int(2), "created": Str(), "meta": Dict()}, required=("format", "version", "model"))
MANIFEST_SCHEMA = Record({"format": Str(), "version": Int(1), "stride": Int(1), "epochs": List(
    Record({"epoch": Int(0), "snapshot": Optional(Str()), "logs": Dict(), "time": Optional(Float())},
           required=("epoch", "snapshot", "logs")))})


class RunError(ValueError):
    """A folder that is not a run, a damaged file in one, or an epoch it does not hold."""


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise RunError(f"{path}: no such file ({what})")
    try:
        if path.stat().st_size > _MAX_JSON_BYTES:
            raise ValueError(f"over {_MAX_JSON_BYTES:,} bytes")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        raise RunError(f"{path}: damaged {what} ({' '.join(str(e).split())[:200]})") from None


def read_manifest(directory: Path) -> dict[str, Any]:
    """The checked manifest of a run folder (its rows in epoch order)."""
    path = directory / MANIFEST
    manifest = _read_json(path, "run manifest")
    try:
        if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
            raise SchemaError(f"format is not {MANIFEST_FORMAT!r}")
        manifest = MANIFEST_SCHEMA.check(manifest, "manifest")
    except SchemaError as e:
        raise RunError(f"{path}: damaged run manifest ({e})") from None
    epochs = [r["epoch"] for r in manifest["epochs"]]
    if epochs != sorted(set(epochs)):
        raise RunError(f"{path}: damaged run manifest (epochs out of order)")
    return manifest


def is_run(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` holds a run (its run.json)."""
    return (Path(directory) / CONFIG).is_file()


def load_run(directory: str | os.PathLike) -> Run:
    """The run recorded in ``directory`` (by ``fit(..., log_dir=...)``, ``RunLogger``, ``glassnet train
    --log-dir``), up to its last finished epoch; raises RunError (one line) for a folder that is not one."""
    return Run(directory)


class Run:
    """A recorded run: ``history`` (as ``History.history``: per epoch 1..n, None where a value was not
    finite), ``epochs`` (the epochs with a snapshot, 0 = before training), ``model(k)``, ``stats(k)``,
    ``probe`` and ``probe_outputs(k)``."""

    def __init__(self, directory: str | os.PathLike) -> None:
        d = self.path = Path(directory)
        if not d.is_dir():
            raise RunError(f"{d}: no such folder")
        if not (d / CONFIG).is_file():
            raise RunError(f"{d}: not a glassnet run (no {CONFIG}; runs are written by fit(log_dir=...) or "
                           "glassnet train --log-dir)")
        cfg = _read_json(d / CONFIG, "run config")
        try:
            if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
                raise SchemaError(f"format is not {FORMAT!r}")
            if isinstance(cfg.get("version"), int) and cfg["version"] > FORMAT_VERSION:
                raise SchemaError(f"written in run format version {cfg['version']} by a newer glassnet")
            cfg = CONFIG_SCHEMA.check(cfg, "run")
            cfg["model"] = check_model_config(cfg["model"], "run.model")
        except SchemaError as e:
            raise RunError(f"{d / CONFIG}: damaged run config ({e})") from None
        self.config: dict[str, Any] = cfg
        self.meta: dict[str, Any] = cfg.get("meta") or {}
        rows = read_manifest(d)["epochs"] if (d / MANIFEST).exists() else []
        self.rows = {r["epoch"]: r for r in rows}
        self.epochs: list[int] = [r["epoch"] for r in rows if r["snapshot"]]
        """Epochs with a snapshot, in order (0: the weights before training)."""
        trained = [r for r in rows if r["epoch"] > 0]
        self.history: dict[str, list[float | None]] = {}
        for i, r in enumerate(trained):
            for k, v in r["logs"].items():
                self.history.setdefault(k, [None] * i).append(v if isinstance(v, int | float) else None)
            for values in self.history.values():
                values.extend([None] * (i + 1 - len(values)))
        self.last_epoch = trained[-1]["epoch"] if trained else 0
        self._probe: tuple[np.ndarray, np.ndarray] | None = None

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, epochs={self.last_epoch}, snapshots={len(self.epochs)})"

    @property
    def name(self) -> str:
        return self.path.name

    def layers(self) -> list[dict[str, Any]]:
        """Each layer's class and config, as run.json holds them."""
        return self.config["model"]["layers"]

    # ------------------------------------------------------------------ one epoch
    def _check_epoch(self, epoch: Any) -> int:
        if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer):
            raise RunError(f"epoch must be a whole number, got {epoch!r}")
        epoch = int(epoch)
        if epoch not in self.epochs:
            shown = ", ".join(map(str, self.epochs[:12])) + (", ..." if len(self.epochs) > 12 else "")
            raise RunError(f"{self.path} has no snapshot of epoch {epoch}; it has epochs {shown or 'none'}")
        return epoch

    def snapshot_path(self, epoch: int) -> Path:
        return self.path / self.rows[self._check_epoch(epoch)]["snapshot"]

    def arrays(self, epoch: int) -> dict[str, np.ndarray]:
        """Every array of epoch ``epoch``'s snapshot (read-only views); RunError names a damaged file."""
        path = self.snapshot_path(epoch)
        arrays = read_npz(path, RunError, "run snapshot")
        for key, a in arrays.items():
            if a.dtype != np.float32:
                raise RunError(f"{path}: damaged run snapshot (array {key} is {a.dtype}, not float32)")
        return arrays

    def model(self, epoch: int | None = None) -> Sequential:
        """The model after epoch ``epoch`` (the newest snapshot by default), compiled as it was trained."""
        epoch = self.epochs[-1] if epoch is None and self.epochs else epoch
        arrays = self.arrays(epoch)
        arrays.pop("probe.outputs", None)
        cfg = self.config["model"]
        dtype = np.dtype(cfg["dtype"])
        try:
            return build_model(cfg, {k: v.astype(dtype, copy=False) for k, v in arrays.items()})
        except ModelFileError as e:
            raise RunError(f"{self.snapshot_path(epoch)}: damaged run snapshot ({e})") from None

    def logs(self, epoch: int) -> dict[str, float | None]:
        """The history row of epoch ``epoch`` (losses, accuracies, lr, per-layer statistics)."""
        if epoch not in self.rows:
            raise RunError(f"{self.path} has no epoch {epoch}; it has epochs 0..{self.last_epoch}")
        return dict(self.rows[epoch]["logs"])

    def stats(self, epoch: int) -> dict[str, dict[str, float | None]]:
        """Per layer name: its statistics of epoch ``epoch`` (grad_norm, weight_norm, dead_fraction,
        update_ratio) as recorded."""
        out: dict[str, dict[str, float | None]] = {}
        for key, value in self.logs(epoch).items():
            if "/" in key:
                stat, layer = key.split("/", 1)
                out.setdefault(layer, {})[stat] = value
        return out

    # ------------------------------------------------------------------ the probe set
    @property
    def probe(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(X, labels) of the probe set whose outputs each snapshot keeps, or None."""
        if self._probe is None and self.config.get("probe"):
            path = self.path / "probe.npz"
            arrays = read_npz(path, RunError, "probe set")
            if set(arrays) != {"X", "y"} or arrays["y"].ndim != 1 or len(arrays["X"]) != len(arrays["y"]):
                raise RunError(f"{path}: damaged probe set")
            self._probe = (arrays["X"], arrays["y"])
        return self._probe

    def probe_outputs(self, epoch: int) -> np.ndarray:
        """The model's outputs on the probe set after epoch ``epoch``."""
        arrays = self.arrays(epoch)
        if "probe.outputs" not in arrays:
            raise RunError(f"{self.path} has no probe set")
        return arrays["probe.outputs"]
