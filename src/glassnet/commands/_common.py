"""Helpers shared by the sub-commands: the shared options and their checks, data loading with its provenance,
and output.

Every option is checked before any work, in the command's own terms: a value that cannot be right (``--lr nan``,
``--batch-size -5``) is a usage error, exit status 2, as argparse gives; a path that does not exist, is a
directory where a file is wanted, or cannot be written is an error of the environment, exit status 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


class UsageError(ValueError):
    """An option's value or a combination of options that cannot be right: ``glassnet CMD: error: ...``, exit 2."""


class BadValue(argparse.ArgumentTypeError, ValueError):
    """A value an option's ``type`` refuses: argparse reports it for the option, and the sweeps, which convert
    ``--grid`` values with the same types, catch it as a ValueError."""


# ----------------------------------------------------------------------------- values of options
class Number:
    """An argparse ``type`` for a number in a range, whose error reads ``--lr must be a positive number, got nan``
    (the parser puts the option's name in front). ``kind`` is ``"float"`` or ``"int"`` (sweeps read it)."""

    def __init__(self, kind: str, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False, words: str | None = None) -> None:
        self.kind, self.low, self.high, self.low_open, self.high_open = kind, low, high, low_open, high_open
        self.words = words or self._describe()
        self.__name__ = kind  # argparse names the type in some messages

    def _describe(self) -> str:
        what = "a whole number" if self.kind == "int" else "a number"
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{what} in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{what} {'>' if self.low_open else '>='} {self.low:g}"
        return what

    def __call__(self, text: str) -> float | int:
        try:
            value: float | int = int(text) if self.kind == "int" else float(text)
        except (TypeError, ValueError):
            raise BadValue(f"must be {self.words}, got {text!r}") from None
        if not math.isfinite(value) or (self.low is not None and (value < self.low or self.low_open and
                                                                  value == self.low)) or \
                (self.high is not None and (value > self.high or self.high_open and value == self.high)):
            raise BadValue(f"must be {self.words}, got {text.strip()}")
        return value

    def __repr__(self) -> str:
        return f"Number({self.words})"


POSITIVE = Number("float", 0, low_open=True, words="a positive number")
NON_NEGATIVE = Number("float", 0)
FRACTION = Number("float", 0, 1, high_open=True)  # [0, 1): a rate, a share held out
COUNT = Number("int", 1)  # >= 1
NON_NEGATIVE_INT = Number("int", 0)


# ----------------------------------------------------------------------------- the shared options
def add_data_dir(parser: Any) -> None:
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder with the MNIST IDX .gz files (default: $GLASSNET_DATA_DIR, the cache, a "
                             "download, else the embedded sample)")


def add_sample(parser: Any, help: str = "use the embedded 5,000 / 1,000-image MNIST sample (quick runs)") -> None:
    parser.add_argument("--sample", action="store_true", help=help)


def add_threads(parser: Any, default: int | None = None) -> None:
    parser.add_argument("--threads", type=COUNT, default=default, metavar="N",
                        help="BLAS threads for the matrix products (default: " +
                             (f"{default}" if default else "the BLAS default, one per core") +
                             "); 1 is much faster on a machine busy with other work")


def add_json(parser: Any) -> None:
    parser.add_argument("--json", action="store_true", help="end with one JSON line of results on stdout")


def add_seed(parser: Any, help: str = "seed for weights, shuffling and dropout (default 0)") -> None:
    parser.add_argument("--seed", type=NON_NEGATIVE_INT, default=0, help=help)


def add_quiet(parser: Any, help: str = "no progress lines on stderr") -> None:
    parser.add_argument("--quiet", action="store_true", help=help)


def add_data(parser: Any) -> None:
    """``--data-dir DIR`` and ``--sample``, which exclude each other."""
    add_data_dir(parser)
    add_sample(parser)


# ----------------------------------------------------------------------------- checks of paths
def check_data_options(args: argparse.Namespace) -> None:
    """``--data-dir`` and ``--sample`` (where the command has them): not both; the folder exists."""
    data_dir, sample = getattr(args, "data_dir", None), getattr(args, "sample", False)
    if sample and data_dir is not None:
        raise UsageError("give either --sample or --data-dir, not both")
    if data_dir is not None:
        path = Path(data_dir).expanduser()
        if not path.exists():
            raise FileNotFoundError(2, f"--data-dir {data_dir} does not exist")
        if not path.is_dir():
            raise NotADirectoryError(20, f"--data-dir {data_dir} is not a folder")


def check_input_file(path: str | os.PathLike, what: str = "model file") -> None:
    """``path`` is a file to read: one line if it does not exist or is a directory."""
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(21, f"{path} is a directory, not a {what}")
    if not p.exists():
        raise FileNotFoundError(2, f"no such {what}: {path}")


def check_output_file(path: str | os.PathLike, option: str) -> None:
    """``path`` is a file to write: not a directory, its folder writable (created if missing)."""
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(21, f"{option} {path} is a directory; name a file to write")
    check_writable(p.parent, option)


def check_writable(folder: Path | str, option: str) -> None:
    """Fail now, in one line, if files cannot be written into ``folder`` (created if missing), rather than
    after the work is done."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(20, f"{option}: cannot write into {folder}: it is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise OSError(e.errno, f"{option}: cannot write into {folder}: {e.strerror or e}") from None


# ----------------------------------------------------------------------------- data and output
def load_mnist(split: str, data_dir: str | None, quiet: bool = False,
               sample: bool = False) -> tuple[np.ndarray, np.ndarray, str]:
    """X, y and a description of where they came from, printed on stderr unless quiet as the one data line
    (a fallback to the embedded sample says why there, once)."""
    from glassnet.datasets import mnist

    if sample and data_dir is not None:
        raise UsageError("give either --sample or --data-dir, not both")
    X, y, source = mnist.load(split, data_dir=data_dir, return_source=True, sample=sample, notice=False)
    if not quiet:
        print(f"data: {source}", file=sys.stderr)
    return X, y, source


def epochs_text(n: int) -> str:
    """``1 epoch``, ``2 epochs``."""
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def emit_json(obj: dict[str, Any]) -> None:
    """One JSON object on the last line of stdout."""
    print(json.dumps(obj, sort_keys=True), flush=True)
