"""The training loops that ``speed.py`` times: glassnet, PyTorch, scikit-learn and a plain NumPy loop.

Every loop trains the same network on the same float32 data and reports, per epoch, the wall seconds,
the CPU seconds of its process, the CPU seconds other processes took meanwhile (``foreign``, from
/proc/stat: a disturbed measurement) and the mean training loss. Each peer computes that loss on every
batch, as glassnet's ``fit`` does. An epoch includes its shuffle; the data are arrays in memory.

PyTorch: a pre-loaded tensor, ``torch.randperm`` per epoch and index slicing per batch (no DataLoader),
``zero_grad / loss.backward() / step``, ``loss.item()`` per batch. NumPy: the textbook mini-batch
backprop in matrix form, as in Nielsen's ``network.py`` but vectorised over the batch. The CNN row
(glassnet's ``cnn`` preset) has only the glassnet and PyTorch loops: the other two have no convolutions.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Net:
    """A fully connected network: layer ``sizes``, hidden and output activations, cost, SGD settings."""

    name: str
    sizes: tuple[int, ...]
    hidden: str  # "relu" or "sigmoid"
    loss: str  # "cross_entropy" (softmax output) or "mse" (sigmoid output)
    lr: float
    momentum: float
    init: str  # glassnet initialiser, shared by every peer that accepts given weights

    @property
    def label(self) -> str:
        out = "softmax CE" if self.loss == "cross_entropy" else "quadratic"
        mom = f", momentum {self.momentum:g}" if self.momentum else ""
        return f"{'-'.join(map(str, self.sizes))} {self.hidden}, {out}{mom}"

    def flops_per_sample(self) -> int:
        """3 matrix products per dense layer (forward, dC/dW, dC/dx) of 2 * in * out FLOPs each."""
        return sum(6 * a * b for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=True))


NETS = {
    "relu": Net("relu", (784, 128, 10), "relu", "cross_entropy", 0.05, 0.9, "he"),
    "nielsen": Net("nielsen", (784, 30, 10), "sigmoid", "mse", 3.0, 0.0, "standard_normal"),
    "3b1b": Net("3b1b", (784, 16, 16, 10), "sigmoid", "mse", 3.0, 0.0, "standard_normal"),
}


# ----------------------------------------------------------------------------- timing
def _busy_seconds() -> float:
    """CPU seconds used so far by everything on the machine (all cores), from /proc/stat; NaN elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return float("nan")
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


class Clock:
    """Per-epoch wall time, own CPU time and other processes' CPU time."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.foreign: list[float] = []

    def start(self) -> None:
        self._t = (time.perf_counter(), time.process_time(), _busy_seconds())

    def stop(self) -> None:
        w, c, b = time.perf_counter(), time.process_time(), _busy_seconds()
        self.wall.append(w - self._t[0])
        self.cpu.append(c - self._t[1])
        self.foreign.append(max(0.0, (b - self._t[2]) - (c - self._t[1])))

    def result(self, losses: list[float], **extra: Any) -> dict[str, Any]:
        return {"wall": self.wall, "cpu": self.cpu, "foreign": self.foreign, "loss": losses, **extra}


def initial_weights(net: Net, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W, b) per layer as glassnet initialises them (W of shape (in, out)), float32."""
    model = build_glassnet(net, seed)
    return [(layer.W.value.copy(), layer.b.value.copy()) for layer in model.layers]


# ----------------------------------------------------------------------------- glassnet
def build_glassnet(net: Net, seed: int) -> Any:
    import glassnet as gn

    out = "softmax" if net.loss == "cross_entropy" else "sigmoid"
    n = len(net.sizes) - 1
    layers = [gn.Dense(a, b, activation=net.hidden if i < n - 1 else out, init=net.init)
              for i, (a, b) in enumerate(zip(net.sizes[:-1], net.sizes[1:], strict=True))]
    model = gn.Sequential(layers, seed=seed)
    return model.compile(loss=net.loss, optimizer=gn.SGD(net.lr, momentum=net.momentum))


def _fit_timed(model: Any, X: np.ndarray, y: np.ndarray, epochs: int, bs: int, shuffle: bool,
               seed: int) -> tuple[Clock, Any]:
    """``model.fit`` with each epoch timed by a callback (the shuffle included, validation excluded)."""
    import glassnet as gn

    clock = Clock()

    class Timer(gn.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict) -> None:
            clock.start()

        def on_epoch_end(self, epoch: int, logs: dict) -> None:
            clock.stop()

    history = model.fit(X, y, epochs=epochs, batch_size=bs, shuffle=shuffle, seed=seed, verbose=0,
                        callbacks=[Timer()])
    return clock, history


def train_glassnet(net: Net, bs: int, X: np.ndarray, y: np.ndarray, epochs: int, seed: int,
                   init: list | None = None, shuffle: bool = True) -> dict[str, Any]:
    model = build_glassnet(net, seed)
    if init is not None:
        model.set_weights([a for wb in init for a in wb])
    clock, history = _fit_timed(model, X, y, epochs, bs, shuffle, seed)
    weights = [(layer.W.value, layer.b.value) for layer in model.layers]
    return clock.result(history["loss"], weights=weights)


# ----------------------------------------------------------------------------- PyTorch
def torch_network(net: Net, dropout: float = 0.0) -> Any:
    import torch

    mods: list = []
    act = torch.nn.ReLU if net.hidden == "relu" else torch.nn.Sigmoid
    for i, (a, b) in enumerate(zip(net.sizes[:-1], net.sizes[1:], strict=True)):
        mods.append(torch.nn.Linear(a, b))
        if i < len(net.sizes) - 2:
            mods.append(act())
            if dropout:
                mods.append(torch.nn.Dropout(dropout))
    if net.loss == "mse":
        mods.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*mods)


def load_into_torch(model: Any, weights: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Copy glassnet-layout weights (W: in x out) into the Linear layers (weight: out x in)."""
    import torch

    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for lin, (W, b) in zip(linears, weights, strict=True):
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            lin.bias.copy_(torch.from_numpy(b))


def train_torch(net: Net, bs: int, X: np.ndarray, y: np.ndarray, epochs: int, seed: int,
                init: list | None = None, shuffle: bool = True) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    model = torch_network(net)
    if init is not None:
        load_into_torch(model, init)
    opt = torch.optim.SGD(model.parameters(), lr=net.lr, momentum=net.momentum)
    Xt = torch.from_numpy(X)
    if net.loss == "cross_entropy":
        Yt = torch.from_numpy(y.astype(np.int64))

        def cost(out: Any, target: Any) -> Any:
            return F.cross_entropy(out, target)
    else:
        Yt = torch.from_numpy(np.eye(10, dtype=np.float32)[y])

        def cost(out: Any, target: Any) -> Any:  # C = 1/n sum 1/2 ||a - y||^2, as glassnet's "mse"
            return 0.5 * F.mse_loss(out, target, reduction="sum") / out.shape[0]

    n, clock, losses = X.shape[0], Clock(), []
    for _ in range(epochs):
        clock.start()
        perm = torch.randperm(n) if shuffle else torch.arange(n)
        total = 0.0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            xb, yb = Xt[idx], Yt[idx]
            opt.zero_grad()
            loss = cost(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        clock.stop()
        losses.append(total / n)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    weights = [(m.weight.detach().numpy().T, m.bias.detach().numpy()) for m in linears]
    return clock.result(losses, weights=weights)


# ----------------------------------------------------------------------------- scikit-learn
def train_sklearn(net: Net, bs: int, X: np.ndarray, y: np.ndarray, epochs: int, seed: int,
                  init: list | None = None, shuffle: bool = True) -> dict[str, Any]:
    """MLPClassifier, one ``partial_fit`` per epoch. It always pairs a softmax output with log-loss, so for
    the sigmoid / quadratic-cost networks it is an approximation (exact=False): log-loss, eta = 0.5."""
    import warnings

    from sklearn.neural_network import MLPClassifier

    exact = net.loss == "cross_entropy"
    clf = MLPClassifier(hidden_layer_sizes=net.sizes[1:-1], activation="relu" if net.hidden == "relu" else
                        "logistic", solver="sgd", alpha=0.0, batch_size=bs, learning_rate="constant",
                        learning_rate_init=net.lr if exact else 0.5, momentum=net.momentum,
                        nesterovs_momentum=False, shuffle=shuffle, random_state=seed)
    classes = np.arange(10)
    clock, losses = Clock(), []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(epochs):
            clock.start()
            clf.partial_fit(X, y, classes=classes)
            clock.stop()
            losses.append(float(clf.loss_))
    return clock.result(losses, exact=exact, dtype=str(clf.coefs_[0].dtype))


# ----------------------------------------------------------------------------- plain NumPy
def train_numpy(net: Net, bs: int, X: np.ndarray, y: np.ndarray, epochs: int, seed: int,
                init: list | None = None, shuffle: bool = True) -> dict[str, Any]:
    """Mini-batch backprop written out by hand: z = a W + b, a = f(z), delta = dC/dz, W -= eta grad."""
    weights = init if init is not None else initial_weights(net, seed)
    Ws = [W.copy() for W, _ in weights]
    bs_ = [b.copy() for _, b in weights]
    vW = [np.zeros_like(W) for W in Ws]
    vb = [np.zeros_like(b) for b in bs_]
    Y = np.eye(10, dtype=np.float32)[y]
    relu = net.hidden == "relu"
    L = len(Ws)
    rng = np.random.default_rng(seed)
    n, clock, losses = X.shape[0], Clock(), []

    def sigmoid(z: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-z))

    for _ in range(epochs):
        clock.start()
        perm = rng.permutation(n) if shuffle else np.arange(n)
        total = 0.0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            xb, yb = X[idx], Y[idx]
            m = xb.shape[0]
            # forward
            acts, zs = [xb], []
            for layer in range(L):
                z = acts[-1] @ Ws[layer] + bs_[layer]
                zs.append(z)
                if layer < L - 1:
                    acts.append(np.maximum(z, 0) if relu else sigmoid(z))
                elif net.loss == "cross_entropy":
                    e = np.exp(z - z.max(axis=1, keepdims=True))
                    acts.append(e / e.sum(axis=1, keepdims=True))
                else:
                    acts.append(sigmoid(z))
            a = acts[-1]
            # cost and output delta
            if net.loss == "cross_entropy":
                total += -float(np.log(a[np.arange(m), y[idx]] + 1e-30).sum())
                delta = (a - yb) / m
            else:
                total += 0.5 * float(((a - yb) ** 2).sum())
                delta = (a - yb) * a * (1 - a) / m
            # backward
            for layer in range(L - 1, -1, -1):
                gW = acts[layer].T @ delta
                gb = delta.sum(axis=0)
                if layer > 0:
                    delta = delta @ Ws[layer].T
                    delta *= (zs[layer - 1] > 0) if relu else acts[layer] * (1 - acts[layer])
                if net.momentum:
                    vW[layer] = net.momentum * vW[layer] - net.lr * gW
                    vb[layer] = net.momentum * vb[layer] - net.lr * gb
                    Ws[layer] += vW[layer]
                    bs_[layer] += vb[layer]
                else:
                    Ws[layer] -= net.lr * gW
                    bs_[layer] -= net.lr * gb
        clock.stop()
        losses.append(total / n)
    return clock.result(losses, weights=list(zip(Ws, bs_, strict=True)))


TRAINERS = {"glassnet": train_glassnet, "torch": train_torch, "sklearn": train_sklearn, "numpy": train_numpy}


# ----------------------------------------------------------------------------- cnn and lstm presets (glassnet, PyTorch)
PRESET_LABELS = {
    "cnn": "`cnn` preset: conv 32@5x5-pool-conv 64@5x5-pool-256-10 relu, softmax CE, Adam",
    "lstm": "`lstm` preset: LSTM(28 -> 128) over the 28 rows-10, softmax CE, Adam",
}


def preset(name: str) -> dict[str, Any]:
    """glassnet's ``cnn`` or ``lstm`` network without dropout (the lstm preset has none anyway), trained as the
    PyTorch peer is: no distorted digits (the Augment layer would add its work to glassnet's side only), no
    label smoothing, eta = lr x decay^epoch."""
    from glassnet.presets import PRESETS

    return {**PRESETS[name], "dropout": 0.0, "augment": "off", "label_smoothing": 0.0, "schedule": "exponential",
            "warmup": 0}


def glassnet_preset(name: str, seed: int) -> Any:
    """The compiled model exactly as ``glassnet train --preset name --dropout 0`` builds it."""
    from glassnet.presets import build

    return build(preset(name), seed)


def train_glassnet_preset(name: str, bs: int, X: np.ndarray, y: np.ndarray, epochs: int, seed: int,
                          shuffle: bool = True) -> dict[str, Any]:
    """glassnet's preset network, cross-entropy, Adam eta = lr * decay^epoch; no validation."""
    clock, history = _fit_timed(glassnet_preset(name, seed), X, y, epochs, bs, shuffle, seed)
    return clock.result(history["loss"])


def torch_preset(name: str, seed: int) -> Any:
    """The preset's network in PyTorch, from the weights glassnet initialises with the same seed. The
    flat 784-pixel rows are unflattened to (1, 28, 28) images or 28 rows of 28 pixels. Conv2D's W is
    (C', C, kh, kw) like ``nn.Conv2d.weight``; Dense's W is transposed; the LSTM's gate blocks
    [i f o g] of W_x (28, 4H), W_h (H, 4H) and b are reordered to PyTorch's [i f g o] rows."""
    import torch
    from torch import nn

    ours = [layer for layer in glassnet_preset(name, seed).layers if layer.params]
    if name == "cnn":
        model = nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(64 * 4 * 4, 256), nn.ReLU(), nn.Linear(256, 10))
        learned = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
        arrays = [(layer.W.value if isinstance(m, nn.Conv2d) else layer.W.value.T, layer.b.value)
                  for m, layer in zip(learned, ours, strict=True)]
        with torch.no_grad():
            for m, (w, b) in zip(learned, arrays, strict=True):
                m.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
                m.bias.copy_(torch.from_numpy(b))
        return model
    hid = ours[0].n_hidden

    class LastStep(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(28, hid, batch_first=True)
            self.dense = nn.Linear(hid, 10)

        def forward(self, x: Any) -> Any:
            out, _ = self.lstm(x.view(-1, 28, 28))
            return self.dense(out[:, -1])

    model = LastStep()
    order = np.concatenate([np.arange(k * hid, (k + 1) * hid) for k in (0, 1, 3, 2)])  # [i f o g] -> [i f g o]
    lstm, dense = ours
    with torch.no_grad():
        model.lstm.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(lstm.W_x.value[:, order].T)))
        model.lstm.weight_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(lstm.W_h.value[:, order].T)))
        model.lstm.bias_ih_l0.copy_(torch.from_numpy(lstm.b.value[order]))
        model.lstm.bias_hh_l0.zero_()
        model.dense.weight.copy_(torch.from_numpy(np.ascontiguousarray(dense.W.value.T)))
        model.dense.bias.copy_(torch.from_numpy(dense.b.value))
    return model


def train_torch_preset(name: str, bs: int, X: np.ndarray, y: np.ndarray, epochs: int, seed: int,
                       shuffle: bool = True) -> dict[str, Any]:
    """The same network in PyTorch, Adam with ExponentialLR; data handling as in ``train_torch``."""
    import torch
    import torch.nn.functional as F

    cfg = preset(name)
    torch.manual_seed(seed)
    model = torch_preset(name, seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg["decay"])
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    n, clock, losses = X.shape[0], Clock(), []
    model.train()
    for _ in range(epochs):
        clock.start()
        perm = torch.randperm(n) if shuffle else torch.arange(n)
        total = 0.0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            opt.zero_grad()
            loss = F.cross_entropy(model(Xt[idx]), Yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        clock.stop()
        losses.append(total / n)
    return clock.result(losses)


PRESET_TRAINERS = {"glassnet": train_glassnet_preset, "torch": train_torch_preset}


def predict_rate(peer: str, name: str, X: np.ndarray, rounds: int, seed: int = 0) -> dict[str, Any]:
    """Images per second of inference with the preset's network on X, the best of ``rounds`` passes after
    one warm-up: glassnet ``model.predict(X)``; PyTorch ``model(X)`` in eval mode under ``no_grad``, in
    chunks of 1,000 images. Also the predicted classes, so the two can be compared."""
    if peer == "glassnet":
        model = glassnet_preset(name, seed)

        def run() -> np.ndarray:
            return model.predict(X)
    else:
        import torch

        model = torch_preset(name, seed).eval()
        Xt = torch.from_numpy(X)

        def run() -> np.ndarray:
            with torch.no_grad():
                return torch.cat([model(Xt[i:i + 1000]) for i in range(0, len(Xt), 1000)]).numpy()
    out = run()
    clock = Clock()
    for _ in range(rounds):
        clock.start()
        run()
        clock.stop()
    return clock.result([], rate=[X.shape[0] / w for w in clock.wall], classes=out.argmax(axis=1).tolist())


# ----------------------------------------------------------------------------- time to 98% test accuracy
def default_preset() -> dict[str, Any]:
    from glassnet.presets import PRESETS

    return dict(PRESETS["default"])


def to98_glassnet(X: np.ndarray, y: np.ndarray, Xt: np.ndarray, yt: np.ndarray, seed: int, target: float,
                  max_epochs: int, save: str | None = None) -> dict[str, Any]:
    """glassnet's ``default`` preset, as ``glassnet train`` builds it, trained on all 60,000 images;
    the test accuracy is measured after each epoch and training stops at ``target``."""
    import glassnet as gn
    from glassnet.presets import build

    model = build(default_preset(), seed)
    accs: list[float] = []
    start = time.perf_counter()

    class StopAtTarget(gn.Callback):
        def on_epoch_end(self, epoch: int, logs: dict) -> None:
            accs.append(self.model.evaluate(Xt, yt)["accuracy"])
            if accs[-1] >= target:
                self.model.stop_training = True

    model.fit(X, y, epochs=max_epochs, batch_size=default_preset()["batch_size"], seed=seed, verbose=0,
              callbacks=[StopAtTarget()])
    seconds = time.perf_counter() - start
    if save:
        model.save(save)
    return {"seconds": seconds, "accuracy": accs, "reached": accs[-1] >= target}


def to98_torch(X: np.ndarray, y: np.ndarray, Xt: np.ndarray, yt: np.ndarray, seed: int, target: float,
               max_epochs: int) -> dict[str, Any]:
    """The same network in PyTorch: 784-512-256-10 ReLU, dropout 0.2 after each hidden layer, softmax
    cross-entropy, SGD momentum 0.9, eta = 0.05 * 0.9^epoch (ExponentialLR), batch 128, starting from
    the very weights glassnet initialises with the same seed."""
    import torch
    import torch.nn.functional as F

    cfg = default_preset()
    torch.manual_seed(seed)
    net = Net("default", (784, *cfg["hidden"], 10), cfg["activation"], "cross_entropy", cfg["lr"],
              cfg["momentum"], "he")
    model = torch_network(net, dropout=cfg["dropout"])
    from glassnet.presets import build

    gmodel = build(cfg, seed)
    load_into_torch(model, [(layer.W.value, layer.b.value) for layer in gmodel.layers if hasattr(layer, "W")])
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"])
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg["decay"])
    Xg, yg = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    Xtt, ytt = torch.from_numpy(Xt), torch.from_numpy(yt.astype(np.int64))
    bs, n, accs = cfg["batch_size"], X.shape[0], []
    start = time.perf_counter()
    for _ in range(max_epochs):
        model.train()
        perm = torch.randperm(n)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            opt.zero_grad()
            loss = F.cross_entropy(model(Xg[idx]), yg[idx])
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        with torch.no_grad():
            accs.append(float((model(Xtt).argmax(1) == ytt).float().mean()))
        if accs[-1] >= target:
            break
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "accuracy": accs, "reached": accs[-1] >= target}


def save_torch_weights(npz: str, pt: str) -> None:
    """A glassnet model file's weights as a PyTorch state_dict for ``predict_torch.py``."""
    import torch

    import glassnet as gn

    model = gn.load(npz)
    dense = [layer for layer in model.layers if hasattr(layer, "W")]
    sizes = (784, *(d.n_out for d in dense))
    net = torch_network(Net("default", sizes, "relu", "cross_entropy", 0.1, 0.0, "he"))
    load_into_torch(net, [(d.W.value, d.b.value) for d in dense])
    torch.save(net.state_dict(), pt)
