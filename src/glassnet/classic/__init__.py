"""Classic learners: the perceptron rule, hand-wired logic gates, a genetic algorithm over network
weights, and random restarts.
"""

from glassnet.classic.gates import and_gate, nand_gate, nor_gate, not_gate, or_gate, xor_network
from glassnet.classic.perceptron import Boundary, ConvergenceWarning, Perceptron
from glassnet.classic.restarts import RestartRun, RestartsResult, restart_seeds, restarts
from glassnet.optim.genetic import GeneticAlgorithm

__all__ = [
    "Boundary", "ConvergenceWarning", "GeneticAlgorithm", "Perceptron", "RestartRun", "RestartsResult",
    "and_gate", "nand_gate", "nor_gate", "not_gate", "or_gate", "restart_seeds", "restarts", "xor_network",
]
