"""Data sets: MNIST (``glassnet.datasets.mnist.load``), logic gates and seeded toy problems.

Each module is imported on first use, so that ``import glassnet`` does not load the download code.
"""

import importlib
from typing import Any

__all__ = ["blobs", "circles", "logic_gate", "mnist", "moons", "spirals", "train_val_test_split"]


def __getattr__(name: str) -> Any:
    if name == "mnist":
        return importlib.import_module("glassnet.datasets.mnist")
    if name in __all__:
        value = getattr(importlib.import_module("glassnet.datasets.toy"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'glassnet.datasets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
