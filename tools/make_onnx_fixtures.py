"""Write the ONNX files that ``tests/test_onnx_import.py`` imports: small PyTorch networks exported by both of
PyTorch's exporters, each with the PyTorch outputs stored beside it.

Usage: ``python tools/make_onnx_fixtures.py [--out tests/bridges/fixtures/onnx]``. Needs torch (and onnxscript for the
``dynamo=True`` exporter); glassnet itself never does. For each network NAME it writes ``NAME.ts17.onnx``
(TorchScript exporter, opset 17; a few also at opset 13), ``NAME.dynamo18.onnx`` (``dynamo=True``, opset 18)
and ``NAME.npz`` holding ``x`` (5 inputs uniform in [0, 1)) and ``y`` (PyTorch's outputs; no pickle). The
networks are narrower than the presets, so that each file stays under 200 KB; the CNN with batch
normalisation is trained for one pass over the embedded MNIST sample so that its pictures mean something.
With keras installed (``pip install keras``; its torch backend, no TensorFlow) it also writes the Keras fixtures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]


class MLP(nn.Module):
    """784-32-16-10, ReLU then tanh."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Sigmoid3b1b(nn.Module):
    """The 3Blue1Brown network: 784-16-16-10, sigmoid everywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(),
                                 nn.Linear(16, 10), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Activations(nn.Module):
    """784-16-...-10 through the activations glassnet added for imports: GELU (exact and tanh), SiLU, ELU, SELU,
    hard sigmoid, LeakyReLU, Softplus, Softsign; log-softmax at the end."""

    def __init__(self) -> None:
        super().__init__()
        acts = [nn.GELU(), nn.GELU(approximate="tanh"), nn.SiLU(), nn.ELU(0.8), nn.SELU(), nn.Hardsigmoid(),
                nn.LeakyReLU(0.2), nn.Softplus(), nn.Softsign()]
        layers: list[nn.Module] = [nn.Linear(784, 16)]
        for act in acts:
            layers += [act, nn.Linear(16, 16)]
        self.net = nn.Sequential(*layers[:-1], nn.Linear(16, 10), nn.LogSoftmax(dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNNBatchNorm(nn.Module):
    """Two convolutions with batch normalisation, max pooling, nn.Flatten, a dense layer and softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(8 * 7 * 7, 10), nn.Softmax(dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNNView(nn.Module):
    """Flat images shaped with x.view(x.size(0), 1, 28, 28), a strided convolution, average pooling, and
    flattened with x.view(x.size(0), -1): the Shape / Gather / Unsqueeze / Concat chains of the batch size."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, stride=2, padding=2)
        self.pool = nn.AvgPool2d(2)
        self.conv2 = nn.Conv2d(6, 8, 3)
        self.fc = nn.Linear(8 * 5 * 5, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x.view(x.size(0), 1, 28, 28))))
        x = torch.tanh(self.conv2(x))
        x = x.view(x.size(0), -1)
        return torch.log_softmax(self.fc(x), dim=1)


class Recurrent(nn.Module):
    """``cell`` over the 28 rows of an image (batch first), its last step into a dense layer."""

    def __init__(self, cell: type[nn.Module], num_layers: int = 1) -> None:
        super().__init__()
        self.cell = cell(28, 16, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.cell(x)
        return self.fc(out[:, -1, :])


NETWORKS = {
    "mlp": (MLP, (784,)),
    "sigmoid3b1b": (Sigmoid3b1b, (784,)),
    "activations": (Activations, (784,)),
    "cnn_bn": (CNNBatchNorm, (1, 28, 28)),
    "cnn_view": (CNNView, (784,)),
    "lstm": (lambda: Recurrent(nn.LSTM), (28, 28)),
    "lstm_stacked": (lambda: Recurrent(nn.LSTM, 2), (28, 28)),
    "rnn": (lambda: Recurrent(nn.RNN), (28, 28)),
    "gru": (lambda: Recurrent(nn.GRU), (28, 28)),
}


def train_briefly(model: nn.Module, shape: tuple[int, ...]) -> None:
    """One pass of Adam over the embedded MNIST sample (5,000 images), batches of 50."""
    from glassnet.datasets import mnist

    X, y = mnist.load("train", sample=True)
    X = torch.from_numpy(X).reshape(-1, *shape)
    y = torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for i in range(0, len(X), 50):
        out = model(X[i:i + 50])
        loss = nn.functional.nll_loss(torch.log(out + 1e-9), y[i:i + 50])
        opt.zero_grad()
        loss.backward()
        opt.step()


def export(model: nn.Module, x: torch.Tensor, path: Path, opset: int, dynamo: bool, fold: bool = True) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            batch = torch.export.Dim("batch", min=1, max=1024)
            torch.onnx.export(model, (x,), str(path), dynamo=True, opset_version=opset, input_names=["input"],
                              output_names=["output"], dynamic_shapes=({0: batch},), external_data=False)
        else:
            torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=opset, input_names=["input"],
                              output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                              do_constant_folding=fold)
    print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path} ({path.stat().st_size / 1e3:.0f} KB)")


def keras_fixtures(out: Path) -> None:
    """Keras 3 Sequentials exported by ``model.export(format="onnx")`` on the torch backend (no TensorFlow): a dense
    network, and a channels-last CNN (Transpose nodes around each convolution and pooling, a flattening in
    (H, W, C) order). Written as keras_NAME.onnx beside keras_NAME.npz."""
    os.environ["KERAS_BACKEND"] = "torch"
    import keras

    keras.utils.set_random_seed(0)
    layers = keras.layers
    models = {
        "dense": keras.Sequential([keras.Input((784,)), layers.Dense(16, activation="relu"),
                                   layers.Dense(10, activation="softmax")]),
        "cnn": keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(4, 3, activation="relu"),
                                 layers.MaxPooling2D(), layers.Conv2D(6, 3, padding="same", activation="tanh"),
                                 layers.MaxPooling2D(), layers.Flatten(), layers.Dense(10, activation="softmax")]),
    }
    for name, model in models.items():
        x = np.random.default_rng(0).random((5, *model.input_shape[1:]), dtype=np.float32)
        y = np.asarray(model(x).detach())
        np.savez(out / f"keras_{name}.npz", x=x, y=y)
        with contextlib.redirect_stdout(io.StringIO()):
            model.export(str(out / f"keras_{name}.onnx"), format="onnx")
        print(f"wrote keras_{name}.onnx ({(out / f'keras_{name}.onnx').stat().st_size / 1e3:.0f} KB)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "bridges" / "fixtures" / "onnx")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # "torchvision is not installed" notices
    for name, (make, shape) in NETWORKS.items():
        torch.manual_seed(0)
        model = make()
        if name == "cnn_bn":
            train_briefly(model, shape)
        model.eval()
        x = torch.from_numpy(np.random.default_rng(0).random((5, *shape), dtype=np.float32))
        with torch.no_grad():
            y = model(x).numpy()
        np.savez(args.out / f"{name}.npz", x=x.numpy(), y=y)
        export(model, x, args.out / f"{name}.ts17.onnx", 17, dynamo=False)
        if name in ("mlp", "lstm", "cnn_bn"):
            export(model, x, args.out / f"{name}.ts13.onnx", 13, dynamo=False)
        if name == "cnn_bn":
            export(model, x, args.out / f"{name}.ts17-nofold.onnx", 17, dynamo=False, fold=False)
        export(model, x, args.out / f"{name}.dynamo18.onnx", 18, dynamo=True)
    try:
        import keras  # noqa: F401
    except ImportError:
        print("keras not installed: the keras_*.onnx files are left as they are")
    else:
        keras_fixtures(args.out)


if __name__ == "__main__":
    main()
