"""The package's layout: the import-linter contract holds and bites, the public names stay where they were, the
old module paths still import (with a DeprecationWarning) for one release, and no module outgrows its room."""

import importlib
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import missing

import glassnet
from glassnet import _moved

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = [
    "ACTIVATIONS", "LOSSES", "LSTM", "PCA", "RNN", "SGD", "Activation", "Adam", "Augment", "Autoencoder", "AvgPool2D",
    "BatchNorm", "BinaryCrossEntropy", "Callback", "CheckpointError", "Conv2D", "ConvergenceWarning", "CosineDecay",
    "CrossEntropy", "Dense", "DenseTied", "DivergenceError", "Dropout", "EarlyStopping", "ExponentialDecay", "Flatten",
    "GaussianNoise", "GeneticAlgorithm", "History", "InverseTimeDecay", "Layer", "LeakyReLU", "Linear", "Loss",
    "MaskingNoise", "MaxPool2D", "Maxout", "MeanSquaredError", "ModelCheckpoint", "ModelFileError", "OneCycle",
    "OneHot", "Optimizer", "Parameter", "Perceptron", "ProgressBar", "RMSProp", "ReLU", "Recorder", "ReduceLROnPlateau",
    "Reshape", "Schedule", "Sequential", "Sigmoid", "Softmax", "Softplus", "Softsign", "Step", "StepDecay", "Swish",
    "Tanh", "TrainingCheckpoint", "TruncatedSVD", "Vocabulary", "datasets", "get_activation", "get_loss", "gradcheck",
    "load", "numerical_gradient", "one_hot", "randomized_svd", "restarts", "sweep", "warp", "xor_network",
]
"""The public names of glassnet 0.2; a later release may add names, never drop or move these."""
MAX_LINES = 440
"""A module longer than this is a room that needs a wall."""


def lint_imports() -> str:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(exe).exists():
        missing("import-linter is not installed (pip install '.[test]' installs it)")
    return exe


def test_the_layers_contract_holds():
    out = subprocess.run([lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 kept, 0 broken" in out.stdout


@pytest.mark.parametrize("module, upward", [
    ("nn/layers.py", "    from glassnet.model.sequential import Sequential  # scratch: a layer reaching up\n"),
    ("model/file.py", "from glassnet import presets  # scratch\n"),
])
def test_an_upward_import_breaks_the_contract(tmp_path, module, upward):
    """A copy of the package with one upward import, function-level or at the top: lint-imports refuses it."""
    shutil.copytree(ROOT / "src" / "glassnet", tmp_path / "src" / "glassnet",
                    ignore=shutil.ignore_patterns("*.npz", "static", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / "src" / "glassnet" / module
    text = path.read_text()
    if upward.startswith("    "):  # inside the first function of the module
        head, tail = text.split("\ndef ", 1)
        name, rest = tail.split("\n", 1)
        text = f"{head}\ndef {name}\n{upward}{rest}"
    else:
        text = text.replace("\nimport ", f"\n{upward}import ", 1)
    path.write_text(text)
    env = {"PYTHONPATH": str(tmp_path / "src"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([lint_imports(), "--no-cache"], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode != 0, out.stdout
    assert "BROKEN" in out.stdout and f"glassnet.{module[:-3].replace('/', '.')} ->" in out.stdout


def test_public_names_stay():
    assert set(PUBLIC) <= set(glassnet.__all__)
    for name in glassnet.__all__:
        assert getattr(glassnet, name) is not None, name
    for sub in ("sklearn", "onnx", "plot", "sweep", "datasets", "metrics", "presets"):
        importlib.import_module(f"glassnet.{sub}")


def test_model_and_optim_packages_export_what_the_modules_did():
    from glassnet.model import Sequential, load
    from glassnet.optim import OPTIMIZERS, SGD, CosineDecay, GeneticAlgorithm, learning_rate

    assert Sequential is glassnet.Sequential and load is glassnet.load and SGD is glassnet.SGD
    assert CosineDecay is glassnet.CosineDecay and callable(learning_rate) and "adam" in OPTIMIZERS
    assert GeneticAlgorithm is glassnet.GeneticAlgorithm


@pytest.mark.parametrize("old, new", sorted(_moved.MOVED.items()))
def test_old_module_paths_import_with_a_deprecation_warning(old, new):
    sys.modules.pop(old, None)
    before = {name: getattr(glassnet, name) for name in glassnet.__all__}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert {name: getattr(glassnet, name) for name in glassnet.__all__} == before  # no public name shadowed
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)


def test_no_module_outgrows_its_room():
    sizes = {p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines())
             for p in (ROOT / "src" / "glassnet").rglob("*.py")}
    big = {p: n for p, n in sizes.items() if n > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_every_room_says_what_it_is_for():
    for init in (ROOT / "src" / "glassnet").rglob("__init__.py"):
        assert init.read_text().lstrip().startswith('"""'), f"{init} has no docstring"
