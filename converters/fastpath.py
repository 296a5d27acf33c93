"""The x86-64 fast path in onnxruntime: each binarized convolution of an ONNX graph becomes one
``BinaryConv3x3`` node (domain ``lce_models.fastpath``) holding bit-packed weights, run by the
C kernel of ``converters/bconv.c``, which registers itself as an onnxruntime custom-op
library. Every other node stays a standard ONNX op.

tf2onnx exports a larq binary conv as ``Sign -> Add(0.1) -> Sign`` (larq's sign with
sign(0) = +1), then for ``pad_values=1`` a constant ``Pad`` of ones and a ``VALID`` conv, for
zero padding a ``SAME`` conv, with a ``Transpose`` to NCHW on the way and the +-alpha weights
folded into the ``Conv`` initializer. ``rewrite`` replaces that chain, from the first
``Sign``'s input to the ``Conv``'s output, by (the ``Transpose`` and) one ``BinaryConv3x3``.
"""

import collections

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from converters import bitpacked
from converters.tflite import ConversionError, expected_convolutions

DOMAIN = "lce_models.fastpath"


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _binary_chain(conv, producers, constants):
    """(sign input, needs NHWC->NCHW transpose, pad) of a binarized conv, or None."""
    name, pad, transpose = conv.input[0], None, False
    while True:
        node = producers.get(name)
        if node is None:
            return None
        if node.op_type == "Transpose" and _attrs(node).get("perm") == [0, 3, 1, 2] and not transpose:
            transpose = True
        elif node.op_type == "Pad" and pad is None:
            value = constants.get(node.input[2]) if len(node.input) > 2 else None
            if _attrs(node).get("mode", b"constant") != b"constant" or value is None or float(value) != 1.0:
                return None
            pad = "one"
        elif node.op_type == "Sign":
            add = producers.get(node.input[0])
            if add is None or add.op_type != "Add":
                return None
            inner = next((producers.get(i) for i in add.input if i not in constants), None)
            offset = next((constants[i] for i in add.input if i in constants), None)
            if inner is None or inner.op_type != "Sign" or offset is None or not 0 < float(offset) < 1:
                return None
            return inner.input[0], transpose, pad
        else:
            return None
        name = node.input[0]


def _conv_padding(conv, pad):
    """The conv's own padding must complete the chain's: none after a Pad of ones, SAME else."""
    a = _attrs(conv)
    if a.get("strides", [1, 1]) != [1, 1] or a.get("dilations", [1, 1]) != [1, 1] or a.get("group", 1) != 1:
        return None
    auto = a.get("auto_pad", b"NOTSET")
    pads = a.get("pads", [0, 0, 0, 0])
    if pad == "one":
        return "one" if auto in (b"NOTSET", b"VALID") and not any(pads) else None
    return "zero" if auto in (b"SAME_UPPER", b"SAME_LOWER") or (auto == b"NOTSET" and pads == [1, 1, 1, 1]) else None


def _prune(graph):
    """Drop nodes and initializers that no graph output depends on."""
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(keep))
    unused = [t for t in graph.initializer if t.name not in needed]
    for t in unused:
        graph.initializer.remove(t)


def rewrite(proto):
    """A copy of an ONNX ``ModelProto`` with every binarized 3x3 conv as a ``BinaryConv3x3``;
    returns (model, number rewritten)."""
    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    graph = proto.graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    nodes, count = [], 0
    for node in graph.node:
        kernel = constants.get(node.input[1]) if node.op_type == "Conv" else None
        bias = constants.get(node.input[2]) if kernel is not None and len(node.input) > 2 else None
        chain = _binary_chain(node, producers, constants) if kernel is not None and kernel.shape[2:] == (3, 3) else None
        pad = _conv_padding(node, chain[2]) if chain else None
        try:
            weights = bitpacked.PackedWeights(kernel) if pad else None
        except bitpacked.FastPathError:  # a float conv fed by signs: left as it is
            weights = None
        if weights is None or (len(node.input) > 2 and bias is None):
            nodes.append(node)
            continue
        source, transpose, _ = chain
        stem = f"{node.name}_bitpacked"
        back = producers.get(source)
        if transpose and back is not None and back.op_type == "Transpose" and _attrs(back).get("perm") == [0, 2, 3, 1]:
            source, transpose = back.input[0], False  # NCHW -> NHWC -> NCHW: take the NCHW tensor
        if transpose:
            nodes.append(helper.make_node("Transpose", [source], [f"{stem}_nchw"], name=f"{stem}_nchw", perm=[0, 3, 1, 2]))
            source = f"{stem}_nchw"
        graph.initializer.extend([numpy_helper.from_array(weights.bits.view(np.int64), f"{stem}_bits"),
                                  numpy_helper.from_array(weights.alpha, f"{stem}_alpha"),
                                  numpy_helper.from_array(weights.ones, f"{stem}_ones")])
        out = node.output[0] if bias is None else f"{stem}_out"
        nodes.append(helper.make_node("BinaryConv3x3", [source, f"{stem}_bits", f"{stem}_alpha", f"{stem}_ones"],
                                      [out], name=stem, domain=DOMAIN, pad_zero=int(pad == "zero")))
        if bias is not None:  # a shift after the conv that the exporter folded into it
            graph.initializer.append(numpy_helper.from_array(bias.reshape(1, -1, 1, 1).astype(np.float32), f"{stem}_bias"))
            nodes.append(helper.make_node("Add", [out, f"{stem}_bias"], [node.output[0]], name=f"{stem}_bias"))
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    _prune(graph)
    proto.opset_import.append(helper.make_opsetid(DOMAIN, 1))
    return proto, count


def op_census(proto):
    return collections.Counter(node.op_type for node in proto.graph.node)


def session(serialized, num_threads=1):
    """An onnxruntime session with the fast-path op registered; ``num_threads`` for both
    onnxruntime's own ops and the binary convolutions."""
    bitpacked.library().bp_set_threads(num_threads)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = num_threads
    # onnxruntime's pool threads spin between ops and take the cores the kernel's OpenMP threads
    # need: measured, the body convs of bbcu-m ran 23 ms each with spinning, 10 ms without
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.register_custom_ops_library(str(bitpacked.library_path()))
    return ort.InferenceSession(serialized, options, providers=["CPUExecutionProvider"])


def rewrite_checked(model, proto):
    """``rewrite``, then ``ConversionError`` unless every binary conv of ``model`` (the Keras
    model ``proto`` was exported from) became a ``BinaryConv3x3``."""
    rewritten, count = rewrite(proto)
    binary, _ = expected_convolutions(model)
    if count != binary:
        raise ConversionError(f"{binary} binary convolutions but {count} BinaryConv3x3 in the ONNX graph")
    return rewritten


def runner(serialized, num_threads=1):
    """``x -> output`` of a fast-path graph (NHWC float32 batch in, as every runtime here)."""
    s = session(serialized, num_threads)
    name = s.get_inputs()[0].name
    return lambda x: s.run(None, {name: x})[0]
