"""ONNX: export a Sequential (:mod:`glassnet.onnx.export`) and import one (:mod:`glassnet.onnx.importer`).

Needs onnx (``pip install 'glassnet[onnx]'``, which also brings onnxruntime); the core never imports this
package.
"""

from glassnet.onnx.export import (
    CONVERTERS,
    DEFAULT_OPSET,
    MIN_OPSET,
    ExportError,
    Graph,
    converter,
    export,
    to_onnx,
    verify,
)
from glassnet.onnx.importer import OnnxImportError, load, supported_operators

__all__ = ["CONVERTERS", "DEFAULT_OPSET", "MIN_OPSET", "ExportError", "Graph", "OnnxImportError", "converter", "export",
           "load", "supported_operators", "to_onnx", "verify"]
