"""``glassnet playground [MODEL.npz ...]``: the glass box in a browser (see ``glassnet.playground``)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

from glassnet.commands._common import Number, add_data_dir, add_seed, check_data_options, check_input_file

HELP = "serve the playground: draw digits through your models, train 2-D networks and MNIST live, in a browser"
EXTRA = ("playground", ("starlette", "uvicorn", "PIL"))
PORT = Number("int", 0, 65535, words="a port number in 0..65535")
QUICK = {"hidden": [128, 64], "epochs": 4, "dropout": 0.0, "early_stopping": 0, "validation": 0.0}
"""The model trained at start when none is given: the default preset, smaller, on the embedded sample."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="*", metavar="MODEL.npz",
                   help="digit recognisers saved by glassnet train (default: train a small one in a few seconds)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=PORT, default=8000, help="port (default 8000; 0: any free port)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer requests naming this host (repeatable; default: localhost, 127.0.0.1, "
                        "[::1] and the --host address only, against DNS rebinding)")
    p.add_argument("--token", default=None,
                   help="require this token on every request (default: none on 127.0.0.1, a new one per run "
                        "on any other address; the printed URL carries it)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    add_data_dir(p)
    add_seed(p, "seed of the model trained at start (default 0)")
    p.add_argument("--runs", action="append", default=[], metavar="DIR",
                   help="recorded runs for the Runs page: a run (glassnet train --log-dir DIR) or a folder of runs, "
                        "where the live training's runs are kept too (repeatable)")


def require(extra: str, modules: tuple[str, ...]) -> None:
    """One line naming the extra to install when any of ``modules`` is missing."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(f"this command needs the {extra} extra ({', '.join(missing)} missing): "
                          f"pip install 'glassnet[{extra}]'")


def _quick_model(seed: int) -> tuple[str, Any, str]:
    from glassnet.datasets import mnist
    from glassnet.presets import PRESETS, build

    cfg = {**PRESETS["default"], **QUICK}
    X, y = mnist.load("train", sample=True)
    model = build(cfg, seed)
    start = time.perf_counter()
    model.fit(X, y, epochs=cfg["epochs"], batch_size=cfg["batch_size"], seed=seed, verbose=0)
    X_test, y_test = mnist.load("test", sample=True)
    accuracy = model.evaluate(X_test, y_test)["accuracy"]
    model.meta = {"task": "mnist", "results": {"test_accuracy": round(accuracy, 4)}}
    source = (f"784-128-64-10 trained at start on the embedded sample of {X.shape[0]:,} images in "
              f"{time.perf_counter() - start:.1f} s; {accuracy:.1%} on its 1,000 test images")
    print(f"glassnet playground: no model given; {source}", file=sys.stderr)
    return "mlp", model, source


def run(args: argparse.Namespace) -> int:
    require(*EXTRA)
    from glassnet.playground.security import check_allowed_host, check_token

    for name in args.allow_host:
        check_allowed_host(name)
    if args.token is not None:
        check_token(args.token)
    from glassnet.datasets import mnist
    from glassnet.model.file import load
    from glassnet.playground import serve
    from glassnet.playground.digits import check_digit_model
    from glassnet.playground.server import bind

    check_data_options(args)
    if args.data_dir is not None:
        mnist.locate("test", args.data_dir)  # a folder without the files fails here, in one line
    if args.runs:
        from glassnet.playground.runs import check_roots

        check_roots(args.runs)  # neither a run nor a folder of runs: one line, before the model is trained
    for path in args.models:
        check_input_file(path)
    sock = bind(args.host, args.port)  # a port in use fails now, not after the start model is trained
    try:
        models, names = [], set()
        for path in args.models:
            model = load(path)
            check_digit_model(model, path)
            name, k = Path(path).stem, 1
            while name in names:
                k += 1
                name = f"{Path(path).stem}-{k}"
            names.add(name)
            models.append((name, model, str(path)))
        if not models:
            models.append(_quick_model(args.seed))
    except BaseException:
        sock.close()
        raise
    serve(models, args.host, args.port, open_browser=not args.no_browser, data_dir=args.data_dir,
          allow_hosts=args.allow_host, token=args.token, runs=args.runs, sock=sock)
    return 0
