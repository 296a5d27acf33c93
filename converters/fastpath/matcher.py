"""The matcher: a larq binary convolution as tf2onnx exports it, ``Sign -> Add(0.1) -> Sign``
(larq's sign with sign(0) = +1), then a constant ``Pad`` of ones and a ``VALID`` conv
(``pad_values=1``) or a ``SAME`` conv (zero padding), with a ``Transpose`` to NCHW on the way;
and RSign's per-channel shift in front of the first ``Sign``."""

from converters.fastpath.graph import attrs, channel_vector, constant_input


def binary_chain(conv, producers, constants):
    """(sign input, needs NHWC->NCHW transpose, pad) of a binarized conv, or None."""
    name, pad, transpose = conv.input[0], None, False
    while True:
        node = producers.get(name)
        if node is None:
            return None
        if node.op_type == "Transpose" and attrs(node).get("perm") == [0, 3, 1, 2] and not transpose:
            transpose = True
        elif node.op_type == "Pad" and pad is None:
            value = constants.get(node.input[2]) if len(node.input) > 2 else None
            if attrs(node).get("mode", b"constant") != b"constant" or value is None or float(value) != 1.0:
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


def conv_padding(conv, pad):
    """The conv's own padding must complete the chain's: none after a Pad of ones, SAME else."""
    a = attrs(conv)
    if a.get("strides", [1, 1]) != [1, 1] or a.get("dilations", [1, 1]) != [1, 1] or a.get("group", 1) != 1:
        return None
    auto = a.get("auto_pad", b"NOTSET")
    pads = a.get("pads", [0, 0, 0, 0])
    if pad == "one":
        return "one" if auto in (b"NOTSET", b"VALID") and not any(pads) else None
    return "zero" if auto in (b"SAME_UPPER", b"SAME_LOWER") or (auto == b"NOTSET" and pads == [1, 1, 1, 1]) else None


def sign_threshold(source, channels, nchw, index, constants):
    """(input, threshold) when ``source`` is ``input + per-channel constant`` feeding only the
    sign, else (source, None)."""
    add = index.only(source, "Add")
    pair = constant_input(add, constants) if add is not None else None
    vector = channel_vector(constants[pair[1]], channels, nchw) if pair else None
    return (pair[0], vector) if vector is not None else (source, None)
