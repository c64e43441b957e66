"""glassnet.explain beside Captum on the same PyTorch network (weights copied), the same number of threads.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/explain.py [--threads 2] [--repeats 20]
                                                                         [--cnn cnn.npz --default default.npz ...]

For each preset's network (built from ``glassnet train``'s presets, or read from model files), one MNIST test
digit: integrated gradients with 50 Gauss-Legendre steps (one batch of 50), saliency, occlusion (4x4 windows
every 2 pixels), all on the logit of the predicted class; and ``maximize`` with 200 steps for a first-layer unit
of the default preset beside the same gradient ascent written with PyTorch's autograd. Each time is the median
of ``--repeats`` runs after one warm-up, glassnet and the peer taking turns; "ratio" is glassnet's time over the
peer's (below 1: glassnet is
faster). The largest difference between the two attributions, relative to the largest attribution, shows that
both compute the same thing. The goals are those of issue 25. Needs torch and captum (``pip install torch
captum``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # the kernels OpenBLAS picks by itself for this CPU
    os.environ.pop(_var, None)

import numpy as np  # noqa: E402

GOALS_MS = {("ig", "cnn"): 60, ("ig", "default"): 10, ("saliency", "default"): 5, ("saliency", "cnn"): 5,
            ("maximize", "default"): 2000}


def median_ms(ours: Callable[[], Any], theirs: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median milliseconds of each, run in turns (ours, theirs, ours, ...) so that a machine busy with other
    work slows both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for fn in (ours, theirs):
        fn()
    for _ in range(repeats):
        for fn, out in zip((ours, theirs), times, strict=True):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return 1000 * statistics.median(times[0]), 1000 * statistics.median(times[1])


def torch_network(model: Any) -> Any:
    """The PyTorch twin of a glassnet digit recogniser (inference layers only), weights copied, returning
    the last layer's z (the logits)."""
    import torch
    from torch import nn

    import glassnet as gn

    layers: list[nn.Module] = []
    acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    last = len(model.layers) - 1
    for i, layer in enumerate(model.layers):
        if isinstance(layer, (gn.Augment, gn.Dropout, gn.GaussianNoise, gn.MaskingNoise)):
            continue
        if isinstance(layer, gn.Reshape):
            layers.append(nn.Unflatten(1, layer.shape))
        elif isinstance(layer, gn.Flatten):
            layers.append(nn.Flatten())
        elif isinstance(layer, gn.MaxPool2D):
            layers.append(nn.MaxPool2d(layer.pool_size, layer.stride))
        elif isinstance(layer, gn.Conv2D):
            conv = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding)
            conv.weight.data = torch.from_numpy(layer.W.value.copy())
            conv.bias.data = torch.from_numpy(layer.b.value.copy())
            layers.append(conv)
        elif isinstance(layer, gn.Dense):
            dense = nn.Linear(layer.n_in, layer.n_out)
            dense.weight.data = torch.from_numpy(layer.W.value.T.copy())
            dense.bias.data = torch.from_numpy(layer.b.value.copy())
            layers.append(dense)
        elif isinstance(layer, gn.LSTM):
            layers.append(_LSTMLast(layer))
            continue
        else:
            raise ValueError(f"no PyTorch twin for {type(layer).__name__}")
        act = getattr(layer, "activation", None)
        if act is not None and i != last:
            layers.append(acts[act.key]())
    return nn.Sequential(*layers).eval()


def _lstm_module() -> type:
    import torch
    from torch import nn

    class LSTMLast(nn.Module):
        """torch.nn.LSTM with glassnet's weights (gates i, f, o, g reordered to PyTorch's i, f, g, o), h_T out."""

        def __init__(self, layer: Any) -> None:
            super().__init__()
            h = layer.n_hidden
            self.lstm = nn.LSTM(layer.n_in, h, batch_first=True)
            order = np.r_[0:2 * h, 3 * h:4 * h, 2 * h:3 * h]
            self.lstm.weight_ih_l0.data = torch.from_numpy(layer.W_x.value[:, order].T.copy())
            self.lstm.weight_hh_l0.data = torch.from_numpy(layer.W_h.value[:, order].T.copy())
            self.lstm.bias_ih_l0.data = torch.from_numpy(layer.b.value[order].copy())
            self.lstm.bias_hh_l0.data.zero_()

        def forward(self, x: Any) -> Any:
            return self.lstm(x)[0][:, -1]

    return LSTMLast


def _LSTMLast(layer: Any) -> Any:  # noqa: N802 (a class made on first use: torch is imported late)
    return _lstm_module()(layer)


def build_models(args: argparse.Namespace) -> dict[str, Any]:
    import glassnet as gn
    from glassnet.presets import COMMON, PRESETS, build

    models = {}
    for name in ("default", "cnn", "lstm"):
        path = getattr(args, name)
        models[name] = gn.load(path) if path else build({**COMMON, **PRESETS[name]}, seed=0)
    return models


def pairs(model: Any, net: Any, x: np.ndarray, target: int) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """(glassnet, Captum) of each method on one digit."""
    import torch
    from captum.attr import IntegratedGradients, Occlusion, Saliency

    from glassnet import explain

    xt = torch.from_numpy(x.copy())
    ig, sal = IntegratedGradients(net), Saliency(net)
    occ = Occlusion(torch.nn.Sequential(torch.nn.Flatten(), net))  # windows over the 28 x 28 image
    return {
        "ig": (lambda: explain.integrated_gradients(model, x, target, steps=50),
               lambda: ig.attribute(xt, target=target, n_steps=50, method="gausslegendre")),
        "saliency": (lambda: explain.saliency(model, x, target),
                     lambda: sal.attribute(xt, target=target, abs=False)),
        "occlusion": (lambda: explain.occlusion(model, x, target),
                      lambda: occ.attribute(xt.reshape(1, 1, 28, 28), target=target, sliding_window_shapes=(1, 4, 4),
                                            strides=(1, 2, 2), perturbations_per_eval=169)),
    }


def rows(models: dict[str, Any], x: np.ndarray, repeats: int) -> list[tuple[str, str, float, float, float]]:
    """(what, network, glassnet ms, peer ms, largest difference / largest attribution) of every measurement."""
    import torch

    out = []
    for name, model in models.items():
        net = torch_network(model)
        xt = torch.from_numpy(x.copy())
        with torch.no_grad():
            target = int(net(xt).argmax())
        model.forward(x)
        assert target == int(model.layers[-1].z.argmax()), "the PyTorch twin must agree with the network"
        cases = pairs(model, net, x, target)
        if name == "lstm":
            del cases["occlusion"]
        for what, (ours, theirs) in cases.items():
            a, b = np.asarray(ours()).ravel(), theirs().detach().numpy().ravel()
            diff = float(np.abs(a - b).max() / np.abs(b).max())
            out.append((what, name, *median_ms(ours, theirs, repeats), diff))
    out.append(("maximize", "default", *maximize_times(models["default"], max(1, repeats // 10)), float("nan")))
    return out


def maximize_times(model: Any, repeats: int) -> tuple[float, float]:
    """glassnet's ``maximize`` (200 steps, unit 0 of the first dense layer, no jitter) beside the same ascent
    with PyTorch's autograd: normalised gradient, Gaussian blur of the step, pull to grey, clip."""
    import torch

    from glassnet import explain
    from glassnet.explain.maximize import _blur_matrix

    dense = next(layer for layer in model.layers if layer.params)
    first = torch.nn.Linear(dense.n_in, dense.n_out)
    first.weight.data = torch.from_numpy(dense.W.value.T.copy())
    first.bias.data = torch.from_numpy(dense.b.value.copy())
    blur = torch.from_numpy(_blur_matrix(28, 1.0, np.dtype(np.float32)))

    def theirs() -> None:
        x = torch.full((1, 784), 0.5)
        for _ in range(200):
            x.requires_grad_(True)
            first(x)[0, 0].backward()
            with torch.no_grad():
                g = x.grad
                g = g / (g.pow(2).mean().sqrt() + 1e-12)
                g = (blur @ g.reshape(28, 28) @ blur.T).reshape(1, 784)
                x = (x + 0.05 * (g - (x - 0.5))).clamp(0, 1)

    return median_ms(lambda: explain.maximize(model, dense.name, 0, jitter=0), theirs, repeats)


def blas_kernel() -> str:
    from threadpoolctl import threadpool_info

    infos = [f"{i['internal_api']} {i.get('version')} {i.get('architecture')} ({i['num_threads']} threads)"
             for i in threadpool_info() if i["user_api"] == "blas"]
    return ", ".join(infos) or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    for name in ("default", "cnn", "lstm"):
        parser.add_argument(f"--{name}", metavar="MODEL", help=f"the {name} network from a model file")
    args = parser.parse_args()
    import captum
    import torch
    from threadpoolctl import threadpool_limits

    from glassnet.datasets import mnist

    torch.set_num_threads(args.threads)
    x = mnist.load("test", sample=True)[0][:1]
    with threadpool_limits(args.threads, user_api="blas"):
        print(f"NumPy {np.__version__}, BLAS: {blas_kernel()}; torch {torch.__version__} "
              f"({torch.get_num_threads()} threads), captum {captum.__version__}")
        table = rows(build_models(args), x, args.repeats)
    print(f"\n{'method':<10} {'network':<8} {'glassnet ms':>12} {'peer ms':>9} {'ratio':>6} {'goal ms':>8} "
          f"{'max diff':>9}")
    for what, name, ours, theirs, diff in table:
        goal = GOALS_MS.get((what, name))
        print(f"{what:<10} {name:<8} {ours:>12.2f} {theirs:>9.2f} {ours / theirs:>6.2f} "
              f"{'' if goal is None else goal:>8} {'' if np.isnan(diff) else f'{diff:.1e}':>9}")
    print("\npeer: Captum on the PyTorch twin of the network (maximize: the same ascent in PyTorch's autograd)")


if __name__ == "__main__":
    main()
