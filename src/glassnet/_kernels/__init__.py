"""Compiled kernels for the hot loops NumPy cannot fuse (the optional extra ``glassnet[fast]``, numba).

One switch chooses who runs them: ``set_kernels("auto" | "numpy" | "numba")``, or the environment variable
``GLASSNET_KERNELS`` read on first use. "auto" (the default) uses numba when it is installed. The NumPy code in
the layers is the definition; each kernel computes the same arrays, in the same dtype, one pass over memory
where NumPy needs several, and is tested against it.

numba is imported only when a layer first asks for a kernel (``compiled()``), so ``import glassnet`` and a
dense network never load it. The kernels are compiled on first call for float32 and float64 and cached on disk
(``cache=True``); they release the GIL, so the blocks that ``glassnet._base.blas.in_parts`` runs side by side
run on every core.
"""

from __future__ import annotations

import importlib.util
import os
from types import ModuleType

CHOICES = ("auto", "numpy", "numba")
ENV = "GLASSNET_KERNELS"

_choice: list[str] = []  # the setting, once read from the environment or set
_module: list[ModuleType] = []  # glassnet._kernels.jit, once imported
_found: list[bool] = []  # whether numba is installed, once looked up


def _check(choice: str, what: str) -> str:
    if choice not in CHOICES:
        raise ValueError(f"{what} must be one of {', '.join(CHOICES)}, got {choice!r}")
    return choice


def set_kernels(choice: str) -> str:
    """Use the compiled kernels ("numba"), NumPy alone ("numpy"), or numba when installed ("auto") from the next
    forward pass on; returns the previous setting. "numba" without numba installed raises ImportError."""
    previous = _setting()
    if _check(choice, "set_kernels") == "numba" and not _have_numba():
        _missing("set_kernels('numba')")
    _choice[:] = [choice]
    return previous


def _setting() -> str:
    if not _choice:
        _choice.append(_check(os.environ.get(ENV, "auto").strip().lower() or "auto", ENV))
    return _choice[0]


def _missing(what: str) -> None:
    raise ImportError(f"{what} needs numba: pip install 'glassnet[fast]'")


def _have_numba() -> bool:
    if not _found:
        _found.append(importlib.util.find_spec("numba") is not None)  # looks, without importing it
    return _found[0]


def kernels() -> str:
    """The kernels in use now: "numba" or "numpy" (the setting with "auto" resolved)."""
    choice = _setting()
    if choice == "auto":
        return "numba" if _have_numba() else "numpy"
    if choice == "numba" and not _have_numba():
        _missing(f"{ENV}=numba")
    return choice


def compiled() -> ModuleType | None:
    """The module of compiled kernels when numba is in use, else None (the layer runs its NumPy code).
    The first call imports numba (about 0.3 s)."""
    if kernels() != "numba":
        return None
    if not _module:
        _module.append(importlib.import_module("glassnet._kernels.jit"))
    return _module[0]
