"""Every setting of the 2-D playground in one serialisable state, as TensorFlow Playground's ``state.ts``:
the page mirrors it in its URL, the server validates it field by field.

``SETTINGS`` is the schema: each field's kind, default and allowed values. ``check_state`` turns any JSON
object into a complete, valid state or raises a one-line ``ApiError`` naming the field.
"""

from __future__ import annotations

from typing import Any

from glassnet.playground.data2d import CLASSIFICATION, FEATURES, REGRESSION
from glassnet.playground.wire import ApiError

ACTIVATIONS = ["tanh", "relu", "sigmoid", "linear", "leaky_relu", "softplus", "softsign", "swish"]
MAX_LAYERS, MAX_UNITS = 12, 32

SETTINGS: dict[str, tuple[str, Any, Any]] = {
    # name: (kind, default, choices for "choice" / (min, max) for numbers)
    "problem": ("choice", "classification", ["classification", "regression"]),
    "dataset": ("choice", "circle", [*CLASSIFICATION, "custom"]),
    "reg_dataset": ("choice", "plane", [*REGRESSION, "custom"]),
    "classes": ("int", 2, (2, 5)),
    "noise": ("int", 0, (0, 50)),
    "train_ratio": ("int", 50, (10, 90)),
    "n_points": ("int", 500, (20, 2000)),
    "batch_size": ("int", 10, (1, 200)),
    "features": ("features", ["x1", "x2"], list(FEATURES)),
    "hidden": ("hidden", [4, 2], (MAX_LAYERS, MAX_UNITS)),
    "activation": ("choice", "tanh", ACTIVATIONS),
    "learning_rate": ("float", 0.03, (1e-5, 10.0)),
    "regularization": ("choice", "none", ["none", "l1", "l2"]),
    "reg_rate": ("float", 0.0, (0.0, 10.0)),
    "loss": ("choice", "cross_entropy", ["cross_entropy", "mse"]),
    "optimizer": ("choice", "sgd", ["sgd", "momentum", "adam"]),
    "momentum": ("float", 0.9, (0.0, 0.999)),
    "seed": ("int", 0, (0, 2**31 - 1)),
    "init_seed": ("int", 0, (0, 2**31 - 1)),
    "show_test": ("bool", False, None),
    "discretize": ("bool", False, None),
}

DATA_FIELDS = ("problem", "dataset", "reg_dataset", "classes", "noise", "train_ratio", "n_points", "seed")
"""Fields whose change makes new data (and so a new network)."""
NETWORK_FIELDS = ("features", "hidden", "activation", "init_seed")
"""Fields whose change makes a new network on the same data."""
TRAINING_FIELDS = ("batch_size", "learning_rate", "regularization", "reg_rate", "loss", "optimizer", "momentum")
"""Fields that keep the weights and change only how training goes on."""


def default_state() -> dict[str, Any]:
    return {k: (list(v[1]) if isinstance(v[1], list) else v[1]) for k, v in SETTINGS.items()}


def check_state(given: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``base`` (default: the defaults) updated with the fields of ``given``, every field checked."""
    if not isinstance(given, dict):
        raise ApiError(400, f"the state must be a JSON object of settings, got {type(given).__name__}")
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise ApiError(400, f"unknown setting {unknown[0]!r}; known: {', '.join(SETTINGS)}")
    state = dict(base or default_state())
    for key, value in given.items():
        state[key] = _check_field(key, value)
    if state["problem"] == "regression" and state["loss"] != "mse":
        state["loss"] = "mse"  # the only loss for real-valued targets
    if state["problem"] == "classification" and state["dataset"] in CLASSIFICATION:
        most = CLASSIFICATION[state["dataset"]][1]
        if state["classes"] > most:
            raise ApiError(400, f"data set {state['dataset']!r} has at most {most} classes, got {state['classes']}")
    return state


def _check_field(key: str, value: Any) -> Any:
    kind, _, allowed = SETTINGS[key]
    if kind == "choice":
        if value not in allowed:
            raise ApiError(400, f"{key} must be one of {', '.join(allowed)}; got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ApiError(400, f"{key} must be true or false, got {value!r}")
        return value
    if kind in ("int", "float"):
        ok_type = isinstance(value, int) if kind == "int" else isinstance(value, int | float)
        lo, hi = allowed
        if isinstance(value, bool) or not ok_type or not lo <= value <= hi:
            what = "a whole number" if kind == "int" else "a number"
            raise ApiError(400, f"{key} must be {what} in [{lo:g}, {hi:g}], got {value!r}")
        return int(value) if kind == "int" else float(value)
    if kind == "features":
        if (not isinstance(value, list) or not value or len(set(value)) != len(value)
                or not all(v in allowed for v in value)):
            raise ApiError(400, f"features must be a non-empty list of distinct names from {', '.join(allowed)}; "
                                f"got {value!r}")
        return [f for f in allowed if f in value]  # the playground's order
    layers, units = allowed  # "hidden"
    if (not isinstance(value, list) or len(value) > layers
            or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= units for v in value)):
        raise ApiError(400, f"hidden must be a list of at most {layers} layer sizes, each 1..{units}; got {value!r}")
    return list(value)
