import os
from pathlib import Path

import numpy as np
import pytest

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The full official MNIST shared beside the repository (CI has it)."""
    d = Path(os.environ.get("GLASSNET_DATA_DIR", SHARED_MNIST))
    if not (d / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"full MNIST not found in {d}; set GLASSNET_DATA_DIR to run this test")
    return d
