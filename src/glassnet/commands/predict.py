"""``glassnet predict``: read digit pictures and print the three likeliest digits of each."""

from __future__ import annotations

import argparse

import numpy as np

from glassnet.commands._common import emit_json

HELP = "classify PNG/JPEG pictures of handwritten digits with a saved model"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file written by glassnet train")
    p.add_argument("images", nargs="+", help="PNG or JPEG files (any size, dark-on-light or light-on-dark)")
    p.add_argument("--top", type=int, default=3, help="how many digits to show per image (default 3)")
    p.add_argument("--json", action="store_true", help="end with one JSON line of results on stdout")


def run(args: argparse.Namespace) -> int:
    from glassnet._base.extras import require_extra
    from glassnet.data.images import load_digit
    from glassnet.model.file import load

    require_extra("PIL", "image", "glassnet predict")
    model = load(args.model)
    if model.input_shape != (784,):
        raise ValueError(f"{args.model} takes inputs of shape {model.input_shape}, not 28x28 = 784 pixels")
    X = np.stack([load_digit(path) for path in args.images])
    probs = model.predict(X)
    top = max(1, min(args.top, probs.shape[1]))
    results = []
    for path, p in zip(args.images, probs, strict=True):
        order = np.argsort(-p, kind="stable")[:top]
        print(f"{path}: " + ", ".join(f"{int(k)} ({p[k]:.3f})" for k in order))
        results.append({"image": path, "top": [[int(k), round(float(p[k]), 4)] for k in order]})
    if args.json:
        emit_json({"predictions": results})
    return 0
