"""Where trials run: in this process, in local worker processes, or on a Dask cluster.

Every path goes through one interface, ``concurrent.futures.Executor`` (a Dask client's ``get_executor()``
is one), so local and distributed runs share their code. What differs is how the payload (the task and
its training data) reaches the workers, once per worker and never once per task:

- glassnet's own local pool: the pool's initializer installs the payload in each worker process, its arrays
  in shared memory that every worker maps (``shared``), or pickled to each worker where there is none;
- a Dask ``Client`` or its executor: ``client.scatter(payload, broadcast=True)`` puts one copy on every
  worker, and each task receives it by reference;
- any other Executor: the payload travels with each task (free for a ThreadPoolExecutor, one copy per task
  for a foreign process pool).

Local pools start their workers from a fork server (``multiprocessing`` "forkserver"): safe beside threads,
which a plain fork is not, and quick after the first pool. A worker process that dies (killed, out of
memory) breaks a local pool; the pool is started again and the unfinished tasks go to it, up to
``MAX_RESTARTS`` times. Dask reschedules the tasks of a lost worker by itself.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import sys
import time
import types
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, CancelledError, Executor, Future, wait
from concurrent.futures.process import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from glassnet.parallel.shared import SharedPayload, Spec, attach, share

MAX_RESTARTS = 3
"""How many times a local pool whose worker died is started again before the run gives up."""
DISTRIBUTED_EXTRA = "pip install 'glassnet[distributed]'"
_POLL_S = 0.5
"""Waits on futures wake up this often (Ctrl-C stays responsive; no wait is ever unbounded)."""


# ------------------------------------------------------------------ the payload on the workers
@dataclass
class _Box:
    """The payload carried by a task (or scattered by Dask as one object, not element by element)."""

    obj: Any


@dataclass(frozen=True)
class _Installed:
    """A reference to the payload that the pool's initializer installed in this worker process."""

    token: str


_INSTALLED: dict[str, Any] = {}


def _install(token: str, payload: Any, spec: Spec | None = None) -> None:
    """The local pool's initializer: keep the payload (rebuilt from shared memory when ``spec`` is given);
    leave Ctrl-C to the process that runs the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _INSTALLED.clear()  # a worker serves one pool
    _INSTALLED[token] = attach(spec) if spec is not None else payload


def unbox(handle: Any) -> Any:
    """The payload behind a task's handle, on whichever worker it runs."""
    if isinstance(handle, _Installed):
        return _INSTALLED[handle.token]
    return handle.obj


def _call(fn: Callable[..., Any], handle: Any, *args: Any) -> Any:
    return fn(unbox(handle), *args)


def _indexed(payload: Any, i: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    return fn(payload, *args)


class _Sink:
    def write(self, b: bytes) -> int:
        return len(b)


class _Probe(pickle.Pickler):
    """Pickles everything but NumPy arrays (always picklable, possibly large), to a sink; refuses what a
    worker process could not import (a function or class of an interactive session or a notebook)."""

    def persistent_id(self, obj: Any) -> Any:
        return id(obj) if type(obj).__module__ == "numpy" and hasattr(obj, "__array_interface__") else None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type | types.FunctionType) and getattr(obj, "__module__", None) == "__main__" \
                and not hasattr(sys.modules.get("__main__"), "__file__"):
            raise pickle.PicklingError(f"{obj.__qualname__} is defined in an interactive session or a notebook, "
                                       "which worker processes cannot import; define it in a module, or use "
                                       "jobs=1 or a Dask client")
        return NotImplemented


def check_picklable(obj: Any) -> None:
    """A one-line ValueError if ``obj`` cannot travel to a worker process (a lambda, a closure, ...)."""
    try:
        _Probe(_Sink(), protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    except Exception as e:
        raise ValueError(f"worker processes need picklable functions (module-level, not a lambda or a "
                         f"closure): {type(e).__name__}: {e}") from None


def worker_name() -> str:
    """The Dask worker's address inside a Dask worker, else host:pid."""
    if "distributed" in sys.modules:
        try:
            return sys.modules["distributed"].get_worker().address
        except (ValueError, AttributeError):
            pass
    return f"{socket.gethostname()}:{os.getpid()}"


# ------------------------------------------------------------------ Dask
def require_distributed(what: str = "a Dask cluster") -> Any:
    """The ``distributed`` module, or a one-line ImportError naming the extra."""
    try:
        import distributed
    except ImportError:
        raise ImportError(f"{what} needs Dask: {DISTRIBUTED_EXTRA}") from None
    return distributed


def dask_client(executor: Any) -> Any:
    """The Dask client behind ``executor`` (a ``Client`` or its ``get_executor()``), else None."""
    if executor is None or type(executor).__module__.split(".")[0] != "distributed":
        return None
    return executor if hasattr(executor, "get_executor") else getattr(executor, "_client", None)


def connect(address: str, timeout: float | None = None) -> Any:
    """A Dask ``Client`` of the scheduler at ``address`` with at least one worker; one-line errors
    otherwise. ``timeout`` defaults to Dask's ``distributed.comm.timeouts.connect``."""
    distributed = require_distributed(f"--scheduler {address}")
    import dask

    if timeout is None:
        timeout = dask.utils.parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"))
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise ConnectionError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                              f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no answer'})") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        client.close()
        raise ConnectionError(f"the Dask scheduler at {address} has no workers (none joined within "
                              f"{timeout:g} s); start some with: dask worker {address}") from None
    return client


def getenv(name: str) -> str | None:
    """``os.environ.get(name)`` where it runs (``client.run(os.environ.get, ...)`` would pickle the caller's
    environment and read that)."""
    return os.environ.get(name)


def trim_warning(client: Any) -> str | None:
    """A line of advice when the Dask workers run with ``MALLOC_TRIM_THRESHOLD_`` set (the nanny's
    default), which makes small NumPy training markedly slower; None when none does."""
    try:
        found = client.run(getenv, "MALLOC_TRIM_THRESHOLD_")
    except Exception:  # advice only: never fail a sweep over it
        return None
    bad = sorted(f"{w} ({v})" for w, v in found.items() if v is not None)
    if not bad:
        return None
    more = ", ..." if len(bad) > 1 else ""
    return (f"note: {len(bad)} Dask worker(s) run with MALLOC_TRIM_THRESHOLD_ set ({bad[0]}{more}), which "
            "slows small NumPy training; start them with it unset (see the README's Sweeps section)")


@contextlib.contextmanager
def local_cluster(n_workers: int | None = None, threads_per_worker: int = 1,
                  silence_logs: int = logging.ERROR, **kwargs: Any) -> Iterator[Any]:
    """A Dask cluster of ``n_workers`` worker processes on 127.0.0.1 and a client of it, closed on exit.

    One thread per worker (the parallelism is in the processes; BLAS gets its threads per trial),
    the dashboard on a free port, and the nanny's ``MALLOC_TRIM_THRESHOLD_`` left unset: set, it made small
    NumPy training slower. The variables the nanny puts in this process's environment while it starts
    workers (``OMP_NUM_THREADS`` and the like) are restored afterwards.
    """
    distributed = require_distributed("a local Dask cluster")
    import dask

    keys = [*dask.config.get("distributed.nanny.pre-spawn-environ", {}), "PYTHONHASHSEED"]
    saved = {k: os.environ.get(k) for k in keys}
    options = {"n_workers": n_workers or os.cpu_count() or 1, "threads_per_worker": threads_per_worker,
               "processes": True, "host": "127.0.0.1", "dashboard_address": "127.0.0.1:0",
               "silence_logs": silence_logs, **kwargs}
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            cluster = distributed.LocalCluster(**options)
        try:
            with distributed.Client(cluster, set_as_default=False) as client:
                yield client
        finally:
            cluster.close()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ------------------------------------------------------------------ the pool
def _mp_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["__main__", "glassnet.sweep.tasks"])  # once, before the server starts
    return ctx


def executor_workers(executor: Any) -> int:
    """How many tasks ``executor`` runs at once (Dask: its worker threads), for splitting work."""
    client = dask_client(executor)
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    return int(getattr(executor, "_max_workers", None) or os.cpu_count() or 1)


class WorkerPool:
    """Runs ``fn(payload, *args)`` for many argument tuples: in this process (``jobs=1``), in a local pool
    of ``jobs`` processes that glassnet starts, or on ``executor`` (any ``concurrent.futures.Executor``,
    or a Dask ``Client``), with the payload placed on the workers once.
    """

    def __init__(self, payload: Any, executor: Any = None, jobs: int = 1) -> None:
        self.payload = payload
        self.client = dask_client(executor)
        self._scattered = None
        self._pool: ProcessPoolExecutor | None = None
        self._shared: SharedPayload | None = None
        self.restarts = 0
        self.handle: Any = _Box(payload)
        if executor is None:
            self.jobs = int(jobs)
            self.executor = None
            if self.jobs > 1:
                check_picklable(payload)
                self._shared = share(payload)
                self._start_pool()
        elif self.client is not None:
            self.executor = executor if not hasattr(executor, "get_executor") else executor.get_executor(pure=False)
            self.jobs = executor_workers(self.client)
            self._scattered = self.client.scatter(_Box(payload), broadcast=True, hash=False)
            self.handle = self._scattered
        elif isinstance(executor, Executor):
            self.executor, self.jobs, self.handle = executor, executor_workers(executor), _Box(payload)
        else:
            raise ValueError(f"executor must be a concurrent.futures.Executor or a Dask Client, got "
                             f"{type(executor).__name__}")

    @property
    def where(self) -> str:
        """In words, for progress messages."""
        if self.executor is None:
            return "this process" if self.jobs == 1 else f"{self.jobs} local processes"
        if self.client is not None:
            return f"the Dask cluster at {self.client.scheduler.address} ({self.jobs} worker threads)"
        return f"{type(self.executor).__name__} ({self.jobs} workers)"

    def _start_pool(self) -> None:
        token = uuid.uuid4().hex
        initargs = (token, None, self._shared.spec) if self._shared is not None else (token, self.payload)
        self._pool = ProcessPoolExecutor(self.jobs, mp_context=_mp_context(), initializer=_install,
                                         initargs=initargs)
        self.executor = None
        self.handle = _Installed(token)

    def _submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Future:
        target = self._pool if self._pool is not None else self.executor
        return target.submit(_call, fn, self.handle, *args)

    def map_unordered(self, fn: Callable[..., Any], arglist: Iterable[tuple[Any, ...]]
                      ) -> Iterator[tuple[tuple[Any, ...], Any]]:
        """Yield ``(args, result)`` as each call finishes; ``result`` is the exception for a call that
        raised or whose worker was lost for good (the caller decides what that means)."""
        arglist = list(arglist)
        if self._pool is None and self.executor is None:  # jobs == 1: in this process, in order
            for args in arglist:
                try:
                    yield args, _call(fn, self.handle, *args)
                except Exception as e:
                    yield args, e
            return
        pending = {self._submit(fn, args): args for args in arglist}
        while pending:
            done, _ = wait(pending, timeout=_POLL_S, return_when=FIRST_COMPLETED)
            broken = []
            for f in done:
                args = pending.pop(f)
                exc = CancelledError("the task was cancelled") if f.cancelled() else f.exception()
                if isinstance(exc, BrokenExecutor) and self._pool is not None:
                    broken.append(args)
                else:
                    yield args, (exc if exc is not None else f.result())
            if broken:
                yield from self._restart(fn, pending, broken)

    def _restart(self, fn: Callable[..., Any], pending: dict[Future, tuple[Any, ...]],
                 broken: list[tuple[Any, ...]]) -> Iterator[tuple[tuple[Any, ...], Any]]:
        """A worker process died: collect what the broken pool still finishes, start a new pool and hand it
        the unfinished calls."""
        deadline = time.monotonic() + 60.0
        while pending and time.monotonic() < deadline:  # a broken pool fails its futures at once
            done, _ = wait(pending, timeout=_POLL_S)
            for f in done:
                args = pending.pop(f)
                exc = f.exception() if not f.cancelled() else CancelledError()
                if exc is None:
                    yield args, f.result()
                else:
                    broken.append(args)
        broken.extend(pending.values())
        pending.clear()
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            raise RuntimeError(f"worker processes died {self.restarts} times (the last while running "
                               f"{len(broken)} task(s)); giving up. If they die as they start, what they run "
                               "may not import there: define it in a module, not in a notebook")
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._start_pool()
        pending.update({self._submit(fn, args): args for args in broken})

    def map(self, fn: Callable[..., Any], arglist: Iterable[tuple[Any, ...]]) -> list[Any]:
        """The results in the order of ``arglist``; the first exception (by position) is raised."""
        arglist = list(arglist)
        out: list[Any] = [None] * len(arglist)
        for (i, _, _), result in self.map_unordered(_indexed, [(i, fn, a) for i, a in enumerate(arglist)]):
            out[i] = result
        for r in out:
            if isinstance(r, BaseException):
                raise r
        return out

    def close(self, cancel: bool = False) -> None:
        """Stop the local pool (cancelling what has not started when ``cancel``); release scattered data."""
        if self._pool is not None:
            processes = list((getattr(self._pool, "_processes", None) or {}).values()) if cancel else []
            self._pool.shutdown(wait=not cancel, cancel_futures=cancel)
            for p in processes:  # cancelled: do not wait for the trials in flight to finish
                with contextlib.suppress(Exception):
                    p.terminate()
                    p.join(5)
            self._pool = None
        if self._shared is not None:
            self._shared.close()
            self._shared = None
        if cancel and self.client is not None and hasattr(self.executor, "shutdown"):
            self.executor.shutdown(wait=False)
        if self._scattered is not None:
            with contextlib.suppress(Exception):
                self._scattered.release()
            self._scattered = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        self.close(cancel=exc_type is not None)
