"""The module paths of glassnet 0.2 that moved into rooms in 0.3 (see CHANGELOG.md) keep working for one
release: ``import glassnet.layers`` gives the module ``glassnet.nn.layers`` itself, with a DeprecationWarning
naming the new path. One import hook serves every old path; there is no file left behind at the old place.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

MOVED = {
    "glassnet._blas": "glassnet._base.blas",
    "glassnet._checks": "glassnet._base.checks",
    "glassnet._notebook": "glassnet.plot.notebook",
    "glassnet._safetensors": "glassnet.model.safetensors",
    "glassnet.activations": "glassnet.nn.activations",
    "glassnet.augment": "glassnet.nn.augment",
    "glassnet.autoencoder": "glassnet.classic.autoencoder",
    "glassnet.callbacks": "glassnet.train.callbacks",
    "glassnet.checkpoint": "glassnet.train.checkpoint",
    "glassnet.classic.genetic": "glassnet.optim.genetic",
    "glassnet.conv": "glassnet.nn.conv",
    "glassnet.encoding": "glassnet.data.encoding",
    "glassnet.images": "glassnet.data.images",
    "glassnet.init": "glassnet.nn.init",
    "glassnet.io": "glassnet.model.file",
    "glassnet.layers": "glassnet.nn.layers",
    "glassnet.losses": "glassnet.nn.losses",
    "glassnet.noise": "glassnet.nn.noise",
    "glassnet.normalization": "glassnet.nn.normalization",
    "glassnet.playground.encode": "glassnet.playground.wire",
    "glassnet.plot.images": "glassnet.plot.pictures",
    "glassnet.plot.training": "glassnet.plot.curves",
    "glassnet.recurrent": "glassnet.nn.recurrent",
    "glassnet.schedules": "glassnet.optim.schedules",
    "glassnet.schema": "glassnet._base.schema",
    "glassnet.sweep.executors": "glassnet.parallel.executors",
    "glassnet.sweep.shared": "glassnet.parallel.shared",
    "glassnet.training": "glassnet.train.loop",
}
"""Old module path -> new module path. (``glassnet.model`` and ``glassnet.optim`` became packages that export
the same names, so they need no entry; ``glassnet.gradcheck`` is the function of that name, which an alias
module would shadow: its module is ``glassnet.model.gradcheck``.)"""


class _Alias(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(f"{spec.name} moved to {self.new}; the old path goes in the next release",
                      DeprecationWarning, stacklevel=4)
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """The module is the new one, already executed."""


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object = None, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        return None if new is None else importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
