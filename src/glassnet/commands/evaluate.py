"""``glassnet evaluate``: accuracy, per-class precision and recall, and the confusion matrix."""

from __future__ import annotations

import argparse

from glassnet._base.blas import blas_threads
from glassnet.commands._common import (
    add_data,
    add_json,
    add_quiet,
    add_threads,
    check_data_options,
    check_input_file,
    emit_json,
    load_mnist,
)

HELP = "evaluate a saved digit recogniser on the MNIST test set"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file written by glassnet train")
    add_data(p)
    add_threads(p)
    add_json(p)
    add_quiet(p, "no data line on stderr")


def report(cm, accuracy: float) -> str:
    """The text report: accuracy, precision/recall per class, and the confusion matrix."""
    from glassnet.metrics import precision_recall

    precision, recall = precision_recall(cm)
    k = cm.shape[0]
    width = max(5, len(str(cm.max())) + 1)
    lines = [f"accuracy {accuracy:.4f} ({int(cm.trace()):,}/{int(cm.sum()):,})", "",
             "class  precision  recall  support"]
    lines += [f"{c:>5}  {precision[c]:>9.4f}  {recall[c]:>6.4f}  {int(cm[c].sum()):>7,}" for c in range(k)]
    lines += ["", "confusion matrix (rows: true class, columns: predicted)",
              "true\\pred" + "".join(f"{c:>{width}}" for c in range(k))]
    lines += [f"{c:>9}" + "".join(f"{v:>{width}}" for v in cm[c]) for c in range(k)]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import glassnet as gn
    from glassnet.metrics import confusion_matrix, precision_recall, to_labels

    check_input_file(args.model)
    check_data_options(args)
    model = gn.load(args.model)
    if model.input_shape != (784,) or model.output_shape != (10,):
        raise ValueError(f"{args.model} maps {model.input_shape} to {model.output_shape}; "
                         "a digit recogniser maps (784,) to (10,)")
    X, y, source = load_mnist("test", args.data_dir, quiet=args.quiet, sample=args.sample)
    with blas_threads(args.threads or 0):
        pred = to_labels(model.predict(X))
    cm = confusion_matrix(y, pred, 10)
    accuracy = float(cm.trace() / cm.sum())
    print(report(cm, accuracy))
    if args.json:
        precision, recall = precision_recall(cm)
        emit_json({"accuracy": round(accuracy, 4), "precision": [round(v, 4) for v in precision],
                   "recall": [round(v, 4) for v in recall], "confusion_matrix": cm.tolist(), "data": source})
    return 0
