"""``glassnet explain``: why a digit recogniser gave its answer, and what its units look for.

    glassnet explain MODEL DIGIT.png [...] [--method ig|saliency|gradxinput|occlusion] [--target K] -o out.png
    glassnet explain MODEL --units LAYER -o units.png

For each picture: the input as the model sees it, the attribution for the top class (or ``--target``) and for
the runner-up side by side ("why 7 and not 1"), on one diverging colour scale centred on 0 (red speaks for the
class, blue against it), and the probabilities. With ``--units``: a grid of the inputs that most excite each
unit of a layer (``glassnet.explain.maximize``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.commands._common import add_json, add_threads, check_input_file, check_output_file, emit_json

HELP = "show why a model gave its answer on digit pictures (attributions), or what a layer's units look for"
METHODS = {"ig": "integrated gradients", "saliency": "saliency (gradient)", "gradxinput": "gradient x input",
           "occlusion": "occlusion"}
FORMATS = (".png", ".svg", ".pdf")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file written by glassnet train")
    p.add_argument("images", nargs="*", metavar="DIGIT", help="PNG or JPEG pictures of digits (not with --units)")
    p.add_argument("--method", choices=sorted(METHODS),
                   help="attribution: ig (integrated gradients from a black image, the default), saliency, "
                        "gradxinput or occlusion (4x4 windows every 2 pixels)")
    p.add_argument("--target", type=int, metavar="K", help="explain class K instead of the top class")
    p.add_argument("--steps", type=int, metavar="N",
                   help="ig: integration steps (default 50); --units: ascent steps (default 200)")
    p.add_argument("--units", metavar="LAYER", help="draw what each unit of LAYER (a name or an index) looks for")
    p.add_argument("--max-units", type=int, default=64, metavar="N", help="--units: at most N units (default 64)")
    p.add_argument("-o", "--output", required=True, help=f"picture to write ({', '.join(FORMATS)})")
    add_json(p)
    add_threads(p)


def _check_options(args: argparse.Namespace) -> None:
    """Every option, before anything is loaded."""
    from glassnet._base.extras import require_extra

    require_extra("matplotlib", "plot", "glassnet explain")
    if args.units is None and not args.images:
        raise ValueError("give digit pictures to explain, or --units LAYER")
    if args.units is not None:
        if args.images:
            raise ValueError("--units takes no pictures")
        for option in ("method", "target"):
            if getattr(args, option) is not None:
                raise ValueError(f"--{option} explains pictures; it does not apply to --units")
    else:
        require_extra("PIL", "image", "glassnet explain")
    if args.target is not None and args.target < 0:
        raise ValueError(f"--target must be a class index >= 0, got {args.target}")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if args.max_units < 1:
        raise ValueError(f"--max-units must be >= 1, got {args.max_units}")
    out = Path(args.output)
    if out.suffix.lower() not in FORMATS:
        raise ValueError(f"-o must name a {', '.join(FORMATS)} file, got {args.output!r}")
    for path in args.images:
        check_input_file(path, "picture")
    check_input_file(args.model)
    check_output_file(out, "-o")


def run(args: argparse.Namespace) -> int:
    from glassnet._base.blas import blas_threads

    _check_options(args)
    with blas_threads(args.threads or 0):
        return _units(args) if args.units is not None else _pictures(args)


# ----------------------------------------------------------------------------- attributions of pictures
def attributions(model: Any, X: np.ndarray, targets: np.ndarray, method: str, steps: int = 50) -> np.ndarray:
    """The attribution of ``method`` for class ``targets[i]`` of sample ``X[i]``, shaped like X."""
    from glassnet import explain

    return explain.attribute(model, X, method, targets, steps=steps)


def _pictures(args: argparse.Namespace) -> int:
    from glassnet.data.images import load_digit
    from glassnet.model.file import load

    method = args.method or "ig"
    model = load(args.model)
    if int(np.prod(model.input_shape)) != 784 or len(model.output_shape) != 1 or model.output_shape[0] < 2:
        raise ValueError(f"{args.model} is not a digit recogniser: it takes inputs of shape {model.input_shape} and "
                         f"gives {model.output_shape}, not 28x28 = 784 pixels to class scores")
    k = int(model.output_shape[0])
    if args.target is not None and args.target >= k:
        raise ValueError(f"--target must be a class index in 0..{k - 1}, got {args.target}")
    X = np.stack([load_digit(path) for path in args.images]).reshape(len(args.images), *model.input_shape)
    probs = model.predict(X)
    first = probs.argmax(axis=1) if args.target is None else np.full(len(X), args.target)
    ranked = np.argsort(-probs, axis=1, kind="stable")
    second = np.where(ranked[:, 0] == first, ranked[:, 1], ranked[:, 0])
    pair = attributions(model, np.concatenate([X, X]), np.concatenate([first, second]), method,
                        args.steps or 50).reshape(2, len(X), 28, 28)
    results = []
    for i, path in enumerate(args.images):
        a, b = int(first[i]), int(second[i])
        print(f"{path}: {a} (p={probs[i, a]:.3f}) and not {b} (p={probs[i, b]:.3f}); {method} attribution sums "
              f"{pair[0, i].sum():+.3f} for {a}, {pair[1, i].sum():+.3f} for {b}")
        results.append({"image": str(path), "class": a, "runner_up": b,
                        "probabilities": [round(float(p), 5) for p in probs[i]],
                        "attribution": {str(a): _rounded(pair[0, i]), str(b): _rounded(pair[1, i])}})
    fig = _attribution_figure(X.reshape(-1, 28, 28), pair, probs, first, second, METHODS[method],
                              [Path(p).name for p in args.images])
    _save(fig, args.output)
    print(f"wrote {args.output}")
    if args.json:
        emit_json({"method": method, "output": str(args.output), "explanations": results})
    return 0


def _rounded(values: np.ndarray) -> list[float]:
    """Row-major values to 6 decimals, as JSON numbers."""
    return (np.round(values.astype(np.float64), 6) + 0.0).ravel().tolist()  # + 0.0: no "-0.0"


def _attribution_figure(images: np.ndarray, pair: np.ndarray, probs: np.ndarray, first: np.ndarray,
                        second: np.ndarray, method: str, names: list[str]) -> Any:
    """One row per picture: input, attribution for the class, for the runner-up, probabilities."""
    from glassnet.plot._base import WEIGHT_CMAP, new_figure

    n, k = len(images), probs.shape[1]
    fig = new_figure(9.6, 2.35 * n + 0.45, layout=None)
    grid = fig.add_gridspec(n, 6, width_ratios=[1, 1, 1, 0.06, 0.22, 1.2], left=0.02, right=0.98, wspace=0.2,
                            hspace=0.45, bottom=0.08 / n, top=1 - 0.6 / (2.35 * n + 0.45))
    for i in range(n):
        a, b = int(first[i]), int(second[i])
        scale = float(np.abs(pair[:, i]).max()) or 1.0  # one scale for both: the colours compare
        pictures = [fig.add_subplot(grid[i, col]) for col in range(3)]
        for ax in pictures:
            ax.set_xticks([])
            ax.set_yticks([])
        pictures[0].imshow(images[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        pictures[0].set_title(f"{names[i]}\nas the model sees it", fontsize=8)
        for ax_a, cls, attr in ((pictures[1], a, pair[0, i]), (pictures[2], b, pair[1, i])):
            im = ax_a.imshow(attr, cmap=WEIGHT_CMAP, vmin=-scale, vmax=scale, interpolation="nearest")
            ax_a.contour(images[i], levels=[0.5], colors="0.35", linewidths=0.5)
            why = f"why {cls}" if cls == a else f"why not {cls}?"
            ax_a.set_title(f"{why} (p={probs[i, cls]:.3f})\nsum {attr.sum():+.2f}", fontsize=8)
        bar = fig.colorbar(im, cax=fig.add_subplot(grid[i, 3]))
        bar.ax.tick_params(labelsize=7)
        ax_p = fig.add_subplot(grid[i, 5])
        colours = ["#b2182b" if c == a else "#2166ac" if c == b else "0.6" for c in range(k)]
        ax_p.barh(np.arange(k), probs[i], color=colours)
        ax_p.set_yticks(np.arange(k))
        ax_p.invert_yaxis()
        ax_p.set_xlim(0, 1)
        ax_p.tick_params(labelsize=7)
        ax_p.set_title("probabilities", fontsize=8)
    fig.suptitle(f"{method}: red speaks for the class, blue against it", fontsize=9, y=0.995, va="top")
    return fig


# ----------------------------------------------------------------------------- what units look for
def _units(args: argparse.Namespace) -> int:
    from glassnet import explain
    from glassnet.explain._grad import image_geometry, resolve_layer
    from glassnet.model.file import load

    model = load(args.model)
    layer: Any = args.units
    if layer.lstrip("-").isdigit():
        layer = int(layer)
    index = resolve_layer(model, layer)
    chosen = model.layers[index]
    geometry = image_geometry(model)
    if geometry is None:
        raise ValueError(f"--units draws inputs as pictures; {args.model} takes inputs of shape {model.input_shape}")
    from glassnet.nn.recurrent import LSTM, RNN

    width = chosen.output_shape[-1 if isinstance(chosen, (RNN, LSTM)) else 0]
    units = list(range(min(int(width), args.max_units)))
    X = explain.maximize(model, index, units, steps=args.steps or 200)
    c, h, w = geometry
    images = X.reshape(len(units), c, h, w).mean(axis=1)
    fig = _units_figure(images, units, f"what each unit of {chosen.name} ({chosen.describe()}) looks for:\n"
                                       "the input that excites it most")
    _save(fig, args.output)
    print(f"wrote {args.output}: {len(units)} of {width} units of {chosen.name}")
    if args.json:
        emit_json({"layer": chosen.name, "units": units, "of": int(width), "output": str(args.output)})
    return 0


def _units_figure(images: np.ndarray, units: list[int], title: str) -> Any:
    from glassnet.plot._base import grid_shape, new_figure

    rows, cols = grid_shape(len(units), max_cols=10)
    fig = new_figure(max(4.5, 0.95 * cols + 0.2), 1.0 * rows + 0.6, layout=None)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.6 / (1.0 * rows + 0.6), wspace=0.08,
                        hspace=0.3)
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(units):
            ax.set_axis_off()
            continue
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"unit {units[i]}", fontsize=7, pad=2)
    fig.suptitle(title, fontsize=9, y=0.995, va="top")
    return fig


def _save(fig: Any, path: str) -> None:
    """Write the figure atomically (a temporary file renamed over ``path``)."""
    from glassnet._base.files import atomic_write

    fmt = Path(path).suffix[1:].lower()
    atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=fig.dpi))
