"""What a sweep returns: every finished run, the best, its model, the table and the plot; and the same read
back from a sweep's folder."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glassnet.model.sequential import Sequential
from glassnet.sweep import report
from glassnet.sweep.log import BEST, read_records, read_spec


@dataclass
class SweepResult:
    """Every finished run of a sweep (a trial at each rung it reached), the best, and the report.

    ``records`` are the JSON objects of ``trials.jsonl`` in trial order; ``trials`` keeps each trial's last;
    ``best`` is the record with the best ``metric``; ``best_model`` its trained model; ``ran`` how many runs
    this call trained (the others came from the folder of a resumed sweep).
    """

    records: list[dict[str, Any]]
    keys: list[str]
    metric: str
    folder: Path | None = None
    best: dict[str, Any] | None = None
    ran: int = 0
    _model: Sequential | None = field(default=None, repr=False)

    @property
    def trials(self) -> list[dict[str, Any]]:
        return report.final_records(self.records)

    @property
    def best_model(self) -> Sequential | None:
        if self._model is None and self.folder is not None and (self.folder / BEST).is_file():
            from glassnet.model.file import load

            self._model = load(self.folder / BEST)
        return self._model

    def configurations(self) -> list[dict[str, Any]]:
        """One summary per configuration: its seeds' metric as (mean, standard deviation), and more."""
        return report.summarise(self.records, self.metric)

    def table(self, sort: str | None = None, top: int | None = None) -> str:
        return report.table(self.configurations(), self.keys, self.metric, sort, top)

    def plot(self, path: str | os.PathLike | None = None) -> Any:
        """The metric against each swept option (matplotlib; ``pip install 'glassnet[plot]'``)."""
        return report.plot(self.records, self.keys, self.metric, path)

    def __str__(self) -> str:
        return self.table()


def load(folder: str | os.PathLike) -> SweepResult:
    """The sweep recorded in ``folder`` (finished or not), for its table and plot."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such sweep folder")
    spec = read_spec(folder)
    records = sorted(read_records(folder / "trials.jsonl"), key=lambda r: (r["trial"], r.get("rung", 0)))
    keys = [*spec["space"]["grid"], *spec["space"]["random"]]
    best = Best(spec["metric"])
    for r in records:
        best.offer(r)
    return SweepResult(records, keys, spec["metric"], folder, best.record)


class Best:
    """The best record so far: highest signed metric, ties to the lower trial and rung (order-free)."""

    def __init__(self, metric: str) -> None:
        self.metric, self.key, self.record = metric, None, None

    def offer(self, record: dict[str, Any]) -> bool:
        s = report.score(record, self.metric)
        key = (s, -record["trial"], -record.get("rung", 0))
        if math.isnan(s) or (self.key is not None and key <= self.key):
            return False
        self.key, self.record = key, record
        return True
