"""Optimisers, learning-rate schedules and the genetic algorithm, each registered by name.

Optimisers are given parameters (``step(params)``), never a model's layers, so dependence runs one way. The
genetic algorithm's module is imported on first use (``GeneticAlgorithm``, or ``optimizer_classes()`` when a
model file names an optimiser), so that ``import glassnet`` does not load it.
"""

import importlib
from typing import Any

from glassnet.optim.optimizers import (
    OPTIMIZER_CLASSES,
    OPTIMIZERS,
    SGD,
    Adam,
    Optimizer,
    RMSProp,
    get_optimizer,
    register_optimizer,
)
from glassnet.optim.schedules import (
    NAMED_SCHEDULES,
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    OneCycle,
    Schedule,
    StepDecay,
    learning_rate,
)


def optimizer_classes() -> dict[str, type[Optimizer]]:
    """Every optimiser class by class name, the genetic algorithm included: what a model file may name."""
    importlib.import_module("glassnet.optim.genetic")  # registers itself
    return OPTIMIZER_CLASSES


def __getattr__(name: str) -> Any:
    if name == "GeneticAlgorithm":
        return importlib.import_module("glassnet.optim.genetic").GeneticAlgorithm
    raise AttributeError(f"module 'glassnet.optim' has no attribute {name!r}")


__all__ = [
    "NAMED_SCHEDULES", "OPTIMIZERS", "OPTIMIZER_CLASSES", "SGD", "Adam", "CosineDecay", "ExponentialDecay",
    "GeneticAlgorithm", "InverseTimeDecay", "OneCycle", "Optimizer", "RMSProp", "Schedule", "StepDecay",
    "get_optimizer", "learning_rate", "optimizer_classes", "register_optimizer",
]
