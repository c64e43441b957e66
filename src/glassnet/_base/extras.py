"""Optional extras: the one-line error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType


def require_extra(module: str, extra: str, what: str) -> ModuleType:
    """``import module``, or an ImportError in one line naming the extra that installs it, e.g.
    "--plots needs matplotlib: pip install 'glassnet[plot]'". Commands call it before doing any work."""
    try:
        return importlib.import_module(module)
    except ImportError:
        name = {"PIL": "Pillow"}.get(module, module)
        raise ImportError(f"{what} needs {name}: pip install 'glassnet[{extra}]'") from None
