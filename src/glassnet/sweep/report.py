"""The sweep's report: progress as trials finish, one row per configuration with its seeds summarised as
mean and spread (sample standard deviation, n - 1 in the denominator), and a plot of the metric against each
swept option."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from glassnet.sweep.space import format_value

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def higher_is_better(metric: str) -> bool:
    """Accuracies are maximised; losses (and anything else) minimised."""
    return "acc" in metric


def score(record: dict[str, Any], metric: str) -> float:
    """The record's metric, signed so that higher is better; NaN for a failed trial or a missing metric."""
    value = record.get(metric) if record.get("status") == "ok" else None
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return math.nan
    return float(value) if higher_is_better(metric) else -float(value)


def final_records(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each trial's last record (its highest rung under successive halving), by trial number."""
    last: dict[int, dict[str, Any]] = {}
    for r in records:
        if r["trial"] not in last or r.get("rung", 0) > last[r["trial"]].get("rung", 0):
            last[r["trial"]] = r
    return [last[t] for t in sorted(last)]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (NaN for fewer than two values) of the finite values."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan


def test_metric(metric: str) -> str:
    return "test_" + metric.removeprefix("val_")


def summarise(records: Sequence[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """One dict per configuration: ``params``, ``seeds`` (finished / run), ``rung``, ``epochs`` (mean),
    ``status``, ``metric`` and ``test`` as (mean, std) over its seeds, ``seconds`` (mean)."""
    final = final_records(records)
    top_rung = max((r.get("rung", 0) for r in final), default=0)
    groups: dict[int, list[dict[str, Any]]] = {}
    for r in final:
        groups.setdefault(r["config"], []).append(r)
    rows = []
    for c in sorted(groups):
        rs = groups[c]
        ok = [r for r in rs if r["status"] == "ok"]
        rung = max(r.get("rung", 0) for r in rs)
        failed = len(rs) - len(ok)
        status = f"failed {failed}/{len(rs)}" if failed else ("stopped" if rung < top_rung else "ok")
        rows.append({
            "config": c, "params": rs[0]["params"], "seeds": (len(ok), len(rs)), "rung": rung,
            "epochs": mean_std([r.get("epochs") for r in ok])[0], "status": status,
            "metric": mean_std([r.get(metric) for r in ok]), "test": mean_std([r.get(test_metric(metric)) for r in ok]),
            "seconds": mean_std([r.get("seconds") for r in rs])[0],
            "error": next((r["error"] for r in rs if r.get("error")), None),
        })
    return rows


def _fmt(pair: tuple[float, float]) -> str:
    mean, std = pair
    if math.isnan(mean):
        return "-"
    return f"{mean:.4f}" if math.isnan(std) else f"{mean:.4f} +- {std:.4f}"


def _sort_key(row: dict[str, Any], key: str, metric: str) -> tuple[Any, ...]:
    if key in ("metric", metric):
        value, best_high = row["metric"][0], higher_is_better(metric)
    elif key in ("test", test_metric(metric)):
        value, best_high = row["test"][0], higher_is_better(metric)
    elif key in ("seconds", "epochs", "config"):
        value, best_high = row[key], False
    else:
        v = row["params"].get(key)
        return (0, str(type(v).__name__), v if isinstance(v, int | float) else format_value(v), row["config"])
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (1, 0.0, row["config"])
    return (0, -value if best_high else value, row["config"])


def table(rows: list[dict[str, Any]], keys: Sequence[str], metric: str, sort: str | None = None,
          top: int | None = None) -> str:
    """The text table, best configuration first (or sorted by ``sort``: a swept option, the metric, the
    test metric, seconds or epochs), cut to ``top`` rows."""
    sort = sort or metric
    known = {"metric", metric, "test", test_metric(metric), "seconds", "epochs", "config", *keys}
    if sort not in known:
        raise ValueError(f"cannot sort by {sort!r}; known: {', '.join(sorted(known))}")
    rows = sorted(rows, key=lambda r: _sort_key(r, sort, metric))[:top]
    head = ["#", *keys, "seeds", "epochs", metric, test_metric(metric), "seconds", "status"]
    body = [[str(r["config"]), *(format_value(r["params"].get(k)) for k in keys), f"{r['seeds'][0]}/{r['seeds'][1]}",
             "-" if math.isnan(r["epochs"]) else f"{r['epochs']:.3g}", _fmt(r["metric"]), _fmt(r["test"]),
             f"{r['seconds']:.1f}", r["status"]] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    right = {0, len(keys) + 1, len(keys) + 2, len(keys) + 3, len(keys) + 4, len(keys) + 5}
    lines = ["  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                             strict=True)))
             for row in [head, *body]]
    errors = [f"  #{r['config']}: {r['error']}" for r in rows if r["error"]]
    return "\n".join([lines[0].rstrip(), "-" * len(lines[0].rstrip()), *(s.rstrip() for s in lines[1:]),
                      *(["errors:", *errors] if errors else [])])


def plot(records: Sequence[dict[str, Any]], keys: Sequence[str], metric: str,
         path: str | os.PathLike | None = None) -> Figure:
    """The metric of every finished trial against each swept option, one panel per option (a log axis for
    options spread over more than a decade); the mean over a value's trials joined by a line."""
    from glassnet.plot._base import finish, new_figure

    final = [r for r in final_records(records) if not math.isnan(score(r, metric))]
    if not keys:
        raise ValueError("nothing was swept: no option to plot against")
    if not final:
        raise ValueError(f"no finished trial has {metric!r} to plot")
    fig = new_figure(3.2 * len(keys), 2.8)
    axes = fig.subplots(1, len(keys), squeeze=False, sharey=True)[0]
    y = np.array([r[metric] for r in final], dtype=float)
    for ax, key in zip(axes, keys, strict=True):
        values = [r["params"].get(key) for r in final]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numeric:
            x = np.array(values, dtype=float)
            if x.min() > 0 and x.max() >= 10 * x.min():
                ax.set_xscale("log")
        else:
            labels = sorted({format_value(v) for v in values})
            x = np.array([labels.index(format_value(v)) for v in values], dtype=float)
            ax.set_xticks(range(len(labels)), labels, rotation=30 if len(labels) > 3 else 0)
        ax.scatter(x, y, s=14, alpha=0.6, color="#2166ac")
        ux = np.unique(x)
        ax.plot(ux, [y[x == u].mean() for u in ux], color="#b2182b", lw=1, marker="_", ms=12)
        ax.set_xlabel(key)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(metric)
    fig.suptitle(f"{metric} of {len(final)} trials (dots) and the mean per value (line)", fontsize=9)
    return finish(fig, path)


class Progress:
    """One tqdm bar over the trials on a terminal (with the best so far), else one line per finished trial."""

    def __init__(self, total: int, done: int, metric: str, verbose: int, file: TextIO | None = None) -> None:
        self.total, self.n, self.metric, self.verbose = total, done, metric, verbose
        self.file = file if file is not None else sys.stderr
        self.bar = None
        if verbose and getattr(self.file, "isatty", lambda: False)():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=done, desc="sweep", unit="trial", file=self.file,
                            bar_format="{desc} {bar:20} {n_fmt}/{total_fmt} [{elapsed}<{remaining}]{postfix}")

    def say(self, text: str) -> None:
        if not self.verbose:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.file)
        else:
            print(text, file=self.file, flush=True)

    def update(self, record: dict[str, Any], best: dict[str, Any] | None) -> None:
        self.n += 1
        best_text = "" if best is None else f"best {best[self.metric]:.4f} (trial {best['trial']})"
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"{self.metric} {best_text}", refresh=True)
            return
        params = " ".join(f"{k}={format_value(v)}" for k, v in record["params"].items())
        what = f"trial {record['trial']} ({params + ', ' if params else ''}seed {record['seed_index']})"
        if record["status"] == "ok":
            value = record.get(self.metric)
            result = (f"{self.metric} {value:.4f}" if isinstance(value, float) else "done") + \
                f", {record['epochs']} epochs, {record['seconds']:.1f} s"
        else:
            result = f"failed: {record['error']}"
        width = len(str(self.total))
        self.say(f"[{self.n:>{width}}/{self.total}] {what}: {result}" + (f"; {best_text}" if best_text else ""))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
