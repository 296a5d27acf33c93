"""The first pass: each binarized 3x3 convolution (``matcher``), from its first ``Sign``'s input
to the ``Conv``'s output, becomes one ``BinaryConv3x3`` node holding bit-packed weights. What
the binarized convolution owns goes into the node too, as LCE's own converter does: RSign's
threshold (the op computes the same float sum) and the bias the exporter folded into the conv."""

from lce_models.runtimes import bitpacked
from lce_models.runtimes.bitpacked.session import DOMAIN

import numpy as np
from onnx import helper

from converters.fastpath.graph import Index, attrs, initializer, splice
from converters.fastpath.matcher import binary_chain, conv_padding, sign_threshold


def binary_convs(graph, constants):
    """Every binarized 3x3 conv of ``graph`` as a ``BinaryConv3x3`` (a float conv fed by signs
    that the kernel does not compute stays as it is)."""
    index = Index(graph)
    producers = index.producers
    nodes = []
    for node in graph.node:
        kernel = constants.get(node.input[1]) if node.op_type == "Conv" else None
        bias = constants.get(node.input[2]) if kernel is not None and len(node.input) > 2 else None
        chain = binary_chain(node, producers, constants) if kernel is not None and kernel.shape[2:] == (3, 3) else None
        pad = conv_padding(node, chain[2]) if chain else None
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
        if transpose and back is not None and back.op_type == "Transpose" and attrs(back).get("perm") == [0, 2, 3, 1]:
            source, transpose = back.input[0], False  # NCHW -> NHWC -> NCHW: take the NCHW tensor
        source, threshold = sign_threshold(source, weights.channels, not transpose, index, constants)
        if transpose:
            nodes.append(helper.make_node("Transpose", [source], [f"{stem}_nchw"], name=f"{stem}_nchw",
                                          perm=[0, 3, 1, 2]))
            source = f"{stem}_nchw"
        inputs = [source] + [initializer(graph, constants, f"{stem}_{name}", value) for name, value in
                             (("bits", weights.bits.view(np.int64)), ("alpha", weights.alpha), ("ones", weights.ones))]
        for name, value in (("bias", bias), ("threshold", threshold)):
            inputs.append("" if value is None else
                          initializer(graph, constants, f"{stem}_{name}", np.asarray(value, np.float32).reshape(-1)))
        while not inputs[-1]:
            inputs.pop()
        nodes.append(helper.make_node("BinaryConv3x3", inputs, [node.output[0]], name=stem, domain=DOMAIN,
                                      pad_zero=int(pad == "zero")))
    splice(graph, nodes)
