"""``glassnet predict``: read digit pictures and print the three likeliest digits of each.

A picture that cannot be read is reported on its own line (on stderr) and the others are still classified; the
exit status is 1 when any picture failed.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from glassnet.commands._common import COUNT, add_json, add_threads, check_input_file, emit_json

HELP = "classify PNG/JPEG pictures of handwritten digits with a saved model"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file written by glassnet train")
    p.add_argument("images", nargs="+", help="PNG or JPEG files (any size, dark-on-light or light-on-dark)")
    p.add_argument("--top", type=COUNT, default=3, help="how many digits to show per image (default 3)")
    p.add_argument("--normalise-strokes", action="store_true",
                   help="bring each digit's pen to MNIST's width (about 2.3 px) by grey dilation or erosion")
    add_threads(p)
    add_json(p)


def run(args: argparse.Namespace) -> int:
    from glassnet._base.blas import blas_threads
    from glassnet._base.extras import require_extra
    from glassnet.data.images import ImageError, load_digit
    from glassnet.data.strokes import MNIST_STROKE_WIDTH
    from glassnet.model.file import load

    require_extra("PIL", "image", "glassnet predict")
    check_input_file(args.model)
    model = load(args.model)
    if model.input_shape != (784,):
        raise ValueError(f"{args.model} takes inputs of shape {model.input_shape}, not 28x28 = 784 pixels")
    rows, failed = {}, {}
    pen = MNIST_STROKE_WIDTH if args.normalise_strokes else None
    for path in args.images:
        try:
            rows[path] = load_digit(path, stroke_width=pen)
        except (ImageError, OSError) as e:
            if getattr(args, "debug", False):
                raise
            failed[path] = str(e).splitlines()[0]
    probs = {}
    if rows:
        with blas_threads(args.threads or 0):
            probs = dict(zip(rows, model.predict(np.stack(list(rows.values()))), strict=True))
    top = min(args.top, model.output_shape[-1])
    results = []
    for path in args.images:  # in the order given
        if path in failed:
            print(f"glassnet predict: error: {failed[path]}", file=sys.stderr)
            results.append({"image": path, "error": failed[path]})
            continue
        p = probs[path]
        order = np.argsort(-p, kind="stable")[:top]
        print(f"{path}: " + ", ".join(f"{int(k)} ({p[k]:.3f})" for k in order))
        results.append({"image": path, "top": [[int(k), round(float(p[k]), 4)] for k in order]})
    if failed and len(args.images) > 1:
        print(f"glassnet predict: {len(failed)} of {len(args.images)} pictures could not be read", file=sys.stderr)
    if args.json:
        emit_json({"predictions": results, "failed": len(failed)})
    return 1 if failed else 0
