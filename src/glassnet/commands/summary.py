"""``glassnet summary``: the architecture table of a saved model, its training settings and its results."""

from __future__ import annotations

import argparse
from typing import Any

from glassnet.commands._common import add_json, check_input_file, emit_json

HELP = "print the layers, output shapes and parameter counts of a saved model"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file written by glassnet")
    add_json(p)


def training_line(model: Any) -> str | None:
    """The loss, the optimiser and the learning rate as configured: the schedule that ``glassnet train`` set
    (from the file's settings), never the annealed rate of the last step."""
    if model.loss is None:
        return None
    opt = model.optimizer
    config = model.meta.get("config") if isinstance(model.meta, dict) else None
    others = ", ".join(f"{k}={v!r}" for k, v in opt.get_config().items() if k != "lr")
    line = f"loss {model.loss.key}, optimizer {type(opt).__name__}({others})"
    if isinstance(config, dict) and isinstance(config.get("lr"), (int, float)):
        schedule = config.get("schedule", "exponential")
        rate = f"learning rate {config['lr']:g}"
        if schedule == "cosine":
            warmup = config.get("warmup") or 0
            rate += (f", cosine annealing to 0 over {config.get('epochs')} epochs" +
                     (f" after {warmup} of warm-up" if warmup else ""))
        elif schedule == "onecycle":
            rate += f", one cycle over {config.get('epochs')} epochs"
        elif config.get("decay", 1.0) != 1.0:
            rate += f" x {config['decay']:g} per epoch"
        return f"{line}, {rate}"
    rate = repr(opt.schedule) if opt.schedule is not None else f"{opt.lr:g}"
    return f"{line}, learning rate {rate}"


def results_table(results: dict[str, Any]) -> list[str]:
    """``results`` (the file's meta) as two aligned columns, accuracies to 4 decimals, counts with commas."""
    width = max(len(k) for k in results)
    lines = []
    for key, value in results.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            text = str(value)
        elif isinstance(value, int):
            text = f"{value:,}"
        else:
            text = f"{value:.4f}" if "accuracy" in key else f"{value:g}"
        lines.append(f"  {key.replace('_', ' '):<{width}}  {text}")
    return lines


def run(args: argparse.Namespace) -> int:
    from glassnet.model.file import load

    check_input_file(args.model)
    model = load(args.model)
    model.summary()
    line = training_line(model)
    if line:
        print(line)
    results = model.meta.get("results") if isinstance(model.meta, dict) else None
    if isinstance(results, dict) and results:
        print("results")
        print("\n".join(results_table(results)))
    if args.json:
        emit_json({"parameters": model.count_params(), "training": line, "results": results or {}})
    return 0
