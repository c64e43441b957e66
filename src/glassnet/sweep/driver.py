"""The sweep itself: expand the space into trials, send them to the workers, log each as it finishes, halve
the field between rungs, keep the best model, and report."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from glassnet._base.extras import require_extra
from glassnet.model.sequential import Sequential
from glassnet.parallel.executors import WorkerPool, check_picklable, trim_warning
from glassnet.sweep import report
from glassnet.sweep.halving import Halving, promote
from glassnet.sweep.log import TrialLog
from glassnet.sweep.report import Progress
from glassnet.sweep.result import Best, SweepResult
from glassnet.sweep.space import Space, Trial, format_value
from glassnet.sweep.tasks import BuildFunction, Data, Payload, Task, TrainSettings, mnist_data, one_line, run_trial

_INFRA_FAILURES = ("KilledWorker", "PicklingError", "PickleError")
"""Executor errors that belong to one trial (it killed its workers again and again, or its result could not
travel back); it is recorded as failed. Any other executor error stops the sweep (--resume continues)."""


# ------------------------------------------------------------------ the public entry point
def sweep(build: Callable[..., Sequential] | None = None, grid: Mapping[str, Sequence[Any]] | None = None,
          random: Mapping[str, Any] | None = None, *, trials: int | None = None, seeds: int = 1, seed: int = 0,
          data: tuple[Any, Any] | None = None, validation_data: tuple[Any, Any] | None = None,
          test_data: tuple[Any, Any] | None = None, fit: Mapping[str, Any] | None = None,
          settings: Mapping[str, Any] | None = None, preset: str = "default", data_dir: str | None = None,
          halving: bool | Halving = False, metric: str | None = None, executor: Any = None,
          jobs: int | None = None, threads: int = 1, out: str | os.PathLike | None = None,
          resume: bool = False, record_runs: bool = False, verbose: int = 1) -> SweepResult:
    """Train every configuration of a search space with ``seeds`` seeds each, in parallel, and return them
    all with the best.

    The space: ``grid={"lr": [0.01, 0.1], "hidden": [[64], [128]]}`` (every combination) and/or
    ``random={"l2": loguniform(1e-6, 1e-3), "activation": choice("relu", "tanh")}`` with ``trials`` draws (per
    grid point; default 10). Each trial's seed comes from its configuration and seed number alone.

    What a trial trains:

    - ``build(seed=..., **params) -> compiled Sequential``: your function; a swept key goes to ``build`` when
      it names one of its arguments, else to ``fit`` (``epochs``, ``batch_size``, ``shuffle``,
      ``validation_split``). ``data=(X, Y)``, ``validation_data``, ``test_data``; ``fit`` holds the other
      ``Sequential.fit`` arguments (``epochs``, ``batch_size``, ``callbacks``, ...).
    - ``build=None``: ``glassnet train``'s digit recogniser, ``preset`` with ``settings`` on top (any train
      option: lr, momentum, decay, hidden, activation, loss, optimizer, batch_size, l1, l2, dropout, init,
      epochs, ...), on MNIST from ``data_dir`` (or ``data``/``test_data``), holding out the preset's
      validation fraction.

    ``halving=True`` (or ``Halving(eta, min_epochs)``) stops poor configurations early by successive halving
    over epochs. ``metric`` (default val_accuracy when the model reports accuracy, else val_loss; without
    validation data, the training metric) ranks trials. ``executor``: any ``concurrent.futures.Executor`` or a
    Dask ``Client`` (the data is scattered to its workers once); without one, ``jobs`` local processes (default:
    one per core; 1 runs in this process). ``threads``: BLAS threads per trial. With ``out=DIR`` each finished
    trial is appended to DIR/trials.jsonl and the best model kept in DIR/best.npz; ``resume=True`` runs only
    the trials not yet there; ``record_runs=True`` also records every trial's run in DIR/runs/trial-NNNN (its
    epochs replayed by ``glassnet.load_run`` and ``glassnet playground --runs DIR/runs``). Worker processes
    import your script: guard it with ``if __name__ == "__main__":``.
    """
    space = Space.build(grid, random, trials)
    if build is None:
        if fit is not None or validation_data is not None:
            raise ValueError("fit= and validation_data= go with a build function; glassnet train's model takes "
                             "settings= and holds out its own validation split")
        from glassnet.presets import PRESETS

        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; known: {', '.join(sorted(PRESETS))}")
        fixed = {**_common_settings(), **PRESETS[preset], **dict(settings or {})}
        unknown = sorted(set(fixed) - set(_common_settings()) - set(PRESETS[preset]))
        if unknown:
            raise ValueError(f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(PRESETS[preset]))}")
        task: Task = TrainSettings(fixed, preset)
        swept = [k for k in space.keys if k not in fixed]
        if swept:
            raise ValueError(f"unknown option {swept[0]!r}; sweepable: {', '.join(sorted(fixed))}")
        if data is None:
            the_data = mnist_data(data_dir, quiet=not verbose)
            if test_data is not None:
                the_data.test = test_data
        else:
            the_data = Data(*data, test=test_data)
    else:
        if settings is not None:
            raise ValueError("settings= configures glassnet train's model (build=None); pass fit= to a build "
                             "function")
        if data is None:
            raise ValueError("a build function needs data=(X, Y)")
        task = BuildFunction(build, dict(fit or {}))
        the_data = Data(*data, validation=validation_data, test=test_data)
    return run(task, the_data, space, seeds=seeds, seed=seed, halving=halving, metric=metric, executor=executor,
               jobs=jobs, threads=threads, out=out, resume=resume, record_runs=record_runs, verbose=verbose)


def _common_settings() -> dict[str, Any]:
    from glassnet.presets import COMMON

    return COMMON


def _whole(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)


def _describe(params: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={format_value(v)}" for k, v in params.items()) + "}"


def _config_error(params: Mapping[str, Any], e: Exception) -> ValueError:
    where = f"configuration {_describe(params)}: " if params else ""
    return ValueError(f"{where}{e if isinstance(e, ValueError) else one_line(e)}")


def _check(task: Task, configs: list[dict[str, Any]], data: Data, metric: str | None, halving: Halving | None
           ) -> str:
    """Every configuration checked before any trial runs: its names and values, and for glassnet train's
    model the model it builds. A build function has to build one configuration (one it cannot build is a
    failed trial, unless none builds). Returns the metric that ranks the trials."""
    first = None
    for params in configs:
        try:
            if isinstance(task, BuildFunction):
                task.route(params)
            else:
                model = task.build(params, 0)
                first = first or model
                if task.epochs(params) < 1:
                    raise ValueError(f"epochs must be >= 1, got {task.epochs(params)}")
        except Exception as e:
            raise _config_error(params, e) from None
    failures = []
    for params in configs if first is None else ():
        try:
            first = task.build(params, 0)
            break
        except Exception as e:
            failures.append((params, e))
    if first is None:
        raise _config_error(*failures[0]) from None
    validated = data.validation is not None or all(task.has_validation(p) for p in configs)
    if metric is None:
        base = "accuracy" if "accuracy" in first.metrics else "loss"
        metric = f"val_{base}" if validated else base
    known = ("loss", "accuracy", "val_loss", "val_accuracy")
    if metric not in known:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(known)}")
    if metric.startswith("val_") and not validated:
        raise ValueError(f"metric {metric} needs validation data: give validation_data=, a validation_split, "
                         "or --validation > 0")
    if halving is not None and any("epochs" in p for p in configs):
        raise ValueError("successive halving sets each rung's epochs itself: do not sweep epochs with it")
    return metric


def run(task: Task, data: Data, space: Space, *, seeds: int = 1, seed: int = 0, halving: bool | Halving = False,
        metric: str | None = None, executor: Any = None, jobs: int | None = None, threads: int = 1,
        out: str | os.PathLike | None = None, resume: bool = False, record_runs: bool = False,
        verbose: int = 1) -> SweepResult:
    """The sweep of ``task`` over ``space`` (see :func:`sweep` for the arguments)."""
    seeds, seed, threads = _whole(seeds, "seeds", 1), _whole(seed, "seed", 0), _whole(threads, "threads", 1)
    jobs = (os.cpu_count() or 1) if jobs is None else _whole(jobs, "jobs", 1)
    halving = Halving() if halving is True else (halving or None)
    if halving is not None and not isinstance(halving, Halving):
        raise ValueError(f"halving must be True, False or Halving(eta, min_epochs), got {halving!r}")
    configs, dropped = space.configurations(seed)
    trials = space.trials_for(configs, seeds, seed)
    metric = _check(task, configs, data, metric, halving)
    rungs: list[int | None] = [None]
    if halving is not None:
        rungs = list(halving.rungs(task.epochs(configs[0]), len(configs)))
    spec = {"task": task.describe(), "space": space.describe(), "seeds": seeds, "seed": seed, "metric": metric,
            "halving": None if halving is None else {**halving.describe(), "rungs": rungs},
            "data": data.describe()}
    if executor is None and min(jobs, len(trials)) > 1:
        check_picklable(Payload(task, data, threads))  # before the folder is made: a lambda fails here
    if record_runs and out is None:
        raise ValueError("record_runs=True needs out=DIR: the runs are recorded in DIR/runs")
    if record_runs:
        require_extra("tensorboardX", "runs", "record_runs=True")
    log = TrialLog(out, spec, resume)
    runs = str(log.folder / "runs") if record_runs else None
    try:
        return _run(task, data, trials, configs, rungs, halving, metric, log, executor, jobs, threads, verbose,
                    dropped, runs)
    finally:
        log.close()


def _planned(rungs: list[int | None], halving: Halving | None, n_configs: int, seeds: int) -> int:
    total, n = 0, n_configs
    for _ in rungs:
        total += n * seeds
        n = halving.keep(n) if halving is not None else n
    return total


def _run(task: Task, data: Data, trials: list[Trial], configs: list[dict[str, Any]], rungs: list[int | None],
         halving: Halving | None, metric: str, log: TrialLog, executor: Any, jobs: int, threads: int,
         verbose: int, dropped: int, runs: str | None = None) -> SweepResult:
    seeds = len(trials) // len(configs)
    done = {(r["trial"], r.get("rung", 0)): r for r in log.records}
    best = Best(metric)
    for r in log.records:
        best.offer(r)
    keys = list(dict.fromkeys(k for p in configs for k in p))
    total = _planned(rungs, halving, len(configs), seeds)
    progress = Progress(total, 0, metric, verbose)
    pool: WorkerPool | None = None
    model: Sequential | None = None
    ran = 0
    plan = f"{len(configs)} configuration{'s' if len(configs) != 1 else ''} x {seeds} seed{'s' if seeds != 1 else ''}"
    if dropped:
        plan += f" ({dropped} repeated random draw{'s' if dropped != 1 else ''} dropped)"
    if halving is not None:
        plan += (f", successive halving over {len(rungs)} rungs of {', '.join(map(str, rungs))} epochs "
                 f"(eta {halving.eta})")
    try:
        active = list(range(len(configs)))
        for k, epochs in enumerate(rungs):
            todo = [t for t in trials if t.config in active and (t.index, k) not in done]
            progress.n += sum(1 for t in trials if t.config in active) - len(todo)
            if todo and pool is None:
                pool = WorkerPool(Payload(task, data, threads, runs), executor, min(jobs, len(todo)))
                where = f" on {pool.where}" if executor is not None or pool.jobs > 1 else " in this process"
                target = f"; log {log.folder / 'trials.jsonl'}" if log.folder is not None else ""
                resumed = f"; {len(done)} run(s) already in the log" if done else ""
                progress.say(f"sweep: {plan}, {total} runs{where}{target}{resumed}")
                warning = trim_warning(pool.client) if pool.client is not None else None
                if warning:
                    progress.say(warning)
            for (trial, rung, budget), result in (pool.map_unordered(run_trial, [(t, k, epochs) for t in todo])
                                                  if todo else ()):
                record, weights = _outcome(trial, rung, budget, result)
                if weights is not None and best.offer(record):
                    model = _save_best(task, record, weights, metric, log)
                log.append(record)
                done[(trial.index, rung)] = record
                ran += 1
                progress.update(record, best.record)
            if k + 1 < len(rungs):
                active = promote(_config_scores(done, trials, active, k, metric), halving.keep(len(active)))
    except BaseException as e:  # Ctrl-C, or an executor that failed: stop what is in flight
        progress.close()
        if pool is not None:
            pool.close(cancel=True)
            pool = None
        if isinstance(e, KeyboardInterrupt):
            where = f" are in {log.folder / 'trials.jsonl'}; --resume continues" if log.folder is not None else ""
            print(f"sweep interrupted: {ran} run(s) finished{where}", file=sys.stderr)
        raise
    finally:
        progress.close()
        if pool is not None:
            pool.close()
    if not ran and verbose:
        progress.say(f"sweep: all {total} runs are already in {log.folder / 'trials.jsonl'}" if log.folder
                     else "sweep: nothing to run")
    records = sorted(done.values(), key=lambda r: (r["trial"], r.get("rung", 0)))
    return SweepResult(records, keys, metric, log.folder, best.record, ran, model)


def _config_scores(done: dict[tuple[int, int], dict[str, Any]], trials: list[Trial], active: list[int], rung: int,
                   metric: str) -> dict[int, float]:
    """Each active configuration's mean signed metric over its seeds at ``rung``; NaN if any seed failed."""
    scores = {}
    for c in active:
        s = [report.score(done[(t.index, rung)], metric) for t in trials if t.config == c]
        scores[c] = math.nan if any(math.isnan(x) for x in s) else float(np.mean(s))
    return scores


def _outcome(trial: Trial, rung: int, budget: int | None, result: Any) -> tuple[dict[str, Any], Any]:
    """The record (and weights) of a finished call; an executor error that belongs to the trial becomes a
    failed record, any other stops the sweep."""
    if not isinstance(result, BaseException):
        return result
    if isinstance(result, KeyboardInterrupt):
        raise KeyboardInterrupt
    name = type(result).__name__
    if name not in _INFRA_FAILURES:
        raise RuntimeError(f"the executor failed ({one_line(result)}); the finished trials are logged, "
                           "and --resume runs the rest") from result
    record = {"trial": trial.index, "config": trial.config, "seed_index": trial.seed_index, "seed": trial.seed,
              "rung": rung, "budget": budget, "params": trial.params, "status": "failed",
              "error": one_line(result), "seconds": None, "worker": None}
    return record, None


def _save_best(task: Task, record: dict[str, Any], weights: dict[str, np.ndarray], metric: str, log: TrialLog
               ) -> Sequential:
    model = task.build(record["params"], record["seed"])
    model.load_state_dict(weights)
    model.meta = {**task.meta(record["params"]),
                  "sweep": {k: record.get(k) for k in ("trial", "seed", "params", "epochs", metric,
                                                       report.test_metric(metric))}}
    if log.best_path is not None:
        model.save(log.best_path)
    return model
