"""Speed of glassnet against PyTorch, scikit-learn and a plain NumPy loop on MNIST, in one run.

    python -m venv benchvenv && benchvenv/bin/pip install -r bench/requirements.txt -e .
    benchvenv/bin/python bench/speed.py --data-dir ../shared/datasets/mnist

Every measurement runs in a fresh child process with the same BLAS / OpenMP thread count for every library
(``--threads``, default 2: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS and
``torch.set_num_threads``). For each network the peers take turns (glassnet, PyTorch, scikit-learn,
NumPy, glassnet, ...) so that load from other processes hits all of them; each child trains ``--epochs``
epochs, the first of which is a warm-up and is discarded, and the table gives the median over
``--repeats`` children. A measurement during which other processes used more than ``--max-foreign`` of a
core (read from /proc/stat), or after which a fixed canary workload ran 15% slower than its best, is
repeated, up to ``--retries`` times; one still disturbed is marked ``*``. Before each measurement the
script waits (up to ``--max-wait`` seconds) for both signs of load to go.

Also printed: the machine's float32 matrix-multiply peak (a 4096 x 4096 sgemm, NumPy and PyTorch) and the
share of it each run reaches; glassnet's ``cnn`` and ``lstm`` presets without dropout (a LeNet-style CNN and
an LSTM reading the image's rows, batch 64, Adam) against the same networks in PyTorch, timed on the first
``--cnn-limit`` images and scaled to a full epoch; the cnn's inference throughput (images per second of
``predict`` on ``--predict-limit`` test images) against PyTorch's; a check that the PyTorch loops compute
what glassnet computes (from the same weights, the same losses, weights and predictions); the time to
98% test accuracy of glassnet's ``default`` preset against the same network in PyTorch; and the wall time
and peak memory of ``glassnet predict`` on one picture against the same prediction written with PyTorch
(``bench/predict_torch.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

USER_BLAS_TIMEOUT = os.environ.get("OPENBLAS_THREAD_TIMEOUT")  # read before ``import glassnet`` sets it here
BLAS_SLEEP = True
"""Whether glassnet's children run with ``OPENBLAS_THREAD_TIMEOUT=4``, as ``import glassnet`` sets it before NumPy
loads OpenBLAS (a child imports NumPy first); ``--blas-spin`` leaves OpenBLAS's default. The other peers run with
OpenBLAS's default; a value set by the user applies to every child."""

ROWS = [("relu", 128), ("relu", 32), ("nielsen", 10), ("3b1b", 100)]
PRESET_ROWS = ["cnn", "lstm"]  # glassnet's presets against PyTorch only: the others have no convolutions or LSTMs
PRESET_PEERS = ["glassnet", "fast", "torch"]
PEERS = ["glassnet", "fast", "torch", "sklearn", "numpy"]
PEER_NAMES = {"glassnet": "glassnet", "fast": "glassnet (fast)", "torch": "PyTorch", "sklearn": "scikit-learn",
              "numpy": "NumPy loop"}
PEER_MODULES = {"fast": "numba", "torch": "torch", "sklearn": "sklearn"}
"""``glassnet`` runs NumPy's code alone (GLASSNET_KERNELS=numpy), ``fast`` the same library with its compiled
kernels (GLASSNET_KERNELS=numba, the extra glassnet[fast])."""


# ----------------------------------------------------------------------------- child processes
def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in this (fresh) process; the thread variables are already set."""
    import numpy as np

    if spec.get("torch_threads"):
        import torch

        torch.set_num_threads(spec["torch_threads"])
    task = spec["task"]
    if spec.get("peer") == "fast":  # glassnet itself; the environment chose its kernels
        spec = {**spec, "peer": "glassnet"}
    if task == "compile":
        return first_call_seconds()
    if task == "peak":
        return {"gflops": _sgemm_peak(spec["lib"], spec["n"])}
    if task == "convert":
        import peers

        peers.save_torch_weights(spec["npz"], spec["pt"])
        return {}
    data = Path(spec["data"])
    X, y = np.load(data / "X_train.npy"), np.load(data / "y_train.npy")
    import peers

    if task == "train" and spec["net"] in PRESET_ROWS:
        X, y = X[:spec["limit"]], y[:spec["limit"]]
        return peers.PRESET_TRAINERS[spec["peer"]](spec["net"], spec["bs"], X, y, spec["epochs"], spec["seed"])
    if task == "check":
        return peer_check(X, y)
    if task == "train":
        fn = peers.TRAINERS[spec["peer"]]
        out = fn(peers.NETS[spec["net"]], spec["bs"], X, y, spec["epochs"], spec["seed"])
        out.pop("weights", None)
        return out
    Xt, yt = np.load(data / "X_test.npy"), np.load(data / "y_test.npy")
    if task == "rate":
        return peers.predict_rate(spec["peer"], spec["net"], Xt[:spec["limit"]], spec["rounds"], spec["seed"])
    if spec["peer"] == "glassnet":
        return peers.to98_glassnet(X, y, Xt, yt, spec["seed"], spec["target"], spec["max_epochs"],
                                   spec.get("save"))
    return peers.to98_torch(X, y, Xt, yt, spec["seed"], spec["target"], spec["max_epochs"])


def first_call_seconds() -> dict[str, float]:
    """Seconds of the first and of a later training step (batch 64, float32) of the cnn and lstm presets' networks,
    numba's import and the kernels' compilation (or their loading from the cache) in the first."""
    import numpy as np
    import peers

    out = {}
    x = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    y = np.arange(64) % 10
    for name in PRESET_ROWS:
        model = peers.glassnet_preset(name, 0)
        for when in ("first", "later"):
            t = time.perf_counter()
            model.fit(x, y, epochs=1, batch_size=64, seed=0, verbose=0)
            out[f"{name} {when}"] = time.perf_counter() - t
    return out


def peer_check(X: Any, y: Any) -> dict[str, float]:
    """Do the PyTorch peers compute what glassnet computes? On 200 training images: the dense networks
    trained for 2 epochs from the same weights without shuffling (largest relative loss difference,
    largest weight difference), and the cnn and lstm presets' initial predictions (largest
    probability difference)."""
    import numpy as np
    import peers
    import torch

    X, y = X[:200], y[:200]
    out: dict[str, float] = {}
    for net in ("relu", "nielsen"):
        spec = peers.NETS[net]
        init = peers.initial_weights(spec, seed=0)
        ours = peers.train_glassnet(spec, 20, X, y, epochs=2, seed=0, init=init, shuffle=False)
        theirs = peers.train_torch(spec, 20, X, y, epochs=2, seed=0, init=init, shuffle=False)
        out[f"{net} loss"] = float(np.max(np.abs(np.subtract(ours["loss"], theirs["loss"])) / theirs["loss"]))
        pairs = [ab for wa, wb in zip(ours["weights"], theirs["weights"], strict=True)
                 for ab in zip(wa, wb, strict=True)]
        out[f"{net} weights"] = max(float(np.max(np.abs(a - b))) for a, b in pairs)
    for name in PRESET_ROWS:
        ours = peers.glassnet_preset(name, 0).predict(X)
        with torch.no_grad():
            theirs = torch.softmax(peers.torch_preset(name, 0).eval()(torch.from_numpy(X)), dim=1).numpy()
        out[f"{name} predict"] = float(np.max(np.abs(ours - theirs)))
    return out


def _sgemm_peak(lib: str, n: int) -> float:
    """GFLOP/s of the best of three n x n float32 matrix products (after one warm-up)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    if lib == "torch":
        import torch

        a, b = torch.from_numpy(a), torch.from_numpy(b)
        c = torch.empty_like(a)

        def mm() -> None:
            torch.mm(a, b, out=c)
    else:
        c = np.empty_like(a)

        def mm() -> None:
            np.matmul(a, b, out=c)
    mm()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        mm()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    return env


def run_child(spec: dict[str, Any], threads: int) -> dict[str, Any]:
    needs_torch = spec.get("peer") == "torch" or spec.get("lib") == "torch" or spec["task"] in ("convert", "check")
    spec = {**spec, "torch_threads": threads if needs_torch else 0}
    env = {**thread_env(threads), "GLASSNET_KERNELS": "numba" if spec.get("peer") == "fast" else "numpy",
           **spec.get("env", {})}
    from glassnet._base import sleep

    env.pop(sleep.VARIABLE, None)
    if USER_BLAS_TIMEOUT is not None:
        env[sleep.VARIABLE] = USER_BLAS_TIMEOUT
    elif spec.get("peer") in ("glassnet", "fast") and BLAS_SLEEP:
        env[sleep.VARIABLE] = sleep.VALUE
    proc = subprocess.run([sys.executable, str(HERE / "speed.py"), "--worker", json.dumps(spec)],
                          env=env, capture_output=True, text=True)
    if proc.returncode:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"child {spec['task']} {spec.get('peer', '')} failed:\n{tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def foreign_load(seconds: float = 0.5) -> float:
    """Cores' worth of CPU that other processes use now (sampled over ``seconds``)."""
    import peers

    b0 = peers._busy_seconds()
    time.sleep(seconds)
    return (peers._busy_seconds() - b0) / seconds


class Canary:
    """A fixed workload of about 25 ms (random row gathers and small matrix products, like a training
    step) timed around every measurement. Load from outside this machine's view (other virtual machines
    on the host) slows it down without showing in /proc/stat; a canary 15% slower than its best run
    (the better of two) marks the machine as disturbed."""

    def __init__(self) -> None:
        import numpy as np

        rng = np.random.default_rng(0)
        self.X = rng.random((16384, 784), dtype=np.float32)
        self.W = rng.random((784, 128), dtype=np.float32)
        self.idx = rng.integers(0, 16384, (150, 128))
        self.buf = np.empty((128, 784), np.float32)
        self.best = float("inf")

    def run(self) -> float:
        t = time.perf_counter()
        for idx in self.idx:
            self.X.take(idx, axis=0, out=self.buf, mode="clip")
            self.buf @ self.W
        t = time.perf_counter() - t
        self.best = min(self.best, t)
        return t

    def slow(self) -> bool:
        return min(self.run(), self.run()) > 1.15 * self.best


CANARY: list[Canary] = []


def wait_until_quiet(limit: float, max_wait: float) -> None:
    """Sleep (up to ``max_wait`` seconds) until other processes use less than ``limit`` of a core and the
    canary runs at its best speed."""
    if not CANARY:
        CANARY.append(Canary())
        for _ in range(5):
            CANARY[0].run()
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline and (not foreign_load() < limit or CANARY[0].slow()):
        pass


# ----------------------------------------------------------------------------- measurements
def measure_training(args: argparse.Namespace, data: Path, peers_ok: list[str], log: Any) -> dict:
    """{(net, bs): {peer: {"epochs": [...], "disturbed": bool, "cpu": [...]}}}"""
    results: dict = {}
    for net, bs in ROWS:
        if args.rows and f"{net}{bs}" not in args.rows:
            continue
        row = results.setdefault((net, bs), {})
        for rep in range(args.repeats):
            for peer in peers_ok:
                spec = {"task": "train", "peer": peer, "net": net, "bs": bs, "epochs": args.epochs,
                        "seed": rep, "data": str(data)}
                worst, out = measure_child(args, spec, args.retries)
                record(row, peer, out, worst, args)
                print(f"  {net}-{bs} {peer:8s} rep {rep}: " + " ".join(f"{t:.3f}" for t in out["wall"]) +
                      f" s/epoch (disturbance {worst:.0%})", file=log, flush=True)
    return results


def record(row: dict, peer: str, out: dict, worst: float, args: argparse.Namespace) -> None:
    """Add one child's timed epochs (after the warm-up), CPU seconds, last loss and disturbance to ``row[peer]``."""
    entry = row.setdefault(peer, {"epochs": [], "cpu": [], "disturbed": False, "loss": []})
    entry["epochs"] += out["wall"][args.warmup:]
    entry["cpu"] += out["cpu"][args.warmup:]
    entry["loss"].append(out["loss"][-1])
    entry["disturbed"] |= worst > args.max_foreign
    if "exact" in out:
        entry["exact"] = out["exact"]


def measure_child(args: argparse.Namespace, spec: dict[str, Any], retries: int) -> tuple[float, dict]:
    """One training child, redone up to ``retries`` times while disturbed: (worst disturbance, the least
    disturbed result). Disturbance = other processes' CPU seconds per wall second in a timed epoch, or 1
    when the canary ran slow afterwards."""
    best = None
    for _attempt in range(retries + 1):
        wait_until_quiet(args.max_foreign, args.max_wait)
        out = run_child(spec, args.threads)
        w, f = out["wall"][args.warmup:], out["foreign"][args.warmup:]
        worst = max((fi / wi for fi, wi in zip(f, w, strict=True)), default=0.0)
        if CANARY[0].slow():  # slowed from outside while it ran
            worst = max(worst, 1.0)
        if best is None or worst < best[0]:
            best = (worst, out)
        if worst <= args.max_foreign:
            break
    assert best is not None
    return best


def measure_presets(args: argparse.Namespace, data: Path, nets: list[str], peers_ok: list[str], log: Any) -> dict:
    """{net: {peer: {"epochs": [...], ...}}} for the cnn and lstm presets on the first ``--cnn-limit``
    images, nets and peers interleaved; the seconds are those of the subset (the report scales them to a
    full epoch)."""
    rows: dict = {}
    for rep in range(args.cnn_repeats):
        for net in nets:
            row = rows.setdefault(net, {})
            for peer in [q for q in PRESET_PEERS if q in peers_ok]:
                spec = {"task": "train", "peer": peer, "net": net, "bs": args.cnn_batch, "epochs": args.epochs,
                        "seed": rep, "data": str(data), "limit": args.cnn_limit}
                worst, out = measure_child(args, spec, args.cnn_retries)
                record(row, peer, out, worst, args)
                print(f"  {net}-{args.cnn_batch} {peer:8s} rep {rep}: " + " ".join(f"{t:.3f}" for t in out["wall"])
                      + f" s per {args.cnn_limit:,} images (disturbance {worst:.0%})", file=log, flush=True)
    return rows


def measure_rates(args: argparse.Namespace, data: Path, peers_ok: list[str], log: Any) -> dict:
    """{peer: {"rate": [...], ...}}: images per second of the cnn preset's inference on the first
    ``--predict-limit`` test images, one child per peer and round, interleaved."""
    out: dict = {}
    for rep in range(args.cnn_repeats):
        for peer in [q for q in PRESET_PEERS if q in peers_ok]:
            spec = {"task": "rate", "peer": peer, "net": "cnn", "seed": 0, "data": str(data),
                    "limit": args.predict_limit, "rounds": 3}
            wait_until_quiet(args.max_foreign, args.max_wait)
            res = run_child(spec, args.threads)
            entry = out.setdefault(peer, {"rate": [], "classes": res["classes"]})
            entry["rate"].append(max(res["rate"]))
            print(f"  cnn predict {peer:8s} rep {rep}: {max(res['rate']):,.0f} images/s", file=log, flush=True)
    return out


def measure_to98(args: argparse.Namespace, data: Path, peers_ok: list[str], model_path: Path,
                 log: Any) -> dict:
    out: dict = {}
    for rep in range(args.repeats_98):
        for peer in [p for p in ("glassnet", "torch") if p in peers_ok]:
            spec = {"task": "to98", "peer": peer, "seed": rep, "data": str(data), "target": 0.98,
                    "max_epochs": args.max_epochs_98, "save": str(model_path) if rep == 0 else None}
            wait_until_quiet(args.max_foreign, args.max_wait)
            res = run_child(spec, args.threads)
            out.setdefault(peer, []).append(res)
            print(f"  to 98%: {peer:8s} rep {rep}: {res['seconds']:.1f} s, {len(res['accuracy'])} epochs, "
                  f"test accuracy {res['accuracy'][-1]:.4f}", file=log, flush=True)
    return out


def measure_predict(args: argparse.Namespace, tmp: Path, model_path: Path, has_torch: bool, log: Any) -> dict:
    import numpy as np
    from PIL import Image

    X = np.load(tmp / "X_test.npy")
    digit = (255 - X[0].reshape(28, 28) * 255).astype(np.uint8)  # dark ink on white paper, enlarged
    png = tmp / "digit.png"
    Image.fromarray(digit).resize((200, 200), Image.Resampling.BILINEAR).save(png)
    script = Path(sys.executable).with_name("glassnet")
    gn_cmd = [str(script)] if script.exists() else [sys.executable, "-m", "glassnet.cli"]
    cmds = {"glassnet": [*gn_cmd, "predict", str(model_path), str(png)]}
    if has_torch:
        pt = tmp / "weights.pt"
        run_child({"task": "convert", "npz": str(model_path), "pt": str(pt)}, args.threads)
        cmds["torch"] = [sys.executable, str(HERE / "predict_torch.py"), str(pt), str(png),
                         "--threads", str(args.threads)]
    out: dict = {k: {"wall": [], "rss_mb": [], "stdout": ""} for k in cmds}
    env = thread_env(args.threads)
    for rep in range(args.repeats_predict + 1):  # the first round warms the file cache and is discarded
        for name, cmd in cmds.items():
            wait_until_quiet(args.max_foreign, args.max_wait)
            # A forked child inherits its parent's peak RSS, and this process holds MNIST: a small Python
            # in between starts the command and reports its wall time and ru_maxrss (from wait4).
            proc = subprocess.run([sys.executable, "-c", _LAUNCHER, json.dumps(cmd)], env=env,
                                  capture_output=True, text=True)
            if proc.returncode:
                raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
            res = json.loads(proc.stdout)
            if rep:
                out[name]["wall"].append(res["wall"])
                out[name]["rss_mb"].append(res["maxrss_kb"] / 1024)
                out[name]["stdout"] = res["stdout"].strip()
            print(f"  predict {name:8s}: {res['wall']:.3f} s, {res['maxrss_kb'] / 1024:.0f} MB: "
                  f"{res['stdout'].strip()}", file=log, flush=True)
    return out


_LAUNCHER = """
import json, os, subprocess, sys, time
cmd = json.loads(sys.argv[1])
t = time.perf_counter()
proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
stdout = proc.stdout.read()
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - t
if os.waitstatus_to_exitcode(status):
    sys.exit(stdout.decode())
print(json.dumps({"wall": wall, "maxrss_kb": usage.ru_maxrss, "stdout": stdout.decode()}))
"""


# ----------------------------------------------------------------------------- report
def machine() -> dict[str, str]:
    import numpy as np

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    kernels = ""
    with contextlib.suppress(Exception):  # which of OpenBLAS's kernel sets runs (OPENBLAS_CORETYPE can choose)
        from threadpoolctl import threadpool_info

        kernels = next(f", {i['architecture']} kernels" for i in threadpool_info() if i["internal_api"] == "openblas")
    info = {"cpu": cpu, "cores": str(os.cpu_count()), "python": platform.python_version(),
            "numpy": f"{np.__version__} ({blas.get('name')} {blas.get('version')}{kernels})",
            "OPENBLAS_THREAD_TIMEOUT": USER_BLAS_TIMEOUT or (
                "4 for glassnet (as it sets it), OpenBLAS's default (28) for the others" if BLAS_SLEEP
                else "OpenBLAS's default (28)")}
    for mod in ("torch", "sklearn"):
        if importlib.util.find_spec(mod):
            info[mod] = __import__(mod).__version__
    return info


def fmt_ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def report(args: argparse.Namespace, info: dict, peak: dict, train: dict, to98: dict, pred: dict,
           peers_ok: list[str], n_train: int, presets: dict | None = None, rates: dict | None = None,
           check: dict | None = None) -> str:
    import numpy as np
    import peers

    lines = [f"Machine: {info['cpu']}, {info['cores']} cores; Python {info['python']}, NumPy {info['numpy']}"
             + (f", PyTorch {info['torch']}" if "torch" in info else "")
             + (f", scikit-learn {info['sklearn']}" if "sklearn" in info else "")
             + f"; {args.threads} threads for every library.", ""]
    if train:
        med = {row: {p: statistics.median(v["epochs"]) for p, v in res.items()} for row, res in train.items()}
        lines += [f"Seconds per epoch on {n_train:,} MNIST training images (median; ratio = glassnet / peer, "
                  "below 1 means glassnet is faster):", ""]
        head = "| network | batch | glassnet |"
        rule = "|---|---:|---:|"
        for p in peers_ok[1:]:
            head += f" {PEER_NAMES[p]} | ratio |"
            rule += "---:|---:|"
        lines += [head, rule]
        for (net, bs), res in train.items():
            g = med[(net, bs)].get("glassnet")
            cells = [peers.NETS[net].label, str(bs), _cell(g, res.get("glassnet"))]
            for p in peers_ok[1:]:
                v = med[(net, bs)].get(p)
                approx = "" if res.get(p, {}).get("exact", True) else " †"
                cells += [_cell(v, res.get(p)) + approx, fmt_ratio(g, v)]
            lines.append("| " + " | ".join(cells) + " |")
        best_peak = max(peak.values()) if peak else None
        if best_peak:
            peaks = ", ".join(f"{k} {v:.0f}" for k, v in peak.items())
            lines += ["", f"Share of the machine's float32 matrix-multiply peak ({best_peak:.0f} GFLOP/s: a "
                      f"4096 x 4096 sgemm, best of {peaks}), counting 3 products of 2 n in out FLOPs per "
                      "dense layer per batch:", ""]
            head = "| network | batch | GFLOP per epoch |" + "".join(f" {PEER_NAMES[p]} |" for p in peers_ok)
            lines += [head, "|---|---:|---:|" + "---:|" * len(peers_ok)]
            for (net, bs), _res in train.items():
                gflop = peers.NETS[net].flops_per_sample() * n_train / 1e9
                cells = [peers.NETS[net].label, str(bs), f"{gflop:.1f}"]
                for p in peers_ok:
                    v = med[(net, bs)].get(p)
                    cells.append(f"{gflop / v:.0f} GFLOP/s ({gflop / v / best_peak:.0%})" if v else "-")
                lines.append("| " + " | ".join(cells) + " |")
    if presets:
        scale = n_train / args.cnn_limit
        others = [PEER_NAMES[p] for p in peers_ok if p not in PRESET_PEERS]
        if lines[-1]:
            lines.append("")
        lines += [f"Seconds per {n_train:,}-image epoch of glassnet's `cnn` and `lstm` presets (without dropout) "
                  f"against the same networks in PyTorch (median of {args.cnn_repeats}; timed on the first "
                  f"{args.cnn_limit:,} images and scaled by {scale:g}):", "",
                  "| network | batch | glassnet | glassnet (fast) | PyTorch | ratio | ratio (fast) |"
                  + "".join(f" {o} |" for o in others), "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(others)]
        for net, row in presets.items():
            sec = {p: statistics.median(v["epochs"]) * scale for p, v in row.items()}
            g, f, t = sec.get("glassnet"), sec.get("fast"), sec.get("torch")
            lines.append(f"| {peers.PRESET_LABELS[net]} | {args.cnn_batch} | {_cell(g, row.get('glassnet'), 2)} | "
                         f"{_cell(f, row.get('fast'), 2)} | {_cell(t, row.get('torch'), 2)} | {fmt_ratio(g, t)} | "
                         f"{fmt_ratio(f, t)} |" + " — |" * len(others))
        if others:
            lines.append(f"{' and '.join(others)} cannot express these networks (—).")
    if rates:
        med = {p: statistics.median(r["rate"]) for p, r in rates.items()}
        g, f, t = med.get("glassnet"), med.get("fast"), med.get("torch")
        same = ""
        if g and t:
            agree = np.mean(np.equal(rates["glassnet"]["classes"], rates["torch"]["classes"]))
            same = f" (the two agree on {agree:.1%} of the predicted classes)"
        lines += ["", f"Inference with the `cnn` preset's network on the first {args.predict_limit:,} test images, "
                  f"images per second (median of {args.cnn_repeats} children, each the best of 3 passes; glassnet "
                  "`model.predict(X)`, PyTorch `model(X)` under `no_grad` in chunks of 1,000)" + same + ":", "",
                  "| network | glassnet | glassnet (fast) | PyTorch | ratio (time per image) | ratio (fast) |",
                  "|---|---:|---:|---:|---:|---:|",
                  f"| {peers.PRESET_LABELS['cnn']} | {g or 0:,.0f} | {f or 0:,.0f} | {t or 0:,.0f} | "
                  f"{fmt_ratio(t, g)} | {fmt_ratio(t, f)} |"]
    if check:
        lines += ["", "Peer check (the PyTorch loops compute what glassnet computes, 200 images): " + ", ".join(
            f"{k} {v:.1e}" for k, v in check.items()) + " (largest relative loss, weight and probability "
            "differences)."]
    if to98:
        lines += ["", "Time to 98% test accuracy, glassnet's `default` preset (784-512-256-10 ReLU, dropout "
                  "0.2, SGD momentum 0.9, eta 0.05 x 0.9^epoch, batch 128) against the same network in "
                  "PyTorch (same initial weights; test set evaluated after each epoch, in the time):", "",
                  "| | seconds (median) | epochs | test accuracy at stop |", "|---|---:|---:|---:|"]
        for p, runs in to98.items():
            secs = statistics.median(r["seconds"] for r in runs)
            eps = "/".join(str(len(r["accuracy"])) for r in runs)
            acc = "/".join(f"{r['accuracy'][-1]:.4f}" for r in runs)
            lines.append(f"| {PEER_NAMES[p]} | {secs:.1f} | {eps} | {acc} |")
        if "glassnet" in to98 and "torch" in to98:
            g = statistics.median(r["seconds"] for r in to98["glassnet"])
            t = statistics.median(r["seconds"] for r in to98["torch"])
            lines.append(f"| ratio | {g / t:.2f}x | | |")
    if pred:
        lines += ["", "One prediction from the command line, whole process (start-up, imports, model file, "
                  "PNG preprocessing, forward pass), median of "
                  f"{args.repeats_predict} runs; peak memory = ru_maxrss of the child:", "",
                  "| | wall seconds | peak memory (MB) |", "|---|---:|---:|"]
        names = {"glassnet": "`glassnet predict model.npz digit.png`",
                 "torch": "PyTorch (`bench/predict_torch.py`)"}
        wall = {p: statistics.median(r["wall"]) for p, r in pred.items()}
        rss = {p: statistics.median(r["rss_mb"]) for p, r in pred.items()}
        for p in pred:
            lines.append(f"| {names[p]} | {wall[p]:.3f} | {rss[p]:.0f} |")
        if len(pred) == 2:
            ratio_wall, ratio_rss = wall["glassnet"] / wall["torch"], rss["glassnet"] / rss["torch"]
            lines.append(f"| ratio | {ratio_wall:.2f}x | {ratio_rss:.2f}x |")
    rounds = (f"{args.repeats} repeats" + (f" ({args.cnn_repeats} for the cnn and lstm)" if presets else "")
              if train else f"{args.cnn_repeats} repeats" if presets else "")
    if rounds:
        lines += ["", f"{rounds} of {args.epochs} epochs per peer and network, peers interleaved, first "
                  f"{args.warmup} epoch(s) of each discarded as warm-up; glassnet `fit(..., verbose=0)`."]
    if any(not v.get("exact", True) for res in train.values() for v in res.values()):
        lines.append("† scikit-learn's MLPClassifier has no sigmoid output with quadratic cost: timed with "
                     "logistic hidden units, softmax output and log-loss instead (an approximation).")
    tries = sorted({n + 1 for n, used in ((args.retries, train), (args.cnn_retries, presets)) if used})
    if any(v["disturbed"] for res in [*train.values(), *(presets or {}).values()] for v in res.values()):
        lines.append(f"* disturbed (other processes used more than {args.max_foreign:.0%} of a core, or the "
                     f"canary ran slow) in every one of {' or '.join(map(str, tries))} tries.")
    return "\n".join(lines)


def _cell(v: float | None, res: dict | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}f}" + ("*" if res and res.get("disturbed") else "")


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    default_data = os.environ.get("GLASSNET_DATA_DIR",
                                  str(HERE.parent.parent / "shared" / "datasets" / "mnist"))
    p.add_argument("--data-dir", default=default_data,
                   help=f"folder with the MNIST IDX files (default {default_data})")
    p.add_argument("--threads", type=int, default=2, help="threads for every library (default 2)")
    p.add_argument("--blas-spin", action="store_true",
                   help="run glassnet with OpenBLAS's idle threads spinning 0.1 s after each product (OpenBLAS's "
                        "default) instead of OPENBLAS_THREAD_TIMEOUT=4, which glassnet sets when imported first")
    p.add_argument("--repeats", type=int, default=3, help="child processes per peer and network (default 3)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per child (default 2)")
    p.add_argument("--warmup", type=int, default=1, help="epochs discarded per child (default 1)")
    p.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated subset of {','.join(PEERS)}")
    row_names = [f"{n}{b}" for n, b in ROWS] + PRESET_ROWS + ["predict"]
    p.add_argument("--rows", default="", help="comma-separated subset of " + ",".join(row_names))
    p.add_argument("--limit", type=int,
                   help="train on the first N images only (a quick check, not a benchmark)")
    p.add_argument("--cnn-limit", type=int, default=6000,
                   help="time the cnn and lstm rows on the first N training images, scaled to a full epoch "
                        "(default 6000)")
    p.add_argument("--cnn-batch", type=int, default=64,
                   help="batch size of the cnn and lstm rows (default 64, as the presets)")
    p.add_argument("--cnn-repeats", type=int, default=3,
                   help="child processes per peer for the cnn, lstm and predict rows (default 3)")
    p.add_argument("--cnn-retries", type=int, default=1,
                   help="redos of a disturbed cnn or lstm measurement (default 1: a child takes tens of seconds)")
    p.add_argument("--predict-limit", type=int, default=10000,
                   help="test images for the cnn predict-throughput row (default 10000)")
    p.add_argument("--skip-check", action="store_true", help="no check that the PyTorch peers match glassnet")
    p.add_argument("--repeats-98", type=int, default=1,
                   help="runs of the time-to-98%% race per peer (default 1)")
    p.add_argument("--max-epochs-98", type=int, default=20,
                   help="give up the 98%% race after this many epochs (default 20)")
    p.add_argument("--repeats-predict", type=int, default=5, help="runs of each predict command (default 5)")
    p.add_argument("--skip-98", action="store_true", help="no time-to-98%% race")
    p.add_argument("--skip-predict", action="store_true", help="no predict comparison")
    p.add_argument("--max-foreign", type=float, default=0.25,
                   help="redo a measurement when other processes used more than this share of a core (0.25)")
    p.add_argument("--retries", type=int, default=3, help="redos of a disturbed measurement (default 3)")
    p.add_argument("--max-wait", type=float, default=20.0,
                   help="seconds to wait for other processes to go quiet before each measurement (20)")
    p.add_argument("--json", metavar="PATH", help="also write every raw measurement here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    global BLAS_SLEEP
    BLAS_SLEEP = not args.blas_spin
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    args.rows = [r for r in args.rows.split(",") if r]
    if any(r not in row_names for r in args.rows):
        p.error(f"--rows takes a comma-separated subset of {','.join(row_names)}, got {','.join(args.rows)}")
    if args.cnn_limit < args.cnn_batch:
        p.error(f"--cnn-limit must be at least --cnn-batch ({args.cnn_batch}), got {args.cnn_limit}")
    if args.warmup >= args.epochs:
        p.error("--warmup must be smaller than --epochs")

    import numpy as np

    from glassnet.datasets import mnist

    wanted = [q for q in args.peers.split(",") if q]
    unknown = [q for q in wanted if q not in PEERS]
    if unknown or "glassnet" not in wanted:
        p.error(f"--peers must include glassnet and name only {', '.join(PEERS)}, got {args.peers}")
    missing = [q for q in wanted if q in PEER_MODULES and not importlib.util.find_spec(PEER_MODULES[q])]
    if missing:
        print(f"not installed, left out: {', '.join(missing)} (pip install -r bench/requirements.txt)",
              file=sys.stderr)
    peers_ok = [q for q in wanted if q not in missing]
    log = sys.stderr
    with tempfile.TemporaryDirectory(prefix="glassnet-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for split in ("train", "test"):
            X, y = mnist.load(split, data_dir=args.data_dir)
            X = np.ascontiguousarray(X.reshape(X.shape[0], -1), dtype=np.float32)
            if args.limit:
                X, y = X[:args.limit], y[:args.limit]
            np.save(tmp / f"X_{split}.npy", X)
            np.save(tmp / f"y_{split}.npy", y.astype(np.int64))
        info = machine()
        print(f"machine: {info}", file=log)
        mlp_rows = [(n, b) for n, b in ROWS if not args.rows or f"{n}{b}" in args.rows]
        peak = {}
        libs = ["numpy"] + (["torch"] if "torch" in peers_ok else []) if mlp_rows else []  # for the MLP tables
        for lib in libs:
            for _attempt in range(args.retries + 1):  # the best of a few: load elsewhere only lowers it
                wait_until_quiet(args.max_foreign, args.max_wait)
                gflops = run_child({"task": "peak", "lib": lib, "n": 4096}, args.threads)["gflops"]
                name = "NumPy" if lib == "numpy" else "PyTorch"
                peak[name] = max(peak.get(name, 0.0), gflops)
        print(f"sgemm peak (GFLOP/s): {peak}", file=log)
        n_train = int(np.load(tmp / "y_train.npy").shape[0])
        check = {}
        if "torch" in peers_ok and not args.skip_check:
            check = run_child({"task": "check", "data": str(tmp)}, args.threads)
            print(f"peer check: {check}", file=log)
        train = measure_training(args, tmp, peers_ok, log)
        nets = [r for r in PRESET_ROWS if not args.rows or r in args.rows]
        presets: dict = {}
        if nets:
            args.cnn_limit = min(args.cnn_limit, n_train)
            presets = measure_presets(args, tmp, nets, peers_ok, log)
        compile_s: dict = {}
        if "fast" in peers_ok and nets:  # numba's first call: compiling into an empty cache, then loading from it
            cache = tmp / "numba-cache"
            for when in ("compiled", "cached"):
                res = run_child({"task": "compile", "peer": "fast", "env": {"NUMBA_CACHE_DIR": str(cache)}},
                                args.threads)
                compile_s[when] = res
                print(f"  first call, kernels {when}: {res}", file=log, flush=True)
        rates: dict = {}
        if not args.rows or "predict" in args.rows:
            args.predict_limit = min(args.predict_limit, int(np.load(tmp / "y_test.npy").shape[0]))
            rates = measure_rates(args, tmp, peers_ok, log)
        model_path = tmp / "model.npz"
        to98: dict = {}
        if not args.skip_98:
            to98 = measure_to98(args, tmp, peers_ok, model_path, log)
        pred: dict = {}
        if not args.skip_predict:
            if not model_path.exists():
                run_child({"task": "to98", "peer": "glassnet", "seed": 0, "data": str(tmp), "target": 0.0,
                           "max_epochs": 1, "save": str(model_path)}, args.threads)
            pred = measure_predict(args, tmp, model_path, "torch" in peers_ok, log)
    text = report(args, info, peak, train, to98, pred, peers_ok, n_train, presets, rates, check)
    if compile_s:
        c, k = compile_s["compiled"], compile_s["cached"]
        text += ("\n\nFirst training step with the compiled kernels (s; numba's import and the kernels compiled into "
                 "an empty cache, then loaded from it; a later step for scale):\n\n| network | compiled | cached | "
                 "later step |\n|---|---:|---:|---:|\n" + "\n".join(
                     f"| {n} | {c[n + ' first']:.2f} | {k[n + ' first']:.2f} | {k[n + ' later']:.3f} |"
                     for n in PRESET_ROWS if n + " first" in c))
    print(text)
    if args.json:
        raw = {"machine": info, "peak": peak, "to98": to98, "predict": pred,
               "train": {f"{n}-{b}": r for (n, b), r in train.items()}, "presets": presets, "rates": rates,
               "check": check, "compile": compile_s, "args": vars(args)}
        Path(args.json).write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
