"""Atomic files: a write goes to a temporary file beside its target, is flushed to disk, then renamed over it,
so a reader never sees half a file and an interrupted write leaves the old one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np


def _write_error(e: OSError, path: Path) -> OSError:
    """``e`` as an error naming the file being written (the temporary file's name means nothing)."""
    if e.errno is None:
        return OSError(f"cannot write {path}: {e}")
    return OSError(e.errno, f"cannot write {path}: {e.strerror or e}")


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any], suffix: str = ".tmp") -> None:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, flush it to disk, then rename it over
    ``path``. On any failure (full disk, read-only folder, interruption) the temporary file is removed,
    ``path`` keeps its old content, and an OSError names ``path``."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)
    except OSError as e:
        raise _write_error(e, path) from e
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """``arrays`` as an uncompressed ``.npz``, atomically."""
    atomic_write(path, lambda f: np.savez(f, **arrays))
