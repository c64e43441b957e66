"""The presets: named settings for an MNIST digit recogniser, and how a setting becomes a compiled network and
is trained. ``glassnet train``, the sweeps and the playground all build and train through here, so a preset
means the same thing everywhere.
"""

from __future__ import annotations

from typing import Any

from glassnet._base.registry import lookup
from glassnet.model.sequential import Sequential
from glassnet.nn.augment import Augment
from glassnet.nn.conv import Conv2D, MaxPool2D
from glassnet.nn.layers import Dense, Dropout, Flatten, Layer, Reshape
from glassnet.nn.losses import get_loss, smoothed_loss
from glassnet.nn.normalization import BatchNorm
from glassnet.nn.recurrent import LSTM
from glassnet.optim.optimizers import OPTIMIZERS, SGD
from glassnet.optim.schedules import learning_rate
from glassnet.train.callbacks import EarlyStopping

PRESETS: dict[str, dict[str, Any]] = {
    # "architecture": mlp (784-hidden...-10), cnn (two 5x5 conv + 2x2 max-pool stages, then the hidden dense
    # layers), lstm (the image read as 28 rows of 28 pixels by an LSTM of hidden[0] units)
    # the best MLP we know how to train here in under a minute on 2 cores: distorted digits, label smoothing and
    # cosine annealing take it past LeCun et al.'s 98.4% for 800 hidden units
    "default": {"architecture": "mlp", "hidden": [512, 256], "activation": "relu", "loss": "cross_entropy",
                "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "decay": 1.0, "epochs": 12, "batch_size": 128,
                "dropout": 0.2, "l2": 0.0, "init": "auto", "early_stopping": 0, "validation": 1 / 12,
                "schedule": "cosine", "warmup": 0, "label_smoothing": 0.1,
                "augment": "shift=1.5,rotate=8,scale=0.08,shear=0.1"},
    # Nielsen, "Neural Networks and Deep Learning", ch. 1: 784-30-10 sigmoid, quadratic cost, eta = 3.0
    "nielsen": {"architecture": "mlp", "hidden": [30], "activation": "sigmoid", "loss": "mse", "optimizer": "sgd",
                "lr": 3.0, "momentum": 0.0, "decay": 1.0, "epochs": 30, "batch_size": 10, "dropout": 0.0, "l2": 0.0,
                "init": "standard_normal", "early_stopping": 0, "validation": 1 / 12},
    # 3Blue1Brown's network: 784-16-16-10 sigmoid, quadratic cost (13,002 parameters); plain SGD plateaus
    # near 94% here; Adam at a low rate with a warm-up and cosine annealing, nearly all the training data and
    # mildly distorted digits (the network fits its training images 2.7 points better than the test images
    # without them) get past 96%; 200 epochs (60 gave a mean of 96.25% over seeds 0-2, 100 96.40%, 150 96.50%)
    "3b1b": {"architecture": "mlp", "hidden": [16, 16], "activation": "sigmoid", "loss": "mse", "optimizer": "adam",
             "lr": 0.002, "momentum": 0.0, "decay": 1.0, "epochs": 200, "batch_size": 16, "dropout": 0.0, "l2": 0.0,
             "init": "xavier", "early_stopping": 0, "validation": 0.02, "schedule": "cosine", "warmup": 1,
             "augment": "shift=1,rotate=6,scale=0.06,shear=0.08"},
    # LeNet-style: conv 5x5x32 - pool - conv 5x5x64 - pool - dense 256 - 10 (LeNet-5 reported 99.05%), trained on
    # distorted digits (Simard et al. 2003 reached 99.6% so) with label smoothing, a warm-up and cosine annealing
    "cnn": {"architecture": "cnn", "hidden": [256], "activation": "relu", "loss": "cross_entropy",
            "optimizer": "adam", "lr": 1.5e-3, "momentum": 0.0, "decay": 1.0, "epochs": 16, "batch_size": 64,
            "dropout": 0.3, "l2": 0.0, "init": "auto", "early_stopping": 0, "validation": 1 / 12,
            "schedule": "cosine", "warmup": 1, "label_smoothing": 0.1, "augment": "on"},
    # each image as a sequence of 28 rows of 28 pixels, read by an LSTM with 128 units; 36 epochs (14 gave 99.36%,
    # 50 no more than 36)
    "lstm": {"architecture": "lstm", "hidden": [128], "activation": "relu", "loss": "cross_entropy",
             "optimizer": "adam", "lr": 2e-3, "momentum": 0.0, "decay": 1.0, "epochs": 36, "batch_size": 64,
             "dropout": 0.0, "l2": 0.0, "init": "auto", "early_stopping": 0, "validation": 1 / 12,
             "schedule": "cosine", "warmup": 1, "label_smoothing": 0.1,
             "augment": "shift=2,rotate=8,scale=0.08,shear=0.1"},
}

OUTPUT_ACTIVATION = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid", "mse": "sigmoid"}
COMMON = {"l1": 0.0, "batch_norm": False, "schedule": "exponential", "warmup": 0, "label_smoothing": 0.0,
          "augment": "off"}
"""Settings every preset shares (presets may override them)."""
MNIST_META = {"task": "mnist", "input": "28x28 grey pixels in [0, 1], row-major, ink bright on 0",
              "classes": list(range(10))}
"""What a saved digit recogniser's ``meta`` says about its input and output."""


def build(cfg: dict[str, Any], seed: int) -> Sequential:
    """The compiled Sequential for a resolved configuration."""
    if cfg["loss"] not in OUTPUT_ACTIVATION:
        get_loss(cfg["loss"])  # unknown names fail with the list of losses
        raise ValueError(f"loss {cfg['loss']!r} cannot train the digit recogniser; use "
                         f"{', '.join(OUTPUT_ACTIVATION)}")
    layers: list[Layer] = []
    augment = cfg.get("augment", "off")
    if augment not in ("off", "", None):
        layers.append(Augment.from_spec(augment))
    sizes = [784, *cfg["hidden"]]
    act, bn = cfg["activation"], bool(cfg.get("batch_norm"))

    def hidden(layer: type[Layer], *args: Any, **kwargs: Any) -> list[Layer]:
        """A hidden layer computing z, then f; with batch norm z is normalised first: BatchNorm(z), then f."""
        if not bn:
            return [layer(*args, activation=act, **kwargs)]
        return [layer(*args, **kwargs), BatchNorm(activation=act)]

    if cfg["architecture"] == "cnn":
        layers += [Reshape((1, 28, 28)), *hidden(Conv2D, 1, 32, 5), MaxPool2D(2),
                   *hidden(Conv2D, 32, 64, 5), MaxPool2D(2), Flatten()]
        sizes[0] = 64 * 4 * 4
    elif cfg["architecture"] == "lstm":
        layers += [Reshape((28, 28)), LSTM(28, cfg["hidden"][0])]
        sizes = sizes[1:2]
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += hidden(Dense, n_in, n_out, init=cfg["init"])
        if cfg["dropout"]:
            layers.append(Dropout(cfg["dropout"]))
    layers.append(Dense(sizes[-1], 10, activation=OUTPUT_ACTIVATION[cfg["loss"]], init=cfg["init"]))
    lr = schedule_of(cfg)
    name = cfg["optimizer"].lower()
    if name == "sgd":
        optimizer = SGD(lr, momentum=cfg["momentum"])
    else:
        optimizer = lookup(OPTIMIZERS, name, "optimizer")(lr)
    model = Sequential(layers, seed=seed, input_shape=(784,))
    loss = smoothed_loss(cfg["loss"], cfg.get("label_smoothing", 0.0))
    return model.compile(loss=loss, optimizer=optimizer, l1=cfg.get("l1", 0.0), l2=cfg["l2"])


def schedule_of(cfg: dict[str, Any]) -> Any:
    """The learning rate of a configuration: a float, or the schedule it names."""
    return learning_rate(cfg.get("schedule", "exponential"), cfg["lr"], cfg["epochs"], cfg["decay"],
                         cfg.get("warmup", 0))


def fit_model(model: Sequential, cfg: dict[str, Any], X: Any, y: Any, seed: int, verbose: int = 0,
              callbacks: list[Any] | tuple[Any, ...] = (), log_dir: str | None = None) -> Any:
    """Train ``build(cfg, seed)``'s model on (X, y) as ``glassnet train`` does: cfg's epochs, batch size and
    validation split, early stopping on the validation loss when cfg asks for it, the run recorded in
    ``log_dir`` when given; returns the History."""
    stop = [EarlyStopping("val_loss", patience=cfg["early_stopping"])] if cfg["early_stopping"] else []
    return model.fit(X, y, epochs=cfg["epochs"], batch_size=cfg["batch_size"] or None,
                     validation_split=cfg["validation"], callbacks=[*stop, *callbacks], seed=seed, verbose=verbose,
                     log_dir=log_dir)
