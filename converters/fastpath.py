"""The x86-64 fast path in onnxruntime: each binarized convolution of an ONNX graph becomes one
``BinaryConv3x3`` node (domain ``lce_models.fastpath``) holding bit-packed weights, run by the
C kernel of ``converters/bconv.c``, which registers itself as an onnxruntime custom-op
library. Every other node stays a standard ONNX op.

tf2onnx exports a larq binary conv as ``Sign -> Add(0.1) -> Sign`` (larq's sign with
sign(0) = +1), then for ``pad_values=1`` a constant ``Pad`` of ones and a ``VALID`` conv, for
zero padding a ``SAME`` conv, with a ``Transpose`` to NCHW on the way and the +-alpha weights
folded into the ``Conv`` initializer. ``rewrite`` replaces that chain, from the first
``Sign``'s input to the ``Conv``'s output, by (the ``Transpose`` and) one ``BinaryConv3x3``.
What the binarized convolution owns goes into the node too, as LCE's own converter does: a
per-channel shift feeding only the sign (RSign's threshold: the op computes the same float sum)
and the bias the exporter folded into the conv. tf2onnx writes Keras's PReLU as five ops
(``relu(y) + -alpha * relu(-y)``); ``rewrite`` makes it the one standard ``PRelu`` op, which
computes the same floats (``alpha * y`` for y < 0, ``y`` else). In a BBCU upsampler,
``DepthToSpace(a) + nearest-upsampled(x)`` becomes ``DepthToSpace(a + Concat(x, x, x, x))``: the
same sums in a permuted order (the shuffle's DCR order puts channel c of every sub-pixel in
copy c of x), without onnxruntime's slow Resize at the high resolution. Then the binary
part of the graph is moved to NHWC (``_to_nhwc``), the layout the kernel reads and writes best
and the one in which a shuffle moves whole blocks; there x is broadcast over the sub-pixels
instead of copied (``_broadcast_copies``), and RPReLU's output shifts leave the residual stream
for the next sign's threshold (``_fold_shifts``). A float conv with few outputs read from the
region becomes a Gemm and a sum of shifted taps (``_narrow_conv``). Each pass keeps the graph's
floats, up to rounding where it reorders a sum.
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


def _splice(graph, nodes):
    """The graph's nodes become ``nodes`` (in order), then what no output needs is dropped."""
    del graph.node[:]
    graph.node.extend(nodes)
    _prune(graph)


def _replace(graph, replaced):
    """The graph's nodes with node number ``at`` replaced by the list ``replaced[at]``. Nodes
    are keyed by position: protobuf may hand out a new Python object, and reuse an id(), each
    time a node is read."""
    return [n for at, node in enumerate(graph.node) for n in replaced.get(at, [node])]


def _initializer(graph, constants, name, value):
    """A new initializer ``name``, also recorded in the passes' shared ``constants``."""
    constants[name] = value = np.asarray(value)
    graph.initializer.append(numpy_helper.from_array(value, name))
    return name


class _Index:
    """Who produces and how many consume each tensor of a graph, as it is now."""

    def __init__(self, graph):
        self.nodes = list(graph.node)  # one read: the same objects here and in producers
        self.position = {o: at for at, n in enumerate(self.nodes) for o in n.output}
        self.producers = {o: self.nodes[at] for o, at in self.position.items()}
        self.consumers = collections.Counter(i for n in graph.node for i in n.input)
        self.outputs = {o.name for o in graph.output}

    def only(self, name, op_type):
        """The ``op_type`` node making ``name`` when nothing else reads ``name``, else None."""
        node = self.producers.get(name)
        ok = node is not None and node.op_type == op_type and self.consumers[name] == 1 and name not in self.outputs
        return node if ok else None


def _channel_vector(value, channels, nchw):
    """A per-channel constant of a ``channels``-channel tensor as (channels,), or None."""
    value = np.asarray(value, np.float32)
    if value.size != channels:
        return None
    shapes = [(1, channels, 1, 1), (channels, 1, 1)] if nchw else [(channels,), (1, 1, 1, channels), (1, 1, channels)]
    return value.reshape(channels) if value.shape in shapes or channels == 1 else None


def _threshold(source, channels, nchw, index, constants):
    """(input, threshold) when ``source`` is ``input + per-channel constant`` feeding only the
    sign, else (source, None)."""
    add = index.only(source, "Add")
    pair = _constant_input(add, constants) if add is not None else None
    vector = _channel_vector(constants[pair[1]], channels, nchw) if pair else None
    return (pair[0], vector) if vector is not None else (source, None)


def _prelu(graph, constants):
    """tf2onnx's ``Add(Relu(y), [Add(] Mul(Relu(Neg(y)), -alpha) [, shift)])`` -> ``PRelu(y,
    alpha) [+ shift]``; intermediate values used elsewhere keep their nodes."""
    index = _Index(graph)
    only = index.only
    replaced = {}
    for at, node in enumerate(graph.node):
        if node.op_type != "Add":
            continue
        for positive_name, other in (node.input, reversed(node.input)):
            positive = only(positive_name, "Relu")
            shift = only(other, "Add")
            mul_name, shift_value = (_constant_input(shift, constants) or (None, None)) if shift is not None \
                else (other, None)
            mul = only(mul_name, "Mul") if mul_name is not None else None
            factor = _constant_input(mul, constants) if mul is not None else None
            if positive is None or factor is None:
                continue
            negative = only(factor[0], "Relu")
            neg = only(negative.input[0], "Neg") if negative is not None else None
            if neg is None or neg.input[0] != positive.input[0]:
                continue
            slope = constants[factor[1]]
            stem = f"{node.name}_prelu"
            slope = _initializer(graph, constants, f"{stem}_slope", -np.asarray(slope, np.float32))
            new = [helper.make_node("PRelu", [positive.input[0], slope],
                                    [node.output[0] if shift is None else f"{stem}_out"], name=stem)]
            if shift is not None:
                new.append(helper.make_node("Add", [f"{stem}_out", shift_value], [node.output[0]], name=f"{stem}_shift"))
            replaced[at] = new
            break
    _splice(graph, _replace(graph, replaced))


def _shuffle_residual(graph, constants):
    """``Add(DepthToSpace(a), Resize_nearest(x))`` -> ``DepthToSpace(a + Concat(x, ..., x))``
    where ``a`` comes from a BinaryConv3x3 of ``x`` through per-channel elementwise ops (so both
    have x's size and the Resize's factor is the shuffle's)."""
    index = _Index(graph)
    producers, only = index.producers, index.only
    nearest = {(b"tf_half_pixel_for_nn", b"floor"), (b"asymmetric", b"floor")}  # both map 2y + d to y

    def conv_input(name):
        node = producers.get(name)
        while node is not None and node.op_type in ("PRelu", "Add", "Mul"):
            rest = [i for i in node.input[1:] if i not in constants] if node.op_type == "PRelu" else \
                [i for i in node.input if i not in constants]
            if len(rest) != (0 if node.op_type == "PRelu" else 1):
                return None
            node = producers.get(node.input[0] if node.op_type == "PRelu" else rest[0])
        return node.input[0] if node is not None and node.op_type == "BinaryConv3x3" else None

    replaced = {}
    for at, node in enumerate(graph.node):
        if node.op_type != "Add":
            continue
        for shuffled, upsampled in (node.input, reversed(node.input)):
            shuffle, resize = only(shuffled, "DepthToSpace"), only(upsampled, "Resize")
            if shuffle is None or resize is None:
                continue
            sa, ra = _attrs(shuffle), _attrs(resize)
            if sa.get("mode", b"DCR") != b"DCR" or ra.get("mode") != b"nearest" or \
                    (ra.get("coordinate_transformation_mode"), ra.get("nearest_mode")) not in nearest:
                continue
            x = resize.input[0]
            if conv_input(shuffle.input[0]) != x:
                continue
            stem, r = f"{node.name}_shuffled", sa["blocksize"]
            replaced[at] = [
                helper.make_node("Concat", [x] * (r * r), [f"{stem}_copies"], name=f"{stem}_copies", axis=1),
                helper.make_node("Add", [shuffle.input[0], f"{stem}_copies"], [f"{stem}_sum"], name=f"{stem}_sum"),
                helper.make_node("DepthToSpace", [f"{stem}_sum"], list(node.output), name=stem, blocksize=r,
                                 mode="DCR")]
            break
    _splice(graph, _replace(graph, replaced))


#: Ops the NHWC region may hold: the binary conv and what tf2onnx puts around it in BBCU nets.
_NHWC_OPS = ("BinaryConv3x3", "PRelu", "Add", "Mul", "Concat", "DepthToSpace", "LeakyRelu", "Relu")


def _nhwc_constant(value):
    """A constant of an NCHW elementwise op as its NHWC twin: scalars as they are, (1, C, 1, 1)
    or (C, 1, 1) per-channel vectors as (C,); None for any other shape."""
    value = np.asarray(value)
    if value.size == 1:
        return value
    if value.ndim in (3, 4) and value.shape[-2:] == (1, 1) and (value.ndim == 3 or value.shape[0] == 1):
        return value.reshape(-1)
    return None


def _nhwc_ready(node, constants):
    """Whether ``node`` has an NHWC twin (checked on its attributes and constants)."""
    a = _attrs(node)
    if node.op_type not in _NHWC_OPS:
        return False
    if node.op_type in ("Add", "Mul", "PRelu"):
        return all(_nhwc_constant(constants[i]) is not None for i in node.input if i in constants)
    if node.op_type == "Concat":
        return a.get("axis") in (1, -3)
    if node.op_type == "DepthToSpace":
        return a.get("mode", b"DCR") == b"DCR"
    return True


def _to_nhwc(graph, constants):
    """Run the binary convs and the elementwise ops, concats and shuffles between them in NHWC,
    onnxruntime's NCHW DepthToSpace being the slowest op left (153 ms at bbcu-m's 360x640x256,
    33 ms as the NHWC Reshape/Transpose/Reshape). The region starts at the BinaryConv3x3 nodes
    and takes every op of ``_NHWC_OPS`` fed by it; a Transpose goes in wherever a tensor enters
    or leaves it (onnxruntime folds one in front of a Conv into its input reorder). The same
    floats, in another memory order."""
    region, inside = set(), set()
    for at, node in enumerate(graph.node):
        feeds = [i for i in node.input if i and i not in constants]
        if node.op_type == "BinaryConv3x3" or (_nhwc_ready(node, constants) and any(i in inside for i in feeds)):
            region.add(at)
            inside.update(node.output)
    consumers_outside = {i for at, n in enumerate(graph.node) if at not in region for i in n.input} | \
        {o.name for o in graph.output}
    nodes, entered = [], {}

    def enter(name):  # an NCHW tensor from outside, as NHWC
        if name not in entered:
            entered[name] = f"{name}_nhwc"
            nodes.append(helper.make_node("Transpose", [name], [entered[name]], name=f"{name}_to_nhwc", perm=[0, 2, 3, 1]))
        return entered[name]

    def constant(name):
        new = f"{name}_nhwc"
        return new if new in constants else _initializer(graph, constants, new, _nhwc_constant(constants[name]))

    for at, node in enumerate(graph.node):
        if at not in region:
            nodes.append(node)
            continue
        inputs = []
        for i in node.input:
            if not i or (i in constants and node.op_type == "BinaryConv3x3"):  # the op's own vectors
                inputs.append(i)
            elif i in constants:
                inputs.append(constant(i))
            else:
                inputs.append(f"{i}_nhwc" if i in inside else enter(i))
        outputs = [f"{o}_nhwc" for o in node.output]
        a = _attrs(node)
        if node.op_type == "BinaryConv3x3":
            nodes.append(helper.make_node("BinaryConv3x3", inputs, outputs, name=node.name, domain=DOMAIN,
                                          pad_zero=a["pad_zero"], nhwc=1))
        elif node.op_type == "Concat":
            nodes.append(helper.make_node("Concat", inputs, outputs, name=node.name, axis=3))
        elif node.op_type == "DepthToSpace":
            nodes.extend(_nhwc_depth_to_space(inputs[0], outputs[0], a["blocksize"], node.name, graph, constants))
        elif node.op_type == "LeakyRelu":  # the same floats; onnxruntime's LeakyRelu took 146 ms at
            # 720x1280x64 on 2 threads, PRelu with the slope as a scalar 11 to 17
            slope = _initializer(graph, constants, f"{node.name}_slope", np.float32(a.get("alpha", 0.01)))
            nodes.append(helper.make_node("PRelu", [inputs[0], slope], outputs, name=node.name))
        else:
            nodes.append(helper.make_node(node.op_type, inputs, outputs, name=node.name, **a))
        for o in node.output:
            if o in consumers_outside:
                nodes.append(helper.make_node("Transpose", [f"{o}_nhwc"], [o], name=f"{o}_to_nchw", perm=[0, 3, 1, 2]))
    _splice(graph, nodes)


def _nhwc_depth_to_space(x, y, r, stem, graph, constants):
    """DepthToSpace (DCR) of an NHWC tensor: (N, H, W, r*r*C) -> (N, H, W, r, r, C) ->
    (N, H, r, W, r, C) -> (N, r*H, r*W, C). Whole blocks of r*C floats move, no single floats.
    The last shape is read off the 6-d tensor, so ``_broadcast_copies`` may replace its maker."""
    for name, value in (("split", [0, 0, 0, r, r, -1]), ("w_start", [2]), ("w_end", [3]), ("c_start", [5]),
                        ("c_end", [6]), ("r", [r]), ("lead", [0, -1])):
        _initializer(graph, constants, f"{stem}_{name}", np.array(value, np.int64))
    make = helper.make_node
    return [
        make("Reshape", [x, f"{stem}_split"], [f"{stem}_6d"], name=f"{stem}_6d"),
        make("Transpose", [f"{stem}_6d"], [f"{stem}_moved"], name=f"{stem}_moved", perm=[0, 1, 3, 2, 4, 5]),
        make("Shape", [f"{stem}_6d"], [f"{stem}_shape"], name=f"{stem}_shape"),
        make("Slice", [f"{stem}_shape", f"{stem}_w_start", f"{stem}_w_end"], [f"{stem}_w"], name=f"{stem}_w"),
        make("Slice", [f"{stem}_shape", f"{stem}_c_start", f"{stem}_c_end"], [f"{stem}_c"], name=f"{stem}_c"),
        make("Mul", [f"{stem}_w", f"{stem}_r"], [f"{stem}_rw"], name=f"{stem}_rw"),
        make("Concat", [f"{stem}_lead", f"{stem}_rw", f"{stem}_c"], [f"{stem}_target"], name=f"{stem}_target",
             axis=0),
        make("Reshape", [f"{stem}_moved", f"{stem}_target"], [y], name=stem),
    ]


def _broadcast_copies(graph, constants):
    """NHWC ``Reshape(a + Concat(x, ..., x), (0, 0, 0, r, r, -1))``, the start of an upsampler's
    shuffle after ``_shuffle_residual``, -> ``Reshape(a, ...) + Reshape(x, (0, 0, 0, 1, 1, -1))``:
    the same sums, x broadcast over the r*r sub-pixels instead of copied (onnxruntime writes and
    reads the copies, as big as the shuffled output, otherwise)."""
    index = _Index(graph)
    replaced = {}
    for at, node in enumerate(graph.node):
        split = constants.get(node.input[1]) if node.op_type == "Reshape" else None
        if split is None or list(split[:3]) != [0, 0, 0] or len(split) != 6 or split[5] != -1 or split[3] != split[4]:
            continue
        add = index.only(node.input[0], "Add")
        for a, copies in (add.input, reversed(add.input)) if add is not None else ():
            concat = index.only(copies, "Concat")
            if concat is None or _attrs(concat).get("axis") not in (3, -1) or len(concat.input) != split[3] ** 2 \
                    or len(set(concat.input)) != 1:
                continue
            stem = f"{node.name}_broadcast"
            one = _initializer(graph, constants, f"{stem}_one", np.array([0, 0, 0, 1, 1, -1], np.int64))
            replaced[at] = [
                helper.make_node("Reshape", [a, node.input[1]], [f"{stem}_blocks"], name=f"{stem}_blocks"),
                helper.make_node("Reshape", [concat.input[0], one], [f"{stem}_x"], name=f"{stem}_x"),
                helper.make_node("Add", [f"{stem}_blocks", f"{stem}_x"], list(node.output), name=stem)]
            break
    _splice(graph, _replace(graph, replaced))


def _constant_input(node, constants):
    """(the one non-constant input, the one constant's name) of a two-input node, or None."""
    names = [i for i in node.input if i not in constants]
    values = [i for i in node.input if i in constants]
    return (names[0], values[0]) if len(names) == 1 and len(values) == 1 else None


def _shift_source(x, index, constants):
    """When NHWC ``x`` is a BBCU upsampler's output, ``shuffle(PRelu(conv) + zeta + copies)``,
    (the ``+ zeta`` node, zeta's name, r): a shift of x per channel is then a shift of zeta per
    channel and sub-pixel, free. None for any other ``x``."""
    final = index.producers.get(x)
    moved = index.only(final.input[0], "Transpose") if final is not None and final.op_type == "Reshape" else None
    add = index.producers.get(moved.input[0]) if moved is not None else None
    if add is None or add.op_type != "Add" or index.consumers[moved.input[0]] != 2:  # the Transpose, the Shape
        return None
    for blocks_name in add.input:
        blocks = index.only(blocks_name, "Reshape")
        split = constants.get(blocks.input[1]) if blocks is not None else None
        shift = index.only(blocks.input[0], "Add") if split is not None and len(split) == 6 else None
        pair = _constant_input(shift, constants) if shift is not None else None
        if pair is not None and index.producers.get(pair[0]) is not None and \
                index.producers[pair[0]].op_type == "PRelu":
            return shift, pair[1], int(split[3])
    return None


def _fold_shifts(graph, constants):
    """RPReLU's output shift zeta (ReActNet Eq. 3) out of BBCU's residual stream (Eq. 8 of the
    BBCU paper: ``y = RPReLU(BinConv(sign(x + b))) + x``). ``y = (PRelu(.) + zeta) + x`` becomes
    ``PRelu(.) + x`` and the stream carries the running sum C of the zetas as a known offset:
    the next unit's sign takes threshold b + C (the op's threshold input), its residual sum
    passes the offset on, and any other reader gets ``y + C`` back in one Add. Into a unit
    right after an upsampler, the upsampler's own zeta takes the unit's zeta instead, so no
    Add is left at that unit. The same sums up to float rounding (a sign can differ only where
    x + b is within rounding of zero); one Add a unit fewer."""
    index = _Index(graph)
    only, position = index.only, index.position
    nodes = list(index.nodes)
    readers = collections.defaultdict(set)
    for at, node in enumerate(nodes):
        for i in node.input:
            readers[i].add(at)
    offset, dropped, absorbed = {}, set(), collections.defaultdict(set)

    def add_threshold(at, value):
        node = nodes[at]
        inputs = list(node.input) + [""] * (6 - len(node.input))
        old = constants[inputs[5]] if inputs[5] else np.zeros(value.shape, np.float32)
        inputs[5] = _initializer(graph, constants, f"{node.name}_threshold_{at}", (old + value).astype(np.float32))
        nodes[at] = helper.make_node(node.op_type, inputs, node.output, name=node.name, domain=node.domain,
                                     **_attrs(node))

    # op position -> (shift node, residual node, zeta, PRelu output) of y = (PRelu(op(x)) + zeta) + x
    units = {}
    for residual in nodes:
        for q, x in (residual.input, reversed(residual.input)) if residual.op_type == "Add" else ():
            shift = only(q, "Add")
            pair = _constant_input(shift, constants) if shift is not None else None
            prelu = only(pair[0], "PRelu") if pair else None
            op = only(prelu.input[0], "BinaryConv3x3") if prelu is not None else None
            if op is None or op.input[0] != x or not _attrs(op).get("nhwc") or residual.output[0] in index.outputs:
                continue
            zeta = _channel_vector(constants[pair[1]], int(constants[op.input[2]].size), nchw=False)
            if zeta is not None:
                units[position[op.output[0]]] = shift, residual, zeta, pair[0]
                break

    for at, op in enumerate(nodes):
        if op.op_type != "BinaryConv3x3":
            continue
        x = op.input[0]
        if at not in units:
            if x in offset:
                add_threshold(at, offset[x])
                absorbed[x].add(at)
            continue
        shift, residual, zeta, prelu_out = units[at]
        source = _shift_source(x, index, constants) if x not in offset and readers[x] == {at, position[residual.output[0]]} \
            else None
        if source is not None:  # the upsampler's output comes out already shifted by zeta
            up, name, r = source
            value = constants[name] + np.tile(zeta, r * r).astype(np.float32)
            inputs = [_initializer(graph, constants, f"{up.name}_refolded_{at}", value) if i == name else i
                      for i in up.input]
            nodes[position[up.output[0]]] = helper.make_node("Add", inputs, up.output, name=up.name)
            offset[x] = -zeta
        if x in offset:
            add_threshold(at, offset[x])
        r_at = position[residual.output[0]]
        nodes[r_at] = helper.make_node("Add", [prelu_out, x], residual.output, name=residual.name)
        dropped.add(position[shift.output[0]])
        absorbed[x].update({at, r_at})
        total = offset.get(x, 0) + zeta
        if np.any(total):
            offset[residual.output[0]] = total.astype(np.float32)

    out = []
    restored = {}
    for at, node in enumerate(nodes):
        if at in dropped:
            continue
        inputs = [restored.get(i, i) if at not in absorbed[i] else i for i in node.input]
        if inputs != list(node.input):
            node = helper.make_node(node.op_type, inputs, node.output, name=node.name, domain=node.domain,
                                    **_attrs(node))
        out.append(node)
        for o in node.output:
            if o in offset and (readers[o] - absorbed[o] or o in index.outputs):
                restored[o] = f"{o}_restored"
                value = _initializer(graph, constants, f"{o}_offset", offset[o])
                out.append(helper.make_node("Add", [o, value], [restored[o]], name=f"{o}_restored"))
    _splice(graph, out)


#: Output channels up to which ``_narrow_conv`` takes a float 3x3 conv out of onnxruntime's
#: blocked layout (which pads them to its block of 8 or 16 channels).
NARROW = 4


def _narrow_conv(graph, constants):
    """A float 3x3 conv with at most ``NARROW`` outputs (BBCU-M's last conv, 64 -> 3 at the high
    resolution) read from the NHWC region: onnxruntime reorders its input to a blocked layout
    and pads the 3 outputs to a block of 16 (1.6 G MACs of work done as 8.5 G). Instead one
    Gemm of the NHWC pixels, ``(9 O, C) x (N H W, C)^T``, gives every tap's O outputs of every
    pixel, in channel-major order, and the 9 taps, shifted, are summed: ``Pad``, 9 ``Slice``s
    and one ``Sum`` (with the bias), then the O planes go to NCHW. Measured alone at 720x1280,
    2 threads: 115 ms as Transpose + Conv, 75-83 this way. The same products, summed in
    another order."""
    index = _Index(graph)
    replaced = {}
    for at, conv in enumerate(graph.node):
        kernel = constants.get(conv.input[1]) if conv.op_type == "Conv" and len(conv.input) > 1 else None
        if kernel is None or kernel.ndim != 4 or kernel.shape[2:] != (3, 3) or kernel.shape[0] > NARROW or \
                _conv_padding(conv, None) != "zero":
            continue
        transpose = index.only(conv.input[0], "Transpose")
        if transpose is None or _attrs(transpose).get("perm") != [0, 3, 1, 2]:
            continue
        o, c = kernel.shape[:2]
        bias = constants.get(conv.input[2]) if len(conv.input) > 2 else np.zeros(o, np.float32)
        if bias is None:
            continue
        stem, make = f"{conv.name}_narrow", helper.make_node
        const = {name: _initializer(graph, constants, f"{stem}_{name}", value) for name, value in (
            ("taps", kernel.transpose(2, 3, 0, 1).reshape(9 * o, c).astype(np.float32)),  # row t * O + o
            ("rows", np.array([-1, c], np.int64)), ("lead", np.array([9 * o], np.int64)),
            ("nhw_start", np.array([0], np.int64)), ("nhw_end", np.array([3], np.int64)),
            ("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)), ("axes", np.array([0, 2, 3], np.int64)),
            ("bias", np.asarray(bias, np.float32).reshape(o, 1, 1, 1)))}
        nodes = [
            make("Reshape", [transpose.input[0], const["rows"]], [f"{stem}_pixels"], name=f"{stem}_pixels"),
            make("Gemm", [const["taps"], f"{stem}_pixels"], [f"{stem}_flat"], name=f"{stem}_gemm", transB=1),
            make("Shape", [transpose.input[0]], [f"{stem}_shape"], name=f"{stem}_shape"),
            make("Slice", [f"{stem}_shape", const["nhw_start"], const["nhw_end"]], [f"{stem}_nhw"], name=f"{stem}_nhw"),
            make("Concat", [const["lead"], f"{stem}_nhw"], [f"{stem}_planes_shape"], name=f"{stem}_planes_shape", axis=0),
            make("Reshape", [f"{stem}_flat", f"{stem}_planes_shape"], [f"{stem}_planes"], name=f"{stem}_planes"),
            make("Pad", [f"{stem}_planes", const["pads"]], [f"{stem}_padded"], name=f"{stem}_padded")]
        for t in range(9):
            dy, dx = divmod(t, 3)
            start = _initializer(graph, constants, f"{stem}_start{t}", np.array([t * o, dy, dx], np.int64))
            end = _initializer(graph, constants, f"{stem}_end{t}", np.array(
                [t * o + o, dy - 2 if dy < 2 else np.iinfo(np.int64).max, dx - 2 if dx < 2 else np.iinfo(np.int64).max],
                np.int64))
            nodes.append(make("Slice", [f"{stem}_padded", start, end, const["axes"]], [f"{stem}_tap{t}"],
                              name=f"{stem}_tap{t}"))
        nodes += [make("Sum", [f"{stem}_tap{t}" for t in range(9)] + [const["bias"]], [f"{stem}_sum"], name=f"{stem}_sum"),
                  make("Transpose", [f"{stem}_sum"], list(conv.output), name=stem, perm=[1, 0, 2, 3])]
        replaced[at] = nodes
    _splice(graph, _replace(graph, replaced))


def rewrite(proto):
    """A copy of an ONNX ``ModelProto`` with every binarized 3x3 conv as a ``BinaryConv3x3``
    (and PReLU as ``PRelu``); returns (model, number of binary convs rewritten)."""
    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    graph = proto.graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    index = _Index(graph)
    producers = index.producers
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
        source, threshold = _threshold(source, weights.channels, not transpose, index, constants)
        if transpose:
            nodes.append(helper.make_node("Transpose", [source], [f"{stem}_nchw"], name=f"{stem}_nchw", perm=[0, 3, 1, 2]))
            source = f"{stem}_nchw"
        inputs = [source] + [_initializer(graph, constants, f"{stem}_{name}", value) for name, value in
                             (("bits", weights.bits.view(np.int64)), ("alpha", weights.alpha), ("ones", weights.ones))]
        for name, value in (("bias", bias), ("threshold", threshold)):
            inputs.append("" if value is None else
                          _initializer(graph, constants, f"{stem}_{name}", np.asarray(value, np.float32).reshape(-1)))
        while not inputs[-1]:
            inputs.pop()
        nodes.append(helper.make_node("BinaryConv3x3", inputs, [node.output[0]], name=stem, domain=DOMAIN,
                                      pad_zero=int(pad == "zero")))
        count += 1
    _splice(graph, nodes)
    for tidy in (_prelu, _shuffle_residual, _to_nhwc, _broadcast_copies, _fold_shifts, _narrow_conv):
        tidy(graph, constants)
    proto.opset_import.append(helper.make_opsetid(DOMAIN, 1))
    return proto, count


def op_census(proto):
    return collections.Counter(node.op_type for node in proto.graph.node)


def session(serialized, num_threads=1, profile_prefix=None, isa=None):
    """An onnxruntime session with the fast-path op registered; ``num_threads`` for both
    onnxruntime's own ops and the binary convolutions; ``profile_prefix``: profile into it;
    ``isa``: the kernel's instruction set (the CPU's best when None). Threads and instruction
    set hold for every fast-path session of the process: the op's library is loaded once."""
    bitpacked.library().bp_set_threads(num_threads)
    bitpacked.library().bp_set_isa(bitpacked.isa_number(isa) if isa else -1)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = num_threads
    # onnxruntime's pool threads spin between ops and take the cores the kernel's OpenMP threads
    # need: measured, the body convs of bbcu-m ran 23 ms each with spinning, 10 ms without
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if profile_prefix:
        options.enable_profiling, options.profile_file_prefix = True, str(profile_prefix)
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
