"""The compiled kernels on a busy machine: CPU time of one training step of the cnn and lstm presets' networks and
of one cnn inference batch, on one thread, glassnet with NumPy alone, glassnet with its kernels, PyTorch.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/kernels.py     # needs numba and torch

On one thread the process's CPU time is the work done, whatever else the machine runs (bench/speed.py's wall
clock with 2 threads is not, when other processes take the cores). The three take turns, step by step, on the
same random batch of 64 images (1,000 for inference), ``--rounds`` times; the table gives the least CPU time of
each. A training step is what ``fit`` does per batch: forward, backward, the Adam update.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402 (the thread counts are read on import)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402


def glassnet_step(name: str, choice: str, x: np.ndarray, y: np.ndarray, predict: bool):
    import glassnet._kernels as kernels

    model = peers.glassnet_preset(name, 0)

    def step() -> None:
        kernels.set_kernels(choice)
        if predict:
            model.predict(x)
        else:
            model.fit(x, y, epochs=1, batch_size=len(x), seed=0, verbose=0)

    return step


def torch_step(name: str, x: np.ndarray, y: np.ndarray, predict: bool):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    model = peers.torch_preset(name, 0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def step() -> None:
        if predict:
            with torch.no_grad():
                model.eval()(xt)
            return
        opt.zero_grad()
        loss = F.cross_entropy(model.train()(xt), yt)
        loss.backward()
        opt.step()
        loss.item()

    return step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=30, help="turns of each (default 30); the least CPU time is kept")
    args = p.parse_args(argv)
    from threadpoolctl import threadpool_info

    blas = next((f"{i['internal_api']} {i['version']}, {i.get('architecture')} kernels" for i in threadpool_info()
                 if i["user_api"] == "blas"), "?")
    rng = np.random.default_rng(0)
    rows = []
    for name, predict, n in (("cnn", False, 64), ("lstm", False, 64), ("cnn", True, 1000)):
        x, y = rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)
        steps = {"glassnet": glassnet_step(name, "numpy", x, y, predict),
                 "glassnet (fast)": glassnet_step(name, "numba", x, y, predict),
                 "PyTorch": torch_step(name, x, y, predict)}
        for fn in steps.values():
            fn()  # warm-up: buffers, the kernels compiled or loaded
        best = dict.fromkeys(steps, float("inf"))
        for _ in range(args.rounds):
            for key, fn in steps.items():
                t = time.process_time()
                fn()
                best[key] = min(best[key], time.process_time() - t)
        rows.append((f"`{name}` {'predict, 1,000 images' if predict else 'training step, batch 64'}", best))
    print(f"CPU milliseconds, one thread, least of {args.rounds} interleaved turns; NumPy's BLAS: {blas}\n")
    print("| | glassnet | glassnet (fast) | PyTorch | glassnet / PyTorch | glassnet (fast) / PyTorch |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, b in rows:
        g, f, t = b["glassnet"], b["glassnet (fast)"], b["PyTorch"]
        print(f"| {label} | {g * 1e3:.2f} | {f * 1e3:.2f} | {t * 1e3:.2f} | {g / t:.2f}x | {f / t:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
