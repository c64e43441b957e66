"""The converters of the convolutional and recurrent operators (registered in the table of ``._converters``)."""

from __future__ import annotations

import numpy as np
import onnx

import glassnet as gn
from glassnet.onnx._converters import Builder, add_converter


# ----------------------------------------------------------------------------- convolution and pooling
def _geometry(b: Builder, kernel: tuple[int, ...], pooling: bool) -> tuple[tuple[int, int], tuple[int, int]]:
    """(strides, symmetric pads) of a Conv or pooling node: auto_pad resolved against the input size, dilations
    of 1; pads that differ between the two sides of an axis are refused (glassnet pads each side alike)."""
    if any(d != 1 for d in b.attr("dilations", [1, 1])):
        b.fail(f"dilations {b.attr('dilations')}; glassnet's windows are dense (dilations of 1)")
    strides = tuple(b.attr("strides", [1, 1]))
    auto = b.attr("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    size = b.shape[1:]
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        total = [max((-(-n // s) - 1) * s + k - n, 0) for n, s, k in zip(size, strides, kernel, strict=True)]
        lo = [t // 2 if auto == "SAME_UPPER" else t - t // 2 for t in total]
        pads = [*lo, *(t - low for t, low in zip(total, lo, strict=True))]
    elif auto == "VALID":
        pads = [0, 0, 0, 0]
    else:
        pads = list(b.attr("pads", [0, 0, 0, 0]))
    if pads[:2] != pads[2:]:
        b.fail(f"asymmetric pads {pads} (top, left, bottom, right); glassnet's Conv2D pads each side alike")
    if pooling and any(pads):
        b.fail(f"pads {pads}; glassnet's pooling layers do not pad")
    return strides, (pads[0], pads[1])


def _check_shape(b: Builder) -> None:
    """The layer just added computes the shape ONNX does (ceil_mode and the like)."""
    want = b.out_shapes()[0][1:]
    if tuple(want) != b.shape:
        b.fail(f"gives samples of shape {tuple(want)} where glassnet's layer gives {b.shape}")


@add_converter("Conv")
def _conv(node: onnx.NodeProto, b: Builder) -> None:
    """Conv with 2-D kernels, groups and dilations of 1: a Conv2D layer (ONNX's weight layout is glassnet's)."""
    b.canonical(4)
    w = b.const(1)
    if b.attr("group", 1) != 1:
        b.fail(f"group={b.attr('group')}; glassnet's Conv2D has groups of 1")
    strides, pads = _geometry(b, w.shape[2:], pooling=False)
    bias = b.const(2, np.zeros(w.shape[0]))
    b.add(gn.Conv2D(w.shape[1], w.shape[0], w.shape[2:], stride=strides, padding=pads), {"W": w, "b": bias})
    _check_shape(b)


@add_converter("BatchNormalization")
def _batch_norm(node: onnx.NodeProto, b: Builder) -> None:
    """Inference batch normalisation of features (n, F) or channels (n, C, H, W): a BatchNorm layer with the
    running statistics as its buffers (ONNX's momentum has the same sense as glassnet's)."""
    if b.attr("training_mode", 0):
        b.fail("training_mode=1; export the model in eval mode")
    b.canonical()
    gamma, beta, mean, var = (b.const(k) for k in range(1, 5))
    momentum = min(max(float(b.attr("momentum", 0.9)), 0.0), 1.0)
    b.add(gn.BatchNorm(len(gamma), momentum=momentum, eps=b.attr("epsilon", 1e-5)),
          {"gamma": gamma, "beta": beta, "running_mean": mean, "running_var": var})


def _pool(b: Builder, cls: type) -> None:
    b.canonical(4)
    kernel = tuple(b.attr("kernel_shape"))
    strides, _ = _geometry(b, kernel, pooling=True)
    b.add(cls(kernel, stride=strides))
    _check_shape(b)


@add_converter("MaxPool")
def _max_pool(node: onnx.NodeProto, b: Builder) -> None:
    """MaxPool without padding (its optional Indices output unused): a MaxPool2D layer."""
    if len(node.output) > 1 and b.graph.used(node.output[1]):
        b.fail("its Indices output is used")
    if b.attr("storage_order", 0):
        b.fail("storage_order=1")
    _pool(b, gn.MaxPool2D)


@add_converter("AveragePool")
def _avg_pool(node: onnx.NodeProto, b: Builder) -> None:
    """AveragePool without padding: an AvgPool2D layer (count_include_pad changes nothing without pads)."""
    _pool(b, gn.AvgPool2D)


@add_converter("GlobalAveragePool")
def _global_avg_pool(node: onnx.NodeProto, b: Builder) -> None:
    """The mean of each channel: an AvgPool2D whose window is the whole image, (n, C, 1, 1)."""
    b.canonical(4)
    b.add(gn.AvgPool2D(b.shape[1:]))


# ----------------------------------------------------------------------------- recurrent layers
def _recurrent_input(node: onnx.NodeProto, b: Builder, n_states: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Check the attributes and inputs common to RNN, GRU and LSTM: (hidden size, W, R, W_b + R_b split in
    two). The input must be the time-major view of a batch-first glassnet sequence; initial states zero."""
    if b.attr("layout", 0):
        b.fail("layout=1; glassnet reads the batch-first input through the time-major Transpose")
    direction = b.attr("direction", b"forward")
    if (direction.decode() if isinstance(direction, bytes) else direction) != "forward":
        b.fail(f"direction {direction!r}; glassnet's recurrent layers run forward only")
    if b.attr("clip") is not None:
        b.fail("clip; glassnet's recurrent layers do not clip")
    t_axis, f_axis = (b.labels[0], b.labels[2]) if len(b.labels) == 3 else (None, None)
    if b.labels[1:2] != ["N"] or not isinstance(t_axis, int) or not isinstance(f_axis, int) or t_axis > f_axis:
        b.fail(f"its input has axes {b._axes()}; expected (time, batch, features), the Transpose of a batch-first "
               "sequence")
    seq = b.graph.shapes(b.current)[0][::2]
    if b.shape != seq:  # glassnet's sample has further axes of size 1: drop them
        b.add(gn.Reshape(seq))
    hidden = int(b.attr("hidden_size"))
    w, r = b.const(1)[0], b.const(2)[0]
    bias = b.const(3, np.zeros((1, 2 * w.shape[0])))[0]
    steps = b.shape[0]
    lens = b.const(4)
    if lens is not None and np.any(lens != steps):
        b.fail("sequence_lens shorter than the sequence")
    for k in range(5, 5 + n_states):
        if k < len(node.input) and node.input[k] and any(np.any(v != 0) for v in b.graph.runs(node.input[k])):
            b.fail("a non-zero initial state; glassnet's recurrent layers start from zero")
    if len(node.input) > 7 and node.input[7] and np.any(b.const(7) != 0):
        b.fail("peephole connections")
    return hidden, w, r, bias.reshape(2, -1)


def _recurrent_output(node: onnx.NodeProto, b: Builder, layer: gn.RNN, weights: dict[str, np.ndarray]) -> None:
    """Add the layer; the chain goes on from Y (every step: (T, 1, n, H)) or Y_h (the last: (1, n, H))."""
    used = [k for k, o in enumerate(node.output) if b.graph.used(o)]
    if used and used[0] >= 2 or len(used) > 1:
        b.fail("its cell state output is used" if used[-1] == 2 else "both its Y and Y_h outputs are used")
    layer.return_sequences = not used or used[0] == 0
    b.add(layer, weights)
    b.relabel([0, None, "N", 1] if layer.return_sequences else [None, "N", 0])
    b.current = node.output[used[0] if used else 0]


@add_converter("RNN")
def _rnn(node: onnx.NodeProto, b: Builder) -> None:
    """h_t = f(x_t W^T + h_(t-1) R^T + W_b + R_b): glassnet's RNN with W_x = W^T, W_h = R^T, b = W_b + R_b."""
    acts = [a.decode() if isinstance(a, bytes) else a for a in b.attr("activations", ["Tanh"])]
    names = {"Tanh": "tanh", "Relu": "relu", "Sigmoid": "sigmoid"}
    if len(acts) != 1 or acts[0] not in names:
        b.fail(f"activations {acts}; supported: {', '.join(names)}")
    hidden, w, r, bias = _recurrent_input(node, b, 1)
    layer = gn.RNN(w.shape[1], hidden, activation=names[acts[0]])
    _recurrent_output(node, b, layer, {"W_x": w.T, "W_h": r.T, "b": bias.sum(axis=0)})


@add_converter("LSTM")
def _lstm(node: onnx.NodeProto, b: Builder) -> None:
    """ONNX's gate blocks [i o f c] reordered into glassnet's [i f o g]: W_x = W^T, W_h = R^T, b = W_b + R_b."""
    acts = [a.decode() if isinstance(a, bytes) else a for a in b.attr("activations", ["Sigmoid", "Tanh", "Tanh"])]
    if acts != ["Sigmoid", "Tanh", "Tanh"] or b.attr("input_forget", 0):
        b.fail(f"activations {acts} or coupled gates; glassnet's LSTM is sigmoid, tanh, tanh")
    hidden, w, r, bias = _recurrent_input(node, b, 2)
    order = np.concatenate([np.arange(k * hidden, (k + 1) * hidden) for k in (0, 2, 1, 3)])
    layer = gn.LSTM(w.shape[1], hidden)
    _recurrent_output(node, b, layer, {"W_x": w[order].T, "W_h": r[order].T, "b": bias.sum(axis=0)[order]})


@add_converter("GRU")
def _gru(node: onnx.NodeProto, b: Builder) -> None:
    """ONNX's gates [z r h] are glassnet's; linear_before_reset=1 (PyTorch's form) keeps R_bh apart as b_hn."""
    if not b.attr("linear_before_reset", 0):
        b.fail("linear_before_reset=0 (the reset gate applied before the recurrent product); glassnet's GRU is "
               "PyTorch's form, linear_before_reset=1")
    acts = [a.decode() if isinstance(a, bytes) else a for a in b.attr("activations", ["Sigmoid", "Tanh"])]
    if acts != ["Sigmoid", "Tanh"]:
        b.fail(f"activations {acts}; glassnet's GRU is sigmoid, tanh")
    hidden, w, r, bias = _recurrent_input(node, b, 1)
    b_x, b_h = bias
    merged = b_x + np.concatenate([b_h[:2 * hidden], np.zeros(hidden)])
    layer = gn.GRU(w.shape[1], hidden)
    _recurrent_output(node, b, layer, {"W_x": w.T, "W_h": r.T, "b": merged, "b_hn": b_h[2 * hidden:]})
