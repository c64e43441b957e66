"""glassnet: neural networks on NumPy, with every internal quantity open to inspection."""

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
from glassnet.callbacks import (
    Callback,
    EarlyStopping,
    History,
    ModelCheckpoint,
    ProgressBar,
    Recorder,
    ReduceLROnPlateau,
)
from glassnet.encoding import one_hot
from glassnet.gradcheck import gradcheck, numerical_gradient
from glassnet.io import ModelFileError, load
from glassnet.layers import Dense, Dropout, Flatten, Layer, Maxout, Parameter, Reshape
from glassnet.losses import LOSSES, BinaryCrossEntropy, CrossEntropy, Loss, MeanSquaredError, get_loss
from glassnet.model import DivergenceError, Sequential
from glassnet.optim import (
    SGD,
    Adam,
    ExponentialDecay,
    InverseTimeDecay,
    Optimizer,
    RMSProp,
    Schedule,
    StepDecay,
)

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "LOSSES", "SGD", "Activation", "Adam", "BinaryCrossEntropy", "Callback", "CrossEntropy",
    "Dense", "DivergenceError", "Dropout", "EarlyStopping", "ExponentialDecay", "Flatten", "History",
    "InverseTimeDecay", "Layer", "LeakyReLU", "Linear", "Loss", "Maxout", "MeanSquaredError",
    "ModelCheckpoint", "ModelFileError", "Optimizer", "Parameter", "ProgressBar", "RMSProp", "ReLU",
    "Recorder", "ReduceLROnPlateau", "Reshape", "Schedule", "Sequential", "Sigmoid", "Softmax", "Softplus",
    "Softsign", "Step", "StepDecay", "Swish", "Tanh", "get_activation", "get_loss", "gradcheck", "load",
    "numerical_gradient", "one_hot",
]
