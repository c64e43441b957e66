"""The version, in one place (the root package and the files that record it read it here)."""

__version__ = "0.1.0"
