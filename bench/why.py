"""How fast the playground's Why? lens answers: POST /api/why for each method, beside POST /api/predict on the
same server and digits, then Fool it and what a unit looks for. The server runs as users run it
(``glassnet playground`` in its own process, bench/playground.py starts it); this script is the client.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/why.py [--requests 60] [--threads 2]

The networks of the ``default``, ``cnn`` and ``lstm`` presets, untrained (the weights do not change the time of an
attribution; they do change how far Fool it must go, so its times are for these untrained networks). Each lens
request is what the page sends: one drawing, the method, every shown layer's unit attributions in the answer.
Requests go in turns (predict, then each method) on one kept-alive connection; medians after 5 warm-up rounds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # the kernels OpenBLAS picks by itself for this CPU
    os.environ.pop(_var, None)

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from playground import same_origin, save_presets, start_server  # noqa: E402

METHODS = ("ig", "saliency", "gradxinput", "occlusion")
GOAL_MS = 150  # issue 25: the lens answers in < 150 ms median for the cnn preset


def timed(conn: http.client.HTTPConnection, path: str, body: dict) -> tuple[float, dict]:
    t = time.perf_counter()
    conn.request("POST", path, body=json.dumps(body), headers=same_origin(conn))
    r = conn.getresponse()
    data = r.read()
    ms = (time.perf_counter() - t) * 1e3
    if r.status != 200:
        raise RuntimeError(f"{path}: {r.status} {data[:200]!r}")
    return ms, json.loads(data)


def lens(host: str, port: int, model: str, digits: np.ndarray, n: int) -> dict[str, list[float]]:
    """Milliseconds per request: predict and each lens method, in turns."""
    conn = http.client.HTTPConnection(host, port, timeout=60)
    times: dict[str, list[float]] = {k: [] for k in ("predict", *METHODS)}
    for i in range(n + 5):
        pixels = np.round(digits[i % len(digits)], 4).tolist()
        for key in times:
            path, body = ("/api/predict", {"model": model, "pixels": pixels, "top_units": 8}) if key == "predict" \
                else ("/api/why", {"model": model, "pixels": pixels, "method": key})
            ms, _ = timed(conn, path, body)
            if i >= 5:
                times[key].append(ms)
    conn.close()
    return times


def fool_and_units(host: str, port: int, model: str, digits: np.ndarray, layer: int, n: int) -> dict[str, float]:
    """Median ms of Fool it (FGSM, PGD) and of what a unit looks for, computed and then cached."""
    conn = http.client.HTTPConnection(host, port, timeout=120)
    out: dict[str, list[float]] = {"fool fgsm": [], "fool pgd": [], "looks-for": [], "looks-for cached": []}
    for i in range(n):
        pixels = np.round(digits[i % len(digits)], 4).tolist()
        for method in ("fgsm", "pgd"):
            out[f"fool {method}"].append(timed(conn, "/api/why/fool", {"model": model, "pixels": pixels,
                                                                      "method": method})[0])
        body = {"model": model, "layer": layer, "unit": i}
        out["looks-for"].append(timed(conn, "/api/why/looks-for", body)[0])
        out["looks-for cached"].append(timed(conn, "/api/why/looks-for", body)[0])
    conn.close()
    return {k: statistics.median(v) for k, v in out.items()}


def blas_kernel() -> str:
    from threadpoolctl import threadpool_info

    infos = [f"{i['internal_api']} {i.get('version')} {i.get('architecture')}"
             for i in threadpool_info() if i["user_api"] == "blas"]
    return ", ".join(infos) or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=60, help="lens requests timed per model and method (60)")
    ap.add_argument("--threads", type=int, default=2, help="BLAS threads of the server (2)")
    args = ap.parse_args()
    from glassnet.datasets import mnist

    digits = mnist.load("test", sample=True)[0][:50].astype(np.float64)
    load = os.getloadavg()[0]
    print(f"NumPy {np.__version__}, BLAS: {blas_kernel()}; server with {args.threads} BLAS threads; "
          f"load average {load:.1f} on {os.cpu_count()} cores at the start")
    with tempfile.TemporaryDirectory() as d:
        models = save_presets(Path(d))
        proc, host, port = start_server(models, args.threads)
        try:
            print(f"\nPOST /api/why (median ms of {args.requests}, in turns with /api/predict on the same digits)\n")
            print("| network | predict | " + " | ".join(METHODS) + " | ig / predict |")
            print("|---|" + "---:|" * (len(METHODS) + 2))
            for path in models:
                t = {k: statistics.median(v) for k, v in lens(host, port, path.stem, digits, args.requests).items()}
                cells = " | ".join(f"{t[m]:.1f}" for m in METHODS)
                print(f"| `{path.stem}` | {t['predict']:.1f} | {cells} | {t['ig'] / t['predict']:.1f} |", flush=True)
                if path.stem == "cnn":
                    slowest = max(t[m] for m in METHODS)
                    verdict = "meets" if slowest < GOAL_MS else "misses"
                    cnn_line = f"cnn: slowest method {slowest:.1f} ms, {verdict} the {GOAL_MS} ms goal"
            print(f"\n{cnn_line}")
            print("\nFool it and what a unit looks for (median ms of 8; first hidden layer, a new unit each time)\n")
            print("| network | fool FGSM | fool PGD | looks-for | looks-for cached |\n|---|---:|---:|---:|---:|")
            layers = {"default": 1, "cnn": 2, "lstm": 2}  # after the augmentation layer (and the reshape)
            for path in models:
                t = fool_and_units(host, port, path.stem, digits, layers[path.stem], 8)
                print(f"| `{path.stem}` | {t['fool fgsm']:.1f} | {t['fool pgd']:.1f} | {t['looks-for']:.1f} | "
                      f"{t['looks-for cached']:.2f} |", flush=True)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
