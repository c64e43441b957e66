import importlib
import importlib.util
import os
import signal
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"
IN_CI = bool(os.environ.get("CI"))
"""Under CI a test whose tool is missing fails instead of skipping: the test extra must bring every tool."""
os.environ.setdefault("SCIPY_ARRAY_API", "1")  # before SciPy loads: scikit-learn's array API check needs it
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # a run started in the background by a script (`cmd &`, nohup) inherits Ctrl-C ignored, and so would every
    # process it starts; the Ctrl-C tests need Python's own handler here and the default one in the children
    signal.signal(signal.SIGINT, signal.default_int_handler)


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


# ----------------------------------------------------------------------------- browsers
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium for pytest-playwright's ``browser`` and ``page`` (Playwright cannot download its own
    browsers here), without background traffic."""
    if not CHROMIUM.is_file():
        missing("Debian's chromium is not installed (apt-get install -y chromium; the README's test command does it)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM),
            "args": ["--disable-background-networking", "--disable-component-update", "--no-first-run",
                     "--disable-sync", "--disable-gpu"]}


# ----------------------------------------------------------------------------- the playground
@pytest.fixture(scope="session")
def digit_models():
    """Three small digit models, one per kind of layer the digit page draws (the CNN with batch
    normalisation), each trained for a few seconds on the embedded sample."""
    import glassnet as gn
    from glassnet.datasets import mnist

    X, y = mnist.load("train", sample=True)
    mlp = gn.Sequential([gn.Dense(784, 64, activation="relu"), gn.Dropout(0.1),
                         gn.Dense(64, 10, activation="softmax")], seed=0)
    mlp.compile(loss="cross_entropy", optimizer=gn.SGD(0.1, momentum=0.9))
    mlp.fit(X, y, epochs=3, batch_size=64, seed=0, verbose=0)
    cnn = gn.Sequential([gn.Reshape((1, 28, 28)), gn.Conv2D(1, 4, 5), gn.BatchNorm(activation="relu"),
                         gn.MaxPool2D(2), gn.Flatten(), gn.Dense(4 * 12 * 12, 10, activation="softmax")],
                        seed=1, input_shape=(784,))
    lstm = gn.Sequential([gn.Reshape((28, 28)), gn.LSTM(28, 8), gn.Dense(8, 10, activation="softmax")],
                         seed=2, input_shape=(784,))
    for model in (cnn, lstm):
        model.compile(loss="cross_entropy", optimizer=gn.Adam(0.01))
        model.fit(X, y, epochs=2, batch_size=64, seed=0, verbose=0)
    return {"mlp": mlp, "cnn": cnn, "lstm": lstm}


@pytest.fixture(scope="session")
def playground(digit_models, tmp_path_factory):
    """A playground server on 127.0.0.1 (a free port) for the whole session; stops by itself."""
    need("starlette", "playground")
    need("uvicorn", "playground")
    from glassnet.playground import make_server

    empty = tmp_path_factory.mktemp("no-mnist")  # no full MNIST here: the embedded sample serves, as on a new machine
    server = make_server([(name, m, f"test model {name}") for name, m in digit_models.items()], "127.0.0.1", 0,
                         data_dir=str(empty))
    with server:
        yield server


# ----------------------------------------------------------------------------- kernels
@pytest.fixture(params=["numpy", "numba"])
def kernels_choice(request):
    """Runs a test once with NumPy alone and once with the compiled kernels (numba: the test extra installs it)."""
    import glassnet._kernels as kernels

    if request.param == "numba" and importlib.util.find_spec("numba") is None:
        missing("numba is not installed; pip install '.[test]' runs the layers on both kernel choices")
    previous = kernels.set_kernels(request.param)
    yield request.param
    kernels.set_kernels(previous)
