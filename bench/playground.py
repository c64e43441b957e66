"""How fast the playground answers: /api/predict latency with every layer returned, and the frame rate of the
2-D playground while it trains. The server runs as users run it (``glassnet playground`` in its own process);
this script is the client.

    python bench/playground.py [--requests 200] [--seconds 10] [--threads 2]

Prints Markdown tables: median and 90th-percentile latency per model (the networks of the ``default``,
``cnn`` and ``lstm`` presets, untrained: the weights do not change the time), and frames and epochs per
second for networks of 4 layers of 8 units (the issue's case) and of 8 layers of 32.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def save_presets(folder: Path) -> list[Path]:
    from glassnet.presets import PRESETS, build

    paths = []
    for name in ("default", "cnn", "lstm"):
        path = folder / f"{name}.npz"
        build(PRESETS[name], seed=0).save(path)
        paths.append(path)
    return paths


def start_server(models: list[Path], threads: int) -> tuple[subprocess.Popen, str, int]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    proc = subprocess.Popen([sys.executable, "-m", "glassnet.cli", "playground", *map(str, models), "--port", "0",
                             "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = proc.stdout.readline()
    m = re.match(r"serving on http://([\d.]+):(\d+)/", line)
    if not m:
        proc.kill()
        sys.exit(f"the playground did not start: {line!r}")
    return proc, m.group(1), int(m.group(2))


def same_origin(conn: http.client.HTTPConnection) -> dict[str, str]:
    """The headers of a request from the playground's own page (the server refuses state changes without)."""
    return {"Content-Type": "application/json", "Origin": f"http://{conn.host}:{conn.port}"}


def post(conn: http.client.HTTPConnection, path: str, body: dict) -> dict:
    conn.request("POST", path, body=json.dumps(body), headers=same_origin(conn))
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise RuntimeError(f"{path}: {r.status} {data[:200]!r}")
    return json.loads(data)


def latency(host: str, port: int, model: str, n: int) -> tuple[float, float, int]:
    """Median and 90th percentile in ms of one /api/predict with all layers, and the answer's size."""
    from glassnet.datasets import mnist

    X, _ = mnist.load("test", sample=True)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    times, size = [], 0
    for i in range(n + 10):
        body = {"model": model, "pixels": np.round(X[i % len(X)], 4).tolist(), "top_units": 8}
        t = time.perf_counter()
        conn.request("POST", "/api/predict", body=json.dumps(body), headers=same_origin(conn))
        r = conn.getresponse()
        data = r.read()
        if i >= 10:  # the first ten warm up
            times.append((time.perf_counter() - t) * 1e3)
            size = len(data)
    conn.close()
    times.sort()
    return statistics.median(times), times[int(0.9 * len(times))], size


def frame_rate(host: str, port: int, hidden: list[int], seconds: float) -> tuple[float, float, float]:
    """Frames per second received over the event stream while the session plays, epochs per second, and
    the mean frame size in kB."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    state = {"dataset": "spiral", "hidden": hidden, "features": ["x1", "x2", "x1sq", "x2sq", "sinx1", "sinx2"]}
    sid = post(conn, "/api/lab", {"state": state})["session"]
    stream = http.client.HTTPConnection(host, port, timeout=30)
    stream.request("GET", f"/api/lab/{sid}/stream", headers={"Sec-Fetch-Site": "same-origin"})
    resp = stream.getresponse()
    post(conn, f"/api/lab/{sid}/action", {"action": "play"})
    frames, sizes, epochs, start = 0, 0, [], None
    while True:
        line = resp.fp.readline()
        if not line.startswith(b"data: "):
            continue
        frame = json.loads(line[6:])
        if not frame["playing"] or frame["epoch"] == 0:
            continue
        now = time.perf_counter()
        if start is None:
            start, first_epoch = now, frame["epoch"]
            continue
        frames += 1
        sizes += len(line)
        epochs.append(frame["epoch"])
        if now - start >= seconds:
            break
    elapsed = time.perf_counter() - start
    conn.close()  # idle longer than the server keeps a connection alive: pause on a new one
    conn = http.client.HTTPConnection(host, port, timeout=30)
    post(conn, f"/api/lab/{sid}/action", {"action": "pause"})
    stream.close()
    conn.close()
    return frames / elapsed, (epochs[-1] - first_epoch) / elapsed, sizes / max(frames, 1) / 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200, help="predictions timed per model (200)")
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds of streaming per network (10)")
    ap.add_argument("--threads", type=int, default=2, help="BLAS threads of the server (2)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        models = save_presets(Path(d))
        proc, host, port = start_server(models, args.threads)
        try:
            print(f"\n/api/predict, all layers returned (median of {args.requests} after 10 warm-up requests)\n")
            print("| model | median ms | p90 ms | answer kB |\n|---|---:|---:|---:|")
            for path in models:
                med, p90, size = latency(host, port, path.stem, args.requests)
                print(f"| `{path.stem}` preset | {med:.1f} | {p90:.1f} | {size / 1e3:.0f} |", flush=True)
            print(f"\n2-D playground while it trains (spiral, 6 features, batch 10; {args.seconds:g} s each)\n")
            print("| network | frames / s | epochs / s | frame kB |\n|---|---:|---:|---:|")
            for hidden in ([8, 8, 8, 8], [32] * 8):
                fps, eps, kb = frame_rate(host, port, hidden, args.seconds)
                name = f"{len(hidden)} layers of {hidden[0]}"
                print(f"| {name} | {fps:.1f} | {eps:.1f} | {kb:.1f} |", flush=True)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
