"""glassnet: neural networks on NumPy, with every internal quantity open to inspection.

The data sets, the classic learners and the decompositions are imported on first use (``_LAZY``), so
that ``import glassnet`` and the command line start quickly.
"""

import importlib
from typing import Any

from glassnet.activations import (
    ACTIVATIONS,
    Activation,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Softsign,
    Step,
    Swish,
    Tanh,
    get_activation,
)
from glassnet.augment import Augment, warp
from glassnet.autoencoder import Autoencoder, DenseTied
from glassnet.callbacks import (
    Callback,
    EarlyStopping,
    History,
    ModelCheckpoint,
    ProgressBar,
    Recorder,
    ReduceLROnPlateau,
)
from glassnet.checkpoint import CheckpointError, TrainingCheckpoint
from glassnet.conv import AvgPool2D, Conv2D, MaxPool2D
from glassnet.encoding import OneHot, Vocabulary, one_hot
from glassnet.gradcheck import gradcheck, numerical_gradient
from glassnet.io import ModelFileError, load
from glassnet.layers import Dense, Dropout, Flatten, Layer, Maxout, Parameter, Reshape
from glassnet.losses import LOSSES, BinaryCrossEntropy, CrossEntropy, Loss, MeanSquaredError, get_loss
from glassnet.model import Sequential
from glassnet.noise import GaussianNoise, MaskingNoise
from glassnet.normalization import BatchNorm
from glassnet.optim import (
    SGD,
    Adam,
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    OneCycle,
    Optimizer,
    RMSProp,
    Schedule,
    StepDecay,
)
from glassnet.recurrent import LSTM, RNN
from glassnet.training import DivergenceError

__version__ = "0.1.0"

_LAZY = {
    "datasets": "glassnet.datasets",
    "explain": "glassnet.explain",
    "ConvergenceWarning": "glassnet.classic", "GeneticAlgorithm": "glassnet.classic",
    "Perceptron": "glassnet.classic", "restarts": "glassnet.classic", "xor_network": "glassnet.classic",
    "PCA": "glassnet.decomposition", "TruncatedSVD": "glassnet.decomposition",
    "randomized_svd": "glassnet.decomposition",
    "sweep": "glassnet.sweep",
}
"""Public names whose module is imported when the name is first used (PEP 562)."""


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'glassnet' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = module if _LAZY[name] == f"glassnet.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ACTIVATIONS", "LOSSES", "LSTM", "PCA", "RNN", "SGD", "Activation", "Adam", "Augment", "Autoencoder", "AvgPool2D",
    "BatchNorm", "BinaryCrossEntropy", "Callback", "CheckpointError", "Conv2D", "ConvergenceWarning", "CosineDecay",
    "CrossEntropy", "Dense", "DenseTied", "DivergenceError", "Dropout", "EarlyStopping", "ExponentialDecay", "Flatten",
    "GaussianNoise", "GeneticAlgorithm", "History", "InverseTimeDecay", "Layer", "LeakyReLU", "Linear", "Loss",
    "MaskingNoise", "MaxPool2D", "Maxout", "MeanSquaredError", "ModelCheckpoint", "ModelFileError", "OneCycle",
    "OneHot", "Optimizer", "Parameter", "Perceptron", "ProgressBar", "RMSProp", "ReLU", "Recorder", "ReduceLROnPlateau",
    "Reshape", "Schedule", "Sequential", "Sigmoid", "Softmax", "Softplus", "Softsign", "Step", "StepDecay", "Swish",
    "Tanh", "TrainingCheckpoint", "TruncatedSVD", "Vocabulary", "datasets", "get_activation", "get_loss", "gradcheck",
    "load", "numerical_gradient", "one_hot", "randomized_svd", "restarts", "sweep", "warp", "xor_network",
]
