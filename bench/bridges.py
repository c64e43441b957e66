"""The two bridges, measured: ONNX export and ONNX Runtime against model.predict, and the scikit-learn
estimator in a grid search and against scikit-learn's own MLPClassifier.

    .venv/bin/pip install -e ".[sklearn,onnx]"
    .venv/bin/python bench/bridges.py            # about a minute on 2 cores

Everything runs on one thread (threadpoolctl for NumPy's BLAS, ``intra_op_num_threads = 1`` for ONNX
Runtime), so the figures compare the code rather than the scheduling on a shared machine. For each preset
network (built as ``glassnet train`` builds it, initial weights: the arithmetic does not depend on training)
the peers take turns, round after round, and the tables give medians. Ratios below 1 mean glassnet is faster.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits


def median_seconds(fn: Callable[[], Any], min_time: float = 0.05) -> float:
    """Seconds per call of ``fn``, timed over enough calls to last ``min_time``."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / calls


def onnx_table(rounds: int) -> None:
    import onnxruntime as ort

    from glassnet.onnx import to_onnx, verify
    from glassnet.presets import PRESETS, build

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    rows = []
    X = np.random.default_rng(0).random((1000, 784), dtype=np.float32)
    for name in PRESETS:
        model = build(dict(PRESETS[name]), seed=0)
        export_s = [median_seconds(lambda m=model: to_onnx(m), 0.2) for _ in range(3)]
        proto = to_onnx(model)
        session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
        diff = verify(model, proto, X)
        times: dict[str, list[float]] = {k: [] for k in ("gn1", "ort1", "gn1000", "ort1000")}
        for _ in range(rounds):  # interleaved: glassnet, ONNX Runtime, glassnet, ...
            for batch in (1, 1000):
                xb = X[:batch]
                times[f"gn{batch}"].append(median_seconds(lambda xb=xb, m=model: m.predict(xb)))
                times[f"ort{batch}"].append(median_seconds(lambda xb=xb, s=session: s.run(["output"], {"input": xb})))
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append((name, len(proto.graph.node), len(proto.SerializeToString()) / 1024, statistics.median(export_s),
                     diff, med))
    print("| preset | nodes | file KiB | export s | max abs diff (1,000 inputs) | batch 1: predict ms "
          "| ONNX Runtime ms | ratio | batch 1000: predict ms | ONNX Runtime ms | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, nodes, kib, export_s, diff, m in rows:
        print(f"| `{name}` | {nodes} | {kib:,.0f} | {export_s:.3f} | {diff:.1e} | {m['gn1'] * 1e3:.3f} | "
              f"{m['ort1'] * 1e3:.3f} | {m['gn1'] / m['ort1']:.2f}x | {m['gn1000'] * 1e3:.1f} | "
              f"{m['ort1000'] * 1e3:.1f} | {m['gn1000'] / m['ort1000']:.2f}x |")
    print("\nratio = glassnet's model.predict / ONNX Runtime's session.run (above 1: ONNX Runtime is faster)\n")


def sklearn_table(rounds: int) -> None:
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from glassnet.sklearn import GlassnetClassifier

    X, y = load_digits(return_X_y=True)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    grid = {"glassnetclassifier__hidden": [(64,), (128,)], "glassnetclassifier__lr": [1e-3, 3e-3]}
    start = time.perf_counter()
    search = GridSearchCV(make_pipeline(StandardScaler(), GlassnetClassifier(epochs=10, random_state=0)), grid,
                          cv=cv).fit(X, y)
    seconds = time.perf_counter() - start
    print("GridSearchCV(Pipeline(StandardScaler(), GlassnetClassifier(epochs=10))) on load_digits, "
          f"{len(search.cv_results_['params'])} settings x 5 folds + refit: {seconds:.1f} s, "
          f"best {search.best_params_}, mean CV accuracy {search.best_score_:.4f}\n")
    peers = {
        "GlassnetClassifier": GlassnetClassifier(hidden=(64,), epochs=10, lr=3e-3, random_state=0),
        "MLPClassifier": MLPClassifier(hidden_layer_sizes=(64,), max_iter=10, learning_rate_init=3e-3, batch_size=32,
                                       alpha=0.0, tol=0.0, n_iter_no_change=10**9, random_state=0),
    }
    results: dict[str, dict[str, list[float]]] = {k: {"s": [], "acc": []} for k in peers}
    for _ in range(rounds):
        for name, est in peers.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                acc = cross_val_score(make_pipeline(StandardScaler(), est), X, y, cv=cv).mean()
            results[name]["s"].append(time.perf_counter() - start)
            results[name]["acc"].append(acc)
    print("| 5-fold CV on load_digits, 64-64-10 relu, Adam 3e-3, batch 32, 10 epochs | seconds | mean accuracy |")
    print("|---|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {statistics.median(r['s']):.2f} | {statistics.median(r['acc']):.4f} |")
    ratio = statistics.median(results["GlassnetClassifier"]["s"]) / statistics.median(results["MLPClassifier"]["s"])
    print(f"| ratio | {ratio:.2f}x | |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per measurement (default 5)")
    parser.add_argument("--only", choices=["onnx", "sklearn"], help="measure one bridge only")
    args = parser.parse_args()
    with threadpool_limits(1):
        if args.only in (None, "onnx"):
            onnx_table(args.rounds)
        if args.only in (None, "sklearn"):
            sklearn_table(args.rounds)


if __name__ == "__main__":
    main()
