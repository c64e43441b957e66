"""Optimisers, learning-rate schedules and the genetic algorithm, each registered by name.

Optimisers are given parameters (``step(params)``), never a model's layers, so dependence runs one way.
"""

from glassnet.optim.genetic import GeneticAlgorithm
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

__all__ = [
    "NAMED_SCHEDULES", "OPTIMIZERS", "OPTIMIZER_CLASSES", "SGD", "Adam", "CosineDecay", "ExponentialDecay",
    "GeneticAlgorithm", "InverseTimeDecay", "OneCycle", "Optimizer", "RMSProp", "Schedule", "StepDecay",
    "get_optimizer", "learning_rate", "register_optimizer",
]
