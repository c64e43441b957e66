"""``glassnet plot KIND [MODEL] -o OUT``: a picture of a saved model, or of the activation functions.

KIND is one of
  weights        first-layer weights as images, one tile per hidden unit
  confusion      confusion matrix on the MNIST test set
  misclassified  the test digits the model gets wrong, "true -> predicted"
  diagram        a small Dense network neuron by neuron (``--input 0,1`` writes its activations)
  activations    every activation function beside its derivative (no model)
  discriminants  LDA's two leading directions beside PCA's as 28x28 images, and test digits projected on each
                 (no model; fitted on the training images, ``--limit N`` the first N)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from glassnet.commands._common import (
    COUNT,
    add_data_dir,
    add_sample,
    check_data_options,
    check_input_file,
    check_output_file,
)

HELP = ("draw a model's weights, confusion matrix, wrong digits or diagram, the activation functions, or LDA's "
        "directions beside PCA's")
KINDS = ("weights", "confusion", "misclassified", "diagram", "activations", "discriminants")
NO_MODEL = ("activations", "discriminants")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS, metavar="KIND", help=f"one of: {', '.join(KINDS)}")
    parser.add_argument("model", nargs="?", metavar="MODEL",
                        help="model file (.npz) saved by glassnet; not for 'activations' or 'discriminants'")
    parser.add_argument("-o", "--output", required=True, help="picture to write (.png)")
    add_data_dir(parser)
    add_sample(parser, "use the embedded MNIST sample: 1,000 test images (confusion, misclassified), and 5,000 "
                       "training images (discriminants)")
    parser.add_argument("--limit", type=COUNT, help="use only the first N images (test; training for discriminants)")
    parser.add_argument("--shape", help="tile shape HxW of weights and digits (default square: 784 -> 28x28)")
    parser.add_argument("--max-tiles", type=COUNT, default=64, help="weights: at most this many units (64)")
    parser.add_argument("--max-images", type=COUNT, default=36, help="misclassified: at most this many (36)")
    parser.add_argument("--input", help="diagram: one input sample as comma-separated numbers, e.g. 0,1")
    parser.add_argument("--names", help="activations: comma-separated names, e.g. sigmoid,tanh,relu")


def _parse_shape(text: str | None, n_inputs: int) -> tuple[int, int]:
    from glassnet.plot.report import image_shape

    if text is None:
        shape = image_shape(n_inputs)
        if shape is None:
            raise ValueError(f"cannot tell the image shape of {n_inputs} inputs; pass --shape HxW")
        return shape
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--shape must look like 28x28, got {text!r}") from None
    if h < 1 or w < 1 or h * w != n_inputs:
        raise ValueError(f"--shape {h}x{w} needs {h * w} inputs, the model has {n_inputs}")
    return h, w


def _test_predictions(model: Any, args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """MNIST test images (n, 784), labels, and the model's predicted labels."""
    import numpy as np

    from glassnet.datasets import mnist

    n_in = int(np.prod(model.input_shape))
    if n_in != 784:
        raise ValueError(f"{args.kind} needs an MNIST model (784 inputs), "
                         f"got input shape {model.input_shape}")
    X, y = mnist.load("test", data_dir=args.data_dir, sample=args.sample)
    if args.limit is not None:
        if args.limit < 1:
            raise ValueError(f"--limit must be >= 1, got {args.limit}")
        X, y = X[:args.limit], y[:args.limit]
    from glassnet.metrics import to_labels

    out = model.predict(X.reshape(X.shape[0], *model.input_shape))
    pred = to_labels(out)
    return X, y, pred


def run(args: argparse.Namespace) -> int:
    from glassnet._base.extras import require_extra

    require_extra("matplotlib", "plot", "glassnet plot")
    import numpy as np

    from glassnet import plot

    if args.kind in NO_MODEL and args.model is not None:
        raise ValueError(f"'{args.kind}' takes no model file")
    if args.model is not None:
        check_input_file(args.model)
    check_data_options(args)
    check_output_file(args.output, "-o")
    if args.kind == "discriminants":
        from glassnet.datasets import mnist

        if args.limit is not None and args.limit < 1:
            raise ValueError(f"--limit must be >= 1, got {args.limit}")
        X, y = mnist.load("train", data_dir=args.data_dir, sample=args.sample)
        X_test, y_test = mnist.load("test", data_dir=args.data_dir, sample=args.sample)
        plot.discriminants(X[:args.limit], y[:args.limit], X_test=X_test, y_test=y_test, path=args.output)
    elif args.kind == "activations":
        names = None if args.names is None else [n.strip() for n in args.names.split(",") if n.strip()]
        plot.activation_functions(names, path=args.output)
    else:
        if args.model is None:
            raise ValueError(f"'{args.kind}' needs a model file: "
                             f"glassnet plot {args.kind} model.npz -o out.png")
        from glassnet import load

        model = load(args.model)
        if args.kind == "weights":
            from glassnet.plot.pictures import first_weights

            W, _ = first_weights(model)
            plot.weights_as_images(model, shape=_parse_shape(args.shape, W.shape[0]), path=args.output,
                                   max_tiles=args.max_tiles)
        elif args.kind == "diagram":
            x = None
            if args.input is not None:
                try:
                    x = np.array([float(v) for v in args.input.split(",")])
                except ValueError:
                    raise ValueError(f"--input must be comma-separated numbers, got {args.input!r}") from None
            plot.network_diagram(model, x, path=args.output)
        else:
            X, y, pred = _test_predictions(model, args)
            if args.kind == "confusion":
                n_classes = max(int(model.output_shape[-1]), 2)
                plot.confusion_matrix(y, pred, n_classes=n_classes, path=args.output)
            else:
                plot.misclassified(X, y, pred, path=args.output, shape=_parse_shape(args.shape, X.shape[1]),
                                   max_images=args.max_images)
    print(f"wrote {Path(args.output)}")
    return 0


def write_training_plots(model: Any, history: Any, X_test: Any, y_test: Any,
                         out_dir: str | Path) -> list[Path]:
    """The pictures of a training run, for ``glassnet train --plots DIR``: see
    :func:`glassnet.plot.write_training_plots`."""
    from glassnet.plot.report import write_training_plots as write

    return write(model, history, X_test, y_test, out_dir)
