"""scikit-learn estimators around a glassnet network: ``GlassnetClassifier`` and ``GlassnetRegressor``.

They take part in a ``Pipeline``, ``GridSearchCV`` or ``cross_val_score`` like any scikit-learn estimator,
and pass scikit-learn's estimator checks. As in skorch and scikeras, the constructor only stores its
arguments; ``fit`` checks them, builds the network (a dense stack, or whatever ``build`` returns),
compiles it and trains it. The fitted network is ``model_``, a glass box as ever:
``est.model_.layers[0].a`` holds the hidden activations of the last pass.

Needs scikit-learn (``pip install 'glassnet[sklearn]'``); the core never imports this module.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(f"glassnet.sklearn needs scikit-learn ({e}): pip install 'glassnet[sklearn]'") from None

import glassnet as gn
from glassnet.optim.optimizers import OPTIMIZERS

__all__ = ["GlassnetClassifier", "GlassnetRegressor"]

_OUTPUT_ACTIVATION = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid", "mse": None}
"""Output activation of the default network for each loss (the fused partners; mse: linear)."""

_META = ("n_features_in", "n_outputs", "seed")
"""What ``build`` may ask for by name, besides any hyperparameter of the estimator."""


def _check(ok: bool, name: str, expected: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)


class _GlassnetEstimator(BaseEstimator):
    """Shared parameters and training of the two estimators (see :class:`GlassnetClassifier`)."""

    _regressor = False

    def __init__(self, hidden: Any = (100,), activation: str = "relu", loss: str | None = None,
                 optimizer: str = "adam", lr: float = 1e-3, momentum: float = 0.9, decay: float = 1.0,
                 batch_size: int | None = 32, epochs: int = 50, l1: float = 0.0, l2: float = 0.0,
                 dropout: float = 0.0, init: str = "auto", early_stopping: bool = False,
                 validation_fraction: float = 0.1, patience: int = 5, dtype: str = "float32",
                 build: Callable[..., gn.Sequential] | None = None, random_state: Any = None, verbose: int = 0,
                 warm_start: bool = False) -> None:
        self.hidden = hidden
        self.activation = activation
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.decay = decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.l1 = l1
        self.l2 = l2
        self.dropout = dropout
        self.init = init
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.dtype = dtype
        self.build = build
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------ parameters
    def _hidden_sizes(self) -> list[int]:
        sizes = [self.hidden] if _is_int(self.hidden) else self.hidden
        try:
            sizes = list(sizes)
        except TypeError:
            sizes = None
        _check(sizes is not None and all(_is_int(s) and s >= 1 for s in sizes), "hidden",
               "a sequence of positive layer sizes such as (100,)", self.hidden)
        return [int(s) for s in sizes]

    def _validate_params(self) -> None:
        """One-line errors for bad hyperparameters; run by every fit (they are stored as given)."""
        self._hidden_sizes()
        _check(isinstance(self.optimizer, str) and self.optimizer.lower() in OPTIMIZERS, "optimizer",
               f"one of {', '.join(sorted(OPTIMIZERS))}", self.optimizer)
        _check(self.loss is None or self.loss in _OUTPUT_ACTIVATION, "loss",
               f"None or one of {', '.join(_OUTPUT_ACTIVATION)}", self.loss)
        _check(_is_number(self.lr) and self.lr > 0, "lr", "a positive number", self.lr)
        _check(_is_number(self.momentum) and 0 <= self.momentum < 1, "momentum", "in [0, 1)", self.momentum)
        _check(_is_number(self.decay) and 0 < self.decay <= 1, "decay", "in (0, 1]", self.decay)
        _check(self.batch_size is None or (_is_int(self.batch_size) and self.batch_size >= 1), "batch_size",
               "a positive integer or None (full batch)", self.batch_size)
        _check(_is_int(self.epochs) and self.epochs >= 1, "epochs", "a positive integer", self.epochs)
        for name in ("l1", "l2"):
            value = getattr(self, name)
            _check(_is_number(value) and value >= 0, name, "a number >= 0", value)
        _check(_is_number(self.dropout) and 0 <= self.dropout < 1, "dropout", "in [0, 1)", self.dropout)
        _check(isinstance(self.early_stopping, bool | np.bool_), "early_stopping", "True or False",
               self.early_stopping)
        _check(_is_number(self.validation_fraction) and 0 < self.validation_fraction < 1, "validation_fraction",
               "in (0, 1)", self.validation_fraction)
        _check(_is_int(self.patience) and self.patience >= 1, "patience", "a positive integer", self.patience)
        try:
            dtype = np.dtype(self.dtype).name
        except TypeError:
            dtype = None
        _check(dtype in ("float32", "float64"), "dtype", "'float32' or 'float64'", self.dtype)
        _check(self.build is None or callable(self.build), "build", "None or a callable returning a Sequential",
               self.build)
        _check(_is_int(self.verbose) and self.verbose >= 0, "verbose", "an integer >= 0", self.verbose)

    # ------------------------------------------------------------------ the network
    def _network(self, n_features: int, n_outputs: int, seed: int) -> gn.Sequential:
        """A new compiled network: ``build(...)`` if given, else the dense stack of ``hidden``."""
        loss = self._default_loss(n_outputs) if self.loss is None else self.loss
        if self.build is None:
            sizes, layers = [n_features, *self._hidden_sizes()], []
            for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
                layers.append(gn.Dense(n_in, n_out, activation=self.activation, init=self.init))
                if self.dropout:
                    layers.append(gn.Dropout(self.dropout))
            layers.append(gn.Dense(sizes[-1], n_outputs, self._output_activation(loss), init=self.init))
            model = gn.Sequential(layers, dtype=self.dtype, seed=seed)
        else:
            model = self._call_build(n_features, n_outputs, seed)
            if self.loss is None:
                loss = self._default_loss(model.output_shape[-1])
        name = self.optimizer.lower()  # the learning-rate schedule is set by each fit
        optimizer = gn.SGD(self.lr, momentum=self.momentum) if name == "sgd" else OPTIMIZERS[name](self.lr)
        return model.compile(loss=loss, optimizer=optimizer, l1=self.l1, l2=self.l2)

    def _call_build(self, n_features: int, n_outputs: int, seed: int) -> gn.Sequential:
        """``build`` called with the keywords it names among ``_META`` and the hyperparameters."""
        offered = {**self.get_params(deep=False), "n_features_in": n_features, "n_outputs": n_outputs,
                   "seed": seed}
        offered.pop("build")
        params = inspect.signature(self.build).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            kwargs = offered
        else:
            kwargs = {k: v for k, v in offered.items() if k in params}
        model = self.build(**kwargs)
        if not isinstance(model, gn.Sequential):
            raise ValueError(f"build must return a glassnet Sequential, got {type(model).__name__}")
        if int(np.prod(model.input_shape)) != n_features:
            raise ValueError(f"build returned a network for inputs of shape {model.input_shape}, "
                             f"X has {n_features} features")
        if model.output_shape not in self._output_shapes(n_outputs):
            raise ValueError(f"build returned a network with outputs of shape {model.output_shape}, "
                             f"the targets need {self._output_shapes(n_outputs)[0]}")
        return model

    def _output_shapes(self, n_outputs: int) -> list[tuple[int, ...]]:
        return [(n_outputs,)]

    # ------------------------------------------------------------------ training
    def _fit(self, X: Any, y: Any, epochs: int, partial: bool, classes: Any = None) -> _GlassnetEstimator:
        self._validate_params()
        reset = not hasattr(self, "model_") or not (partial or self.warm_start)
        X, y = validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32),
                             multi_output=self._regressor, y_numeric=self._regressor)
        Y = self._targets(y, reset, classes)
        if reset:
            self._random = check_random_state(self.random_state)
            seed = int(self._random.randint(np.iinfo(np.int32).max))
            self.model_ = self._network(X.shape[1], Y.shape[1] if Y.ndim == 2 else len(self.classes_), seed)
            self.n_iter_, self.history_ = 0, {}
        model = self.model_
        model.optimizer.schedule = gn.ExponentialDecay(self.lr * self.decay**self.n_iter_, self.decay)  # eta_t
        X = X.reshape(X.shape[0], *model.input_shape)
        callbacks, validation = [], None
        if self.early_stopping and not partial:
            X, Xv, Y, Yv = self._split(X, Y)
            validation = (Xv, Yv)
            callbacks.append(gn.EarlyStopping("val_loss", patience=self.patience))
        history = model.fit(X, Y, epochs=epochs, batch_size=self.batch_size, validation_data=validation,
                            callbacks=callbacks, seed=int(self._random.randint(np.iinfo(np.int32).max)),
                            verbose=self.verbose)
        self.n_iter_ += len(history.epoch)
        for key, values in history.history.items():
            self.history_.setdefault(key, []).extend(values)
        return self

    def _split(self, X: np.ndarray, Y: np.ndarray) -> list[np.ndarray]:
        """Hold out ``validation_fraction`` of the samples for early stopping (stratified by class when
        every class has at least two samples)."""
        n_val = max(1, int(round(self.validation_fraction * X.shape[0])))
        if X.shape[0] - n_val < 1:
            raise ValueError(f"early_stopping needs at least 2 samples, got {X.shape[0]}")
        stratify = None
        if Y.ndim == 1:  # class indices
            counts = np.bincount(Y)
            if counts[counts > 0].min() >= 2 and n_val >= np.count_nonzero(counts):
                stratify = Y
        return train_test_split(X, Y, test_size=n_val, random_state=self._random, stratify=stratify)

    def _raw_predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        model = self.model_
        return model.predict(X.reshape(X.shape[0], *model.input_shape)).astype(np.float64)


class GlassnetClassifier(ClassifierMixin, _GlassnetEstimator):
    """A glassnet network as a scikit-learn classifier.

    The default network is  X -> Dense(h, activation) [-> Dropout] ... -> Dense(n_classes, softmax)
    for ``hidden = (h, ...)``, trained on the cross-entropy with ``optimizer`` ("adam", "sgd" with
    ``momentum``, "rmsprop") at learning rate eta_t = lr * decay^t in epoch t, mini-batches of
    ``batch_size`` (None: full batch), ``epochs`` passes, L1/L2 penalties ``l1`` and ``l2`` on the
    weights, and ``init`` ("auto", "he", "xavier", ...). ``loss`` may instead be "mse" or
    "binary_cross_entropy" (sigmoid outputs). With ``early_stopping`` (in ``fit``) a stratified
    ``validation_fraction`` is held out and training stops after ``patience`` epochs without a lower
    validation loss, keeping the best weights. ``dtype`` is "float32" (default) or "float64";
    ``random_state`` fixes the initial weights, the shuffling and the dropout masks.

    ``build``: a callable returning an uncompiled :class:`~glassnet.Sequential` for any architecture (a
    CNN, an LSTM); it is called with the keywords it names among ``n_features_in``, ``n_outputs`` (the
    number of classes), ``seed`` (from ``random_state``) and the estimator's own parameters (so that
    ``GridSearchCV`` can search them), and must give one output per class (one sigmoid output also
    serves two classes). Rows of X are reshaped to the network's ``input_shape``. The estimator
    compiles it with its own loss and optimiser settings.

    Fitted attributes: ``classes_``, ``n_features_in_``, ``n_iter_`` (epochs trained), ``history_`` (the
    per-epoch "loss", "accuracy", "val_loss", ... lists) and ``model_``, the fitted Sequential.
    ``warm_start=True`` makes ``fit`` continue training ``model_``; ``partial_fit`` trains one epoch
    (``classes=`` on the first call).
    """

    def fit(self, X: Any, y: Any) -> GlassnetClassifier:
        """Train on samples X (n, n_features) and class labels y (n,)."""
        return self._fit(X, y, self.epochs, partial=False)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> GlassnetClassifier:
        """One epoch on (X, y); the first call needs every class in ``classes``."""
        if not hasattr(self, "model_") and classes is None:
            raise ValueError("the first call to partial_fit needs classes=, every label y can take")
        return self._fit(X, y, 1, partial=True, classes=classes)

    def _targets(self, y: np.ndarray, reset: bool, classes: Any) -> np.ndarray:
        """Class indices 0..k-1 of the labels y (classes_ set when ``reset``)."""
        check_classification_targets(y)
        if classes is not None and not reset and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes must be the same in every call to partial_fit: {self.classes_.tolist()}, "
                             f"got {np.unique(classes).tolist()}")
        if reset:
            self.classes_ = np.unique(y if classes is None else np.asarray(classes))
            if len(self.classes_) < 2:
                raise ValueError(f"{type(self).__name__} needs at least 2 classes in y, got 1 class "
                                 f"({self.classes_[0]!r})")
        index = np.searchsorted(self.classes_, y)
        index[index >= len(self.classes_)] = 0
        unknown = self.classes_[index] != y
        if unknown.any():
            raise ValueError(f"y has label {y[unknown][0].item()!r} outside the classes "
                             f"{self.classes_.tolist()} of the first fit")
        return index

    def _default_loss(self, n_outputs: int) -> str:
        return "binary_cross_entropy" if n_outputs == 1 else "cross_entropy"

    def _output_activation(self, loss: str) -> str:
        return _OUTPUT_ACTIVATION[loss] or "sigmoid"

    def _output_shapes(self, n_outputs: int) -> list[tuple[int, ...]]:
        return [(n_outputs,), (1,)] if n_outputs == 2 else [(n_outputs,)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n, n_classes), columns in the order of ``classes_``; sigmoid outputs
        (loss "mse" or "binary_cross_entropy") are normalised to sum to one."""
        a = self._raw_predict(X)
        if a.shape[1] == 1:
            return np.hstack([1.0 - a, a])
        if not isinstance(self.model_._output_activation(), gn.Softmax):
            a /= np.maximum(a.sum(axis=1, keepdims=True), np.finfo(np.float64).tiny)
        return a

    def predict(self, X: Any) -> np.ndarray:
        """The likeliest class of each sample, as a label from ``classes_``."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


class GlassnetRegressor(RegressorMixin, _GlassnetEstimator):
    """A glassnet network as a scikit-learn regressor: the parameters of :class:`GlassnetClassifier`,
    a linear output layer with one unit per target (y of shape (n,) or (n, k)), and the quadratic cost
    C = 1/n sum_i 1/2 ||y_i - a_i||^2 ("mse") by default. ``build`` gets ``n_outputs`` = k.
    """

    _regressor = True

    def fit(self, X: Any, y: Any) -> GlassnetRegressor:
        """Train on samples X (n, n_features) and targets y (n,) or (n, k)."""
        return self._fit(X, y, self.epochs, partial=False)

    def partial_fit(self, X: Any, y: Any) -> GlassnetRegressor:
        """One epoch on (X, y), continuing from the network fitted so far."""
        return self._fit(X, y, 1, partial=True)

    def _targets(self, y: np.ndarray, reset: bool, classes: Any) -> np.ndarray:
        Y = np.asarray(y, dtype=np.float64)
        if reset:
            self._y_ndim = Y.ndim
        Y = Y.reshape(Y.shape[0], -1)
        if not reset and Y.shape[1] != self.model_.output_shape[-1]:
            raise ValueError(f"y must have {self.model_.output_shape[-1]} target(s) as in the first fit, "
                             f"got {Y.shape[1]}")
        return Y

    def _default_loss(self, n_outputs: int) -> str:
        return "mse"

    def _output_activation(self, loss: str) -> str | None:
        return _OUTPUT_ACTIVATION[loss]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets, (n,) or (n, k) as y was in fit."""
        a = self._raw_predict(X)
        return a[:, 0] if self._y_ndim == 1 else a

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
