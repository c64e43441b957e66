"""``glassnet summary``: the architecture table of a saved model."""

from __future__ import annotations

import argparse
import json

HELP = "print the layers, output shapes and parameter counts of a saved model"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file written by glassnet")


def run(args: argparse.Namespace) -> int:
    from glassnet.model.file import load

    model = load(args.model)
    model.summary()
    if model.loss is not None:
        print(f"loss {model.loss.key}, optimizer {model.optimizer!r}")
    results = model.meta.get("results")
    if results:
        print("results " + json.dumps(results, sort_keys=True))
    return 0
