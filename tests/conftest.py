import importlib
import os
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"
IN_CI = bool(os.environ.get("CI"))
os.environ.setdefault("SCIPY_ARRAY_API", "1")  # before SciPy loads: scikit-learn's array API check needs it
"""Under CI a test whose tool is missing fails instead of skipping: the test extra must bring every tool."""


def missing(reason: str) -> None:
    """Skip with ``reason`` on a developer's machine; fail under CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must have it: see the test extra in pyproject.toml)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def need(module: str, extra: str = "test") -> ModuleType:
    """``import module``, or ``missing(...)`` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        missing(f"{module} is not installed ({e}); pip install '.[{extra}]'")


def readme_example(section: str) -> str:
    """The first Python block of the README's section ``## section``, for the tests that run it as written."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    return readme.split(f"\n## {section}\n", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The full official MNIST shared beside the repository (CI has it)."""
    d = Path(os.environ.get("GLASSNET_DATA_DIR", SHARED_MNIST))
    if not (d / "t10k-images-idx3-ubyte.gz").is_file():
        missing(f"full MNIST not found in {d}; set GLASSNET_DATA_DIR to run this test")
    return d
