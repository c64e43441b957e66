"""``glassnet export MODEL OUT.onnx``: write a saved model as an ONNX file, for ONNX Runtime and the rest."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from glassnet.commands._common import COUNT, add_json, check_input_file, check_output_file, emit_json

HELP = "write a saved model as an ONNX file (runs in ONNX Runtime from C++, C#, Java, JavaScript, ...)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file written by glassnet")
    p.add_argument("out", help="the ONNX file to write, e.g. model.onnx")
    p.add_argument("--opset", type=COUNT, default=None,
                   help="ONNX operator set version (default 17; 13 and later are supported)")
    p.add_argument("--verify", action="store_true",
                   help="run the file in onnxruntime on 100 random inputs and print the largest difference "
                        "from the model's own predictions")
    add_json(p)


def run(args: argparse.Namespace) -> int:
    try:  # before any work: the extra is what this command needs
        import onnx  # noqa: F401

        if args.verify:
            import onnxruntime  # noqa: F401
    except ImportError as e:
        raise RuntimeError(f"this command needs the onnx extra: pip install 'glassnet[onnx]' ({e})") from None
    from glassnet import onnx as gn_onnx
    from glassnet.model.file import load

    check_input_file(args.model)
    check_output_file(args.out, "OUT")

    model = load(args.model)
    start = time.perf_counter()
    proto = gn_onnx.export(model, args.out, opset=args.opset)
    seconds = time.perf_counter() - start
    size = Path(args.out).stat().st_size
    result = {"onnx": args.out, "opset": proto.opset_import[0].version, "nodes": len(proto.graph.node),
              "bytes": size, "seconds": round(seconds, 3)}
    print(f"wrote {args.out}: {result['nodes']} nodes, opset {result['opset']}, {size / 1024:,.1f} KiB, "
          f"in {seconds:.2f} s")
    if args.verify:
        diff = gn_onnx.verify(model, args.out)
        result["max_abs_diff"] = diff
        print(f"onnxruntime: largest |difference| from model.predict on 100 random inputs: {diff:.2e}")
    if args.json:
        emit_json(result)
    return 0
