"""The model: :class:`Sequential`, its per-layer statistics, its file format (``.npz`` or safetensors with a
versioned JSON config, data only), and gradient checks.
"""

from glassnet.model.file import ModelFileError, load, save
from glassnet.model.sequential import Sequential

__all__ = ["ModelFileError", "Sequential", "load", "save"]
