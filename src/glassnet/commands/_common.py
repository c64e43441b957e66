"""Helpers shared by the sub-commands: data loading with its provenance, and output."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder with the MNIST IDX .gz files (default: $GLASSNET_DATA_DIR, the cache, a "
                             "download, else the embedded sample)")


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="BLAS threads for the matrix products (default 0: the BLAS default, one per core); "
                             "1 is much faster on a machine busy with other work")


def load_mnist(split: str, data_dir: str | None, quiet: bool = False,
               sample: bool = False) -> tuple[np.ndarray, np.ndarray, str]:
    """X, y and a description of where they came from (printed on stderr unless quiet)."""
    from glassnet.datasets import mnist

    if sample and data_dir is not None:
        raise ValueError("give either --sample or --data-dir, not both")
    X, y, source = mnist.load(split, data_dir=data_dir, return_source=True, sample=sample)
    if not quiet:
        print(f"data: {source}", file=sys.stderr)
    return X, y, source


def check_writable(folder: Path, option: str) -> None:
    """Fail now, in one line, if files cannot be written into ``folder`` (created if missing), rather than
    after the work is done."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise OSError(e.errno, f"{option}: cannot write into {folder}: {e.strerror or e}") from None


def emit_json(obj: dict[str, Any]) -> None:
    """One JSON object on the last line of stdout."""
    print(json.dumps(obj, sort_keys=True), flush=True)
