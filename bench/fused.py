"""How close can NumPy get to PyTorch's fused kernels? The lstm layer split into its products and the rest,
and the cnn and lstm networks beside PyTorch with and without oneDNN.

    python bench/fused.py                 # needs torch (bench/requirements.txt)

The layer of ``glassnet train --preset lstm``: LSTM(28 -> 128) over 28 rows, batch 64, forward and backward
(the first layer, so no input gradient), on random data, float32, 2 threads for both libraries. Four
timings of the same work, each the best of ``--repeats`` passes over ``--batches`` batches:

    glassnet layer     LSTM.forward + LSTM.backward, as training runs them
    its products       the same matrix products alone (x W_x for all steps, h_(t-1) W_h and delta_(t+1) W_h^T
                       for each step, and the two weight gradients), split in the same two halves of the batch
                       on one BLAS thread each, as the layer does
    the rest           glassnet layer - its products: the gate nonlinearities, the cell updates, the backward
                       factors and the Python loop over the 28 steps, one NumPy call per operation
    PyTorch layer      torch.nn.LSTM forward + backward (batch_first, its last step's h), which runs oneDNN's
                       fused RNN kernel on the CPU
    ..., oneDNN off    the same with torch.backends.mkldnn off: PyTorch's step-by-step path, separate
                       products and elementwise kernels, as glassnet's layer

and one step's recurrent product h_(t-1) W_h, (64 x 128) (128 x 512), in microseconds per call: NumPy on 2
threads, NumPy as the layer runs it (two 32-row halves side by side, one BLAS thread each), and torch.mm.

Then one training epoch (after one of warm-up) of the cnn and lstm presets' networks, as bench/speed.py builds
them, on ``--batches`` batches of random 28 x 28 images: glassnet, PyTorch, PyTorch with oneDNN off.

If the rest alone takes about as long as PyTorch's whole layer, no arrangement of the products closes the gap:
only fewer passes over memory per step, i.e. a fused (compiled) kernel, would; PyTorch without its fused
kernel shows what the step-by-step path costs in a compiled library.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402 (the thread counts are read on import)

from glassnet._base.blas import in_parts  # noqa: E402
from glassnet.nn.recurrent import LSTM  # noqa: E402

N, T, F, H = 64, 28, 28, 128


def best(fn: Callable[[], None], batches: int, repeats: int) -> float:
    """Best seconds of ``repeats`` passes of ``batches`` calls (the first call of each pass included)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(batches):
            fn()
        times.append(time.perf_counter() - start)
    return min(times)


def glassnet_layer(x: np.ndarray, grad: np.ndarray) -> Callable[[], None]:
    layer = LSTM(F, H)
    layer.build((T, F), np.dtype(np.float32), np.random.default_rng(0))
    layer.needs_input_grad = False

    def step() -> None:
        layer.forward(x, training=True)
        layer.backward(grad.copy())

    return step


def products(x: np.ndarray) -> Callable[[], None]:
    """The layer's matrix products with their shapes, on the same two halves of the batch."""
    rng = np.random.default_rng(1)
    w_x = rng.standard_normal((F, 4 * H)).astype(np.float32)
    w_h = rng.standard_normal((H, 4 * H)).astype(np.float32) * 0.1
    xt = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(T * N, F)
    z = np.empty((T, N, 4 * H), np.float32)
    h = rng.standard_normal((T, N, H)).astype(np.float32)
    delta = rng.standard_normal((T, N, 4 * H)).astype(np.float32)
    g_wx, g_wh = np.empty_like(w_x), np.empty_like(w_h)

    def steps(rows: slice) -> None:
        zr, hr, dr = z[:, rows], h[:, rows], delta[:, rows]
        for t in range(1, T):
            zr[t] += hr[t - 1] @ w_h
        for t in range(T - 2, -1, -1):
            _ = dr[t + 1] @ w_h.T

    def step() -> None:
        np.matmul(xt, w_x, out=z.reshape(T * N, -1))
        in_parts(N, steps, serial=True)
        np.matmul(xt.T, delta.reshape(T * N, -1), out=g_wx)
        np.matmul(h[:-1].reshape(-1, H).T, delta[1:].reshape(-1, 4 * H), out=g_wh)

    return step


def torch_layer(x: np.ndarray, grad: np.ndarray, onednn: bool = True) -> Callable[[], None] | None:
    """torch.nn.LSTM forward + backward; ``onednn=False``: without oneDNN's fused RNN kernel, i.e. the
    step-by-step path of separate products and elementwise kernels that glassnet's layer also takes."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    lstm = torch.nn.LSTM(F, H, batch_first=True)
    xt, gt = torch.from_numpy(x), torch.from_numpy(grad)

    def step() -> None:
        with torch.backends.mkldnn.flags(enabled=onednn):
            lstm.zero_grad(set_to_none=True)
            out, _ = lstm(xt)
            out[:, -1].backward(gt)

    return step


def product_calls(calls: int) -> dict[str, float]:
    """Microseconds per h W_h product: NumPy whole, NumPy in two halves as the layer runs it, torch.mm."""
    rng = np.random.default_rng(2)
    h = rng.standard_normal((N, H)).astype(np.float32)
    w_h = rng.standard_normal((H, 4 * H)).astype(np.float32)
    out = np.empty((N, 4 * H), np.float32)

    def halves(rows: slice) -> None:
        for _ in range(calls):
            np.matmul(h[rows], w_h, out=out[rows])

    found = {"NumPy, 2 threads": best(lambda: np.matmul(h, w_h, out=out), calls, 5) / calls,
             "NumPy, 2 halves side by side": best(lambda: in_parts(N, halves, serial=True), 1, 5) / calls}
    try:
        import torch
    except ImportError:
        return found
    th, tw, to = torch.from_numpy(h), torch.from_numpy(w_h), torch.from_numpy(out)
    found["torch.mm, 2 threads"] = best(lambda: torch.mm(th, tw, out=to), calls, 5) / calls
    return found


def networks(batches: int, repeats: int) -> dict[str, dict[str, float]]:
    """Seconds of one training epoch of the cnn and lstm presets' networks: glassnet, PyTorch with and without
    oneDNN (the best of ``repeats``)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import peers  # the benchmark's networks, built alike on both sides

    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(3)
    X = rng.random((batches * N, 784), dtype=np.float32)
    y = rng.integers(0, 10, batches * N)

    def epoch(train: Callable[..., dict], name: str) -> float:
        return min(train(name, N, X, y, 2, 0)["wall"][1] for _ in range(repeats))

    out = {}
    for name in ("cnn", "lstm"):
        row = {"glassnet": epoch(peers.train_glassnet_preset, name)}
        if torch is not None:
            row["PyTorch"] = epoch(peers.train_torch_preset, name)
            with torch.backends.mkldnn.flags(enabled=False):
                row["PyTorch, oneDNN off"] = epoch(peers.train_torch_preset, name)
        out[name] = row
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, default=94, help="batches per pass (default 94: 6,000 images)")
    p.add_argument("--repeats", type=int, default=5, help="passes; the best is kept (default 5)")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.random((N, T, F), dtype=np.float32)
    grad = rng.standard_normal((N, H)).astype(np.float32)
    rows = {"glassnet layer": glassnet_layer(x, grad), "its products": products(x)}
    peer = torch_layer(x, grad)
    if peer is not None:
        rows["PyTorch layer"] = peer
        rows["PyTorch layer, oneDNN off"] = torch_layer(x, grad, onednn=False)
    for fn in rows.values():
        fn()  # warm-up: buffers, BLAS threads
    secs = {name: best(fn, args.batches, args.repeats) for name, fn in rows.items()}
    secs["the rest"] = secs["glassnet layer"] - secs["its products"]
    print(f"LSTM({F} -> {H}) over {T} steps, batch {N}, forward + backward, {args.batches} batches "
          f"({args.batches * N:,} sequences), best of {args.repeats}\n")
    print("| part | seconds | against PyTorch's layer |")
    print("|---|---:|---:|")
    ref = secs.get("PyTorch layer")
    for name in ("glassnet layer", "its products", "the rest", "PyTorch layer", "PyTorch layer, oneDNN off"):
        if name in secs:
            ratio = f"{secs[name] / ref:.2f}x" if ref else "—"
            print(f"| {name} | {secs[name]:.3f} | {ratio} |")
    print(f"\nOne step's product h_(t-1) W_h, ({N} x {H}) ({H} x {4 * H}), best of 5 x 2,000 calls\n")
    print("| how | microseconds per call |")
    print("|---|---:|")
    for name, sec in product_calls(2000).items():
        print(f"| {name} | {sec * 1e6:.1f} |")
    nets = networks(args.batches, 3)
    print(f"\nOne training epoch of the presets' networks on {args.batches * N:,} random images, batch {N}, Adam, "
          "best of 3 (seconds)\n")
    cols = list(nets["cnn"])
    print("| network | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for name, row in nets.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    if ref is None:
        print("\n(PyTorch is not installed: pip install -r bench/requirements.txt)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
