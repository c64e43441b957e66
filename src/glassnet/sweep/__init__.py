"""Hyperparameter sweeps, random restarts and populations on many cores or a Dask cluster.

``glassnet.sweep(build, grid=..., random=..., seeds=..., executor=...)`` (and ``glassnet sweep`` on the
command line) trains every configuration of a search space with several seeds, stops poor ones early by
successive halving, streams each finished trial to ``DIR/trials.jsonl``, keeps the best model, and resumes
an interrupted sweep. Trials run in this process, in local worker processes, or on any
``concurrent.futures.Executor`` such as a Dask client's ``get_executor()``; each trial's seed depends on its
configuration and seed number alone, so the results are the same whoever runs them.

    space.py      grids, distributions (uniform, loguniform, choice), trials and their seeds
    halving.py    successive halving over epochs
    tasks.py      what one trial does on a worker (the pools and Dask executors: glassnet.parallel)
    log.py        the sweep's folder: sweep.json, trials.jsonl, best.npz
    report.py     progress, mean and spread per configuration, the table and the plot
    driver.py     the sweep itself
    result.py     what it returns, and the same read back from its folder

``glassnet.sweep`` is both this package and its entry point: calling the package calls :func:`sweep`.
"""

import sys
import types
from typing import Any

from glassnet.parallel.executors import WorkerPool, connect, local_cluster
from glassnet.sweep.driver import sweep
from glassnet.sweep.halving import Halving
from glassnet.sweep.result import SweepResult, load
from glassnet.sweep.space import Choice, LogUniform, Space, Trial, Uniform, choice, loguniform, trial_seed, uniform

__all__ = [
    "Choice", "Halving", "LogUniform", "Space", "SweepResult", "Trial", "Uniform", "WorkerPool", "choice",
    "connect", "load", "local_cluster", "loguniform", "sweep", "trial_seed", "uniform",
]


class _Package(types.ModuleType):
    """The package ``glassnet.sweep``, callable as the function ``glassnet.sweep.sweep``."""

    def __call__(self, *args: Any, **kwargs: Any) -> SweepResult:
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _Package
