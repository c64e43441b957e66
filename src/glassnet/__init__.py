"""glassnet: neural networks on NumPy, with every internal quantity open to inspection.

The package is built in rooms, each depending only on the rooms below it (the rule is the import-linter
contract in pyproject.toml)::

    commands/, playground/            the faces: command line and browser
    explain/, sweep/, classic/,       subsystems, each one room with one entry point
      sklearn, onnx
    presets, plot/                    the presets (built and trained alike everywhere); pictures
    train/                            the loop, callbacks, checkpoints
    model/                            Sequential, per-layer statistics, its file format
    optim/                            optimisers, schedules, the genetic algorithm (registered by name)
    nn/, data/, datasets/, metrics,   layers, activations, losses; encodings, pictures; data sets; labels;
      parallel/, decomposition/       process pools; PCA, SVD, LDA
    _kernels/                         the optional compiled kernels (numba), chosen by set_kernels
    _base/                            checks, registries, extras, BLAS control, atomic files, schemas

The data sets, the classic learners and the decompositions are imported on first use (``_LAZY``), so
that ``import glassnet`` and the command line start quickly.
"""

import importlib
from typing import Any

from glassnet import _moved
from glassnet._base import sleep as _sleep  # noqa: F401  # before NumPy loads OpenBLAS (see its docstring)
from glassnet._base.version import __version__ as __version__
from glassnet._kernels import kernels, set_kernels
from glassnet.data.encoding import OneHot, Vocabulary, one_hot
from glassnet.model.file import ModelFileError, load
from glassnet.model.sequential import Sequential
from glassnet.nn.activations import (
    ACTIVATIONS,
    Activation,
    LeakyReLU,
    Linear,
    LogSoftmax,
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
from glassnet.nn.activations_deep import ELU, GELU, SELU, HardSigmoid
from glassnet.nn.augment import Augment, warp
from glassnet.nn.conv import AvgPool2D, Conv2D, MaxPool2D
from glassnet.nn.gru import GRU
from glassnet.nn.layers import Dense, Dropout, Flatten, Layer, Maxout, Parameter, Reshape
from glassnet.nn.losses import LOSSES, BinaryCrossEntropy, CrossEntropy, Loss, MeanSquaredError, get_loss
from glassnet.nn.noise import GaussianNoise, MaskingNoise
from glassnet.nn.normalization import BatchNorm
from glassnet.nn.recurrent import LSTM, RNN
from glassnet.nn.tied import DenseTied
from glassnet.optim.optimizers import SGD, Adam, Optimizer, RMSProp
from glassnet.optim.schedules import CosineDecay, ExponentialDecay, InverseTimeDecay, OneCycle, Schedule, StepDecay
from glassnet.train.callbacks import (
    Callback,
    EarlyStopping,
    History,
    ModelCheckpoint,
    ProgressBar,
    Recorder,
    ReduceLROnPlateau,
)
from glassnet.train.loop import DivergenceError

_moved.install()


_LAZY = {
    "datasets": "glassnet.datasets",
    "explain": "glassnet.explain",
    "Autoencoder": "glassnet.classic.autoencoder",
    "ConvergenceWarning": "glassnet.classic", "GeneticAlgorithm": "glassnet.optim.genetic",
    "Perceptron": "glassnet.classic", "restarts": "glassnet.classic", "xor_network": "glassnet.classic",
    "LDA": "glassnet.decomposition", "PCA": "glassnet.decomposition",
    "TruncatedSVD": "glassnet.decomposition", "randomized_svd": "glassnet.decomposition",
    "sweep": "glassnet.sweep",
    "gradcheck": "glassnet.model.gradcheck", "numerical_gradient": "glassnet.model.gradcheck",
    "CheckpointError": "glassnet.train.checkpoint", "TrainingCheckpoint": "glassnet.train.checkpoint",
    "RunLogger": "glassnet.train.runs", "load_run": "glassnet.train.runs", "Run": "glassnet.train.runs",
    "RunError": "glassnet.train.runs",
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
    "CrossEntropy", "Dense", "DenseTied", "DivergenceError", "Dropout", "ELU", "EarlyStopping", "ExponentialDecay",
    "Flatten", "GELU", "GRU", "GaussianNoise", "GeneticAlgorithm", "HardSigmoid", "History", "InverseTimeDecay", "LDA",
    "Layer", "LeakyReLU", "Linear", "LogSoftmax", "Loss",
    "MaskingNoise", "MaxPool2D", "Maxout", "MeanSquaredError", "ModelCheckpoint", "ModelFileError", "OneCycle",
    "OneHot", "Optimizer", "Parameter", "Perceptron", "ProgressBar", "RMSProp", "ReLU", "Recorder", "ReduceLROnPlateau",
    "Reshape", "Run", "RunError", "RunLogger", "SELU", "Schedule", "Sequential", "Sigmoid", "Softmax", "Softplus",
    "Softsign", "Step", "StepDecay", "Swish", "Tanh", "TrainingCheckpoint", "TruncatedSVD", "Vocabulary", "datasets",
    "get_activation", "get_loss", "gradcheck", "kernels", "load", "load_run", "numerical_gradient", "one_hot",
    "randomized_svd", "set_kernels",
    "restarts", "sweep", "warp", "xor_network",
]
