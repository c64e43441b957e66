"""A genetic algorithm over the weights of a network: training without gradients.

Each individual is one flat weight vector theta (every parameter of the model, concatenated); its
fitness is the loss C(theta) on the batch. One generation:

    1. evaluate    C(theta_i) for every individual i                       (``population`` evaluations)
    2. elitism     the ``elite`` best individuals pass on unchanged
    3. selection   each parent is the best of ``tournament`` individuals drawn at random
    4. crossover   uniform:  child_j = parent1_j or parent2_j with probability 1/2 each
                   blend:    child_j = p1_j + u_j (p2_j - p1_j),  u_j ~ U(-alpha, 1 + alpha)   (BLX-alpha)
    5. mutation    child_j += sigma * N(0, 1)  with probability ``mutation_rate`` per weight

The model ends each generation holding the best individual. Because the step function has no useful
derivative, this is also a way to train networks of :class:`~glassnet.activations.Step` units.
Step 1 can run on an ``executor`` (any ``concurrent.futures.Executor``, or a Dask ``Client``): the population
is cut into one slice per worker, and the network and batch go to each worker once per batch.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet._base.schema import Choice, Float, Int, class_schema
from glassnet.nn.layers import Parameter
from glassnet.optim.optimizers import Optimizer, register_optimizer
from glassnet.optim.schedules import Schedule

if TYPE_CHECKING:
    from glassnet.model.sequential import Sequential

CROSSOVERS = ("uniform", "blend")


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


@register_optimizer
class GeneticAlgorithm(Optimizer):
    """Gradient-free optimiser: one ``train_step`` is one generation of a genetic algorithm.

    ``mutation_scale`` sigma (a float or a :class:`~glassnet.Schedule` of the epoch) plays the part
    of the learning rate and is reported as ``lr``. The first generation is the model's current weights
    theta_0 and ``population - 1`` perturbations  theta_0 + ``init_scale`` * N(0, I).
    ``evaluations`` counts loss evaluations (forward passes); ``best_loss`` is the last generation's best.
    Use with ``model.fit(X, Y, epochs=generations, batch_size=None)``: with mini-batches each generation
    sees one batch. ``executor`` evaluates the population in parallel (worth it when one evaluation costs
    well over a millisecond: large batches or networks); the fitness values, hence the run, are the same.
    """

    uses_gradients = False
    config_schema = {"population": Int(2), "elite": Int(0), "tournament": Int(1), "crossover": Choice(CROSSOVERS),
                     "mutation_rate": Float(0, 1), "mutation_scale": Float(0, low_open=True), "init_scale": Float(0),
                     "blend_alpha": Float(0)}

    def __init__(self, population: int = 50, elite: int = 2, tournament: int = 3, crossover: str = "uniform",
                 mutation_rate: float = 0.3, mutation_scale: float | Schedule = 0.5, init_scale: float = 1.0,
                 blend_alpha: float = 0.5, seed: int | None = None, executor: Any = None) -> None:
        if not callable(mutation_scale) and not (math.isfinite(mutation_scale) and mutation_scale > 0):
            raise ValueError(f"mutation_scale must be a positive number or a Schedule, got {mutation_scale!r}")
        super().__init__(mutation_scale)
        self.population = _positive_int(population, "population", 2)
        self.elite = _positive_int(elite, "elite", 0)
        if self.elite >= self.population:
            raise ValueError(f"elite must be smaller than population = {self.population}, got {elite}")
        self.tournament = _positive_int(tournament, "tournament", 1)
        if crossover not in CROSSOVERS:
            raise ValueError(f"unknown crossover {crossover!r}; known: {', '.join(CROSSOVERS)}")
        self.crossover = crossover
        if not 0.0 <= float(mutation_rate) <= 1.0:
            raise ValueError(f"mutation_rate must be in [0, 1], got {mutation_rate!r}")
        self.mutation_rate = float(mutation_rate)
        if not (math.isfinite(init_scale) and init_scale >= 0):
            raise ValueError(f"init_scale must be a finite number >= 0, got {init_scale!r}")
        self.init_scale = float(init_scale)
        if not (math.isfinite(blend_alpha) and blend_alpha >= 0):
            raise ValueError(f"blend_alpha must be a finite number >= 0, got {blend_alpha!r}")
        self.blend_alpha = float(blend_alpha)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.evaluations = 0
        self.best_loss = math.inf
        self.genomes: np.ndarray | None = None
        """The current population, one flat weight vector per row (population, n_weights)."""
        self.fitness: np.ndarray | None = None
        """Losses of the last evaluated generation, in the order of ``genomes`` before breeding."""
        self._layout: list[tuple[int, tuple[int, ...]]] | None = []
        self.executor = executor
        self._pool: Any = None  # (batch digest, WorkerPool holding the network and the batch)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(executor=None, _pool=None)  # executors do not travel; a copy evaluates in its process
        return state

    @property
    def mutation_scale(self) -> float:
        """sigma of the current epoch (the ``lr`` slot of the optimiser)."""
        return self.lr

    @property
    def generations(self) -> int:
        return self.iterations

    # ------------------------------------------------------------------ flat weight vectors
    @staticmethod
    def flatten(params: Sequence[Parameter]) -> np.ndarray:
        """theta: every parameter's value, concatenated into one vector."""
        return np.concatenate([p.value.reshape(-1) for p in params])

    @staticmethod
    def unflatten(theta: np.ndarray, params: Sequence[Parameter]) -> None:
        """Copy the flat vector theta into the parameters, in place."""
        start = 0
        for p in params:
            stop = start + p.value.size
            p.value[...] = theta[start:stop].reshape(p.value.shape)
            start = stop

    def _start(self, model: Sequential) -> None:
        params = model.parameters()
        theta0 = self.flatten(params)
        noise = self.rng.standard_normal((self.population - 1, theta0.size))
        noise *= self.init_scale
        self.genomes = np.concatenate([theta0[None, :], theta0 + noise]).astype(model.dtype)
        self._layout = [(id(p), p.value.shape) for p in params]

    # ------------------------------------------------------------------ one generation
    def train_step(self, model: Sequential, x: np.ndarray, y: np.ndarray) -> float:
        """Evaluate the population on (x, y), leave the best in the model, breed the next generation;
        returns the best loss."""
        params = model.parameters()
        layout = [(id(p), p.value.shape) for p in params]
        if self._layout is None and self.genomes is not None:  # restored from a checkpoint
            if self.genomes.shape[1] != sum(p.value.size for p in params):
                raise ValueError(f"the restored population has {self.genomes.shape[1]} weights, the model "
                                 f"{sum(p.value.size for p in params)}")
            self._layout = layout
        if self.genomes is None or self._layout != layout:
            self._start(model)
        pop = self.genomes
        fitness = self._fitness(model, pop, x, y) if self.executor is not None else _losses((model, x, y), pop)
        self.evaluations += self.population
        fitness[~np.isfinite(fitness)] = np.inf
        self.fitness = fitness
        order = np.argsort(fitness, kind="stable")
        best = int(order[0])
        self.unflatten(pop[best], params)
        model.forward(x)  # leave the best individual's pass in the layers (for fit's accuracy)
        self.best_loss = float(fitness[best])
        self.genomes = np.concatenate([pop[order[:self.elite]], self._offspring(pop, fitness)])
        self.iterations += 1
        return self.best_loss

    def _fitness(self, model: Sequential, pop: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """C(theta_i) for every individual, one slice of the population per worker of the executor."""
        from glassnet.parallel.executors import WorkerPool

        digest = hashlib.blake2b(digest_size=16)
        for a in (x, y):
            a = np.ascontiguousarray(a)
            digest.update(f"{a.shape}{a.dtype}".encode())
            digest.update(memoryview(a).cast("B"))
        if self._pool is None or self._pool[0] != digest.digest():
            if self._pool is not None:
                self._pool[1].close()
            clone = copy.copy(model)  # the network without its optimiser (this object) or history
            clone.optimizer, clone.history = None, None
            self._pool = (digest.digest(), WorkerPool((clone, x, y), self.executor))
        pool = self._pool[1]
        slices = np.array_split(pop, min(self.population, pool.jobs))
        return np.concatenate(pool.map(_losses, [(s,) for s in slices]))

    def _select(self, fitness: np.ndarray, n: int) -> np.ndarray:
        """Indices of n tournament winners: the fittest of ``tournament`` random draws each."""
        cand = self.rng.integers(0, self.population, size=(n, self.tournament))
        return np.take_along_axis(cand, np.argmin(fitness[cand], axis=1)[:, None], axis=1)[:, 0]

    def _offspring(self, pop: np.ndarray, fitness: np.ndarray) -> np.ndarray:
        n = self.population - self.elite
        p1, p2 = pop[self._select(fitness, n)], pop[self._select(fitness, n)]
        if self.crossover == "uniform":
            children = np.where(self.rng.random(p1.shape) < 0.5, p1, p2)
        else:
            a = self.blend_alpha
            u = self.rng.uniform(-a, 1.0 + a, size=p1.shape).astype(pop.dtype)
            children = p1 + u * (p2 - p1)
        mutate = self.rng.random(children.shape) < self.mutation_rate
        children += mutate * (self.mutation_scale * self.rng.standard_normal(children.shape)).astype(pop.dtype)
        return children

    def state_dict(self, params: Sequence[Parameter]) -> dict[str, Any]:
        """The base state plus the population, its fitness, the counters and the generator's state."""
        return {**super().state_dict(params), "rng": self.rng.bit_generator.state, "evaluations": self.evaluations,
                "best_loss": None if math.isinf(self.best_loss) else self.best_loss,
                "genomes": self.genomes, "fitness": self.fitness}

    def load_state_dict(self, state: dict[str, Any], params: Sequence[Parameter]) -> None:
        super().load_state_dict(state, params)
        self.rng.bit_generator.state = state["rng"]
        self.evaluations = int(state["evaluations"])
        self.best_loss = math.inf if state["best_loss"] is None else float(state["best_loss"])
        self.genomes, self.fitness = (None if a is None else np.array(a) for a in (state["genomes"], state["fitness"]))
        self._layout = None  # the next generation adopts the model's parameters instead of starting afresh

    def step(self, params: Sequence[Parameter]) -> None:
        raise RuntimeError("GeneticAlgorithm uses no gradients: it trains through train_step (model.fit)")

    @classmethod
    def config_fields(cls) -> tuple[dict[str, Any], set[str]]:
        """The saved settings: every constructor argument but the executor, which stays with its process."""
        return class_schema(cls, skip=("executor",))

    def get_config(self) -> dict[str, Any]:
        return {"population": self.population, "elite": self.elite, "tournament": self.tournament,
                "crossover": self.crossover, "mutation_rate": self.mutation_rate,
                "mutation_scale": self.mutation_scale, "init_scale": self.init_scale,
                "blend_alpha": self.blend_alpha, "seed": self.seed}


def _losses(payload: tuple[Sequential, np.ndarray, np.ndarray], genomes: np.ndarray) -> np.ndarray:
    """C(theta) on the batch for each row theta of ``genomes`` (non-finite losses count as inf)."""
    model, x, y = payload
    params = model.parameters()
    fitness = np.empty(len(genomes))
    for i, theta in enumerate(genomes):
        GeneticAlgorithm.unflatten(theta, params)
        fitness[i] = model.loss_value(x, y)
    return fitness
