"""Work spread over processes: any ``concurrent.futures.Executor`` (a Dask client's ``get_executor()`` is one),
or glassnet's own local pool, whose workers hold one shared payload (the network and its data) once each.
Used by the sweeps, random restarts and the genetic algorithm alike.
"""

from glassnet.parallel.executors import WorkerPool, connect, local_cluster

__all__ = ["WorkerPool", "connect", "local_cluster"]
