"""Whole BBCU units into their ``BinaryConv3x3``: the float ops after a unit's binary conv
(BBCU, Eq. 8: ``y = RPReLU(BinConv(sign(x + b))) + x``; RPReLU's PReLU and output shift, the
residual, in an upsampler the depth-to-space with x broadcast over the sub-pixels, and a PReLU
or LeakyReLU right after the unit) become
the op's epilogue, computed on each output row while it is in cache
(``lce_models.runtimes.bitpacked.conv3x3_unit``). The same float operations in the same order:
the outputs are bit for bit the unfused graph's; except that RPReLU's input shift, where the
exporter left it after a conv that has a bias of its own (the JPEG network's), is added to that
bias, as the exporter itself does for a conv without one (one rounding fewer)."""

import collections

import numpy as np
from onnx import helper

from converters.fastpath.graph import Index, attrs, channel_vector, constant_input, initializer, splice

#: Optional inputs of a ``BinaryConv3x3``, by position (csrc/ort_op.c).
BIAS, SLOPE, SHIFT, RESIDUAL, ACTIVATION = 4, 6, 7, 8, 9


class _Walk:
    """The chain of single-reader nodes after a ``BinaryConv3x3``, taken one op at a time."""

    def __init__(self, index, readers, op):
        self.index, self.readers, self.tail, self.taken = index, readers, op.output[0], []

    def next(self, op_type, shape_too=False):
        """The one node reading the chain's end when it is an ``op_type`` (not yet taken); with
        ``shape_too``, a ``Shape`` may read it too (the shuffle's target shape, dropped with
        the shuffle)."""
        readers = [n for n in self.readers[self.tail] if not (shape_too and n.op_type == "Shape")]
        if len(readers) != 1 or self.tail in self.index.outputs:
            return None
        return readers[0] if readers[0].op_type == op_type else None

    def take(self, node):
        self.taken.append(node)
        self.tail = node.output[0]


def _shuffle(walk, constants, index, x):
    """An NHWC upsampler's end after the chain: ``Reshape(., (0, 0, 0, r, r, -1))``, ``+
    Reshape(x, (0, 0, 0, 1, 1, -1))`` (``broadcast_copies``'s form), the DCR ``Transpose`` and
    the ``Reshape`` back to 4-D; takes them and returns (r, x), or None (nothing taken)."""
    blocks = walk.next("Reshape")
    split = constants.get(blocks.input[1]) if blocks is not None else None
    if split is None or len(split) != 6 or list(split[:3]) != [0, 0, 0] or split[3] != split[4] or split[5] != -1:
        return None
    r = int(split[3])
    trial = _Walk(walk.index, walk.readers, blocks)
    add = trial.next("Add")
    other = [i for i in add.input if i != blocks.output[0]] if add is not None else []
    broadcast = index.only(other[0], "Reshape") if len(other) == 1 else None
    one = constants.get(broadcast.input[1]) if broadcast is not None else None
    if broadcast is None or one is None or list(one) != [0, 0, 0, 1, 1, -1] or \
            not _like_input(broadcast.input[0], x, index, constants):
        return None
    trial.take(add)
    moved = trial.next("Transpose", shape_too=True)
    if moved is None or attrs(moved).get("perm") != [0, 1, 3, 2, 4, 5]:
        return None
    trial.take(moved)
    final = trial.next("Reshape")
    if final is None:
        return None
    trial.take(final)
    walk.take(blocks)
    for node in trial.taken:
        walk.take(node)
    return r, broadcast.input[0]


def _like_input(name, x, index, constants):
    """Whether tensor ``name`` is the unit's input ``x`` or ``x`` plus a constant (the stream's
    offset added back by ``fold_shifts``): then it has x's shape, which the op's residual must
    have (it reads h x w x channels floats from it)."""
    if name == x:
        return True
    node = index.producers.get(name)
    pair = constant_input(node, constants) if node is not None and node.op_type == "Add" else None
    return pair is not None and pair[0] == x and constants[pair[1]].size in (1, constants[pair[1]].shape[-1])


def _slope(node, channels, constants):
    """A ``PRelu``'s constant slope (per channel, or one for all: a LeakyReLU) as (channels,),
    or None."""
    if node is None or node.input[1] not in constants:
        return None
    value = constants[node.input[1]]
    slope = np.full(channels, value.reshape(-1)[0], np.float32) if value.size == 1 else \
        channel_vector(value, channels, nchw=False)
    return None if slope is None else np.broadcast_to(slope, (channels,))


def fuse_units(graph, constants):
    """Each NHWC ``BinaryConv3x3`` followed, through nodes nothing else reads, by ``PRelu``
    (constant slope), ``Add`` of a constant per-channel shift, ``Add`` of a residual (or an
    upsampler's broadcast add and shuffle of it) and another ``PRelu``, in that order and each
    optional, becomes one ``BinaryConv3x3`` with slope, shift, residual, activation and
    ``shuffle``. The residual is the unit's input x, or x with the stream's offset added back
    after ``fold_shifts`` (``_like_input``)."""
    index = Index(graph)
    readers = collections.defaultdict(list)
    for node in index.nodes:
        for i in node.input:
            readers[i].append(node)
    fused, dropped = {}, set()
    for at, op in enumerate(index.nodes):
        if op.op_type != "BinaryConv3x3" or not attrs(op).get("nhwc") or len(op.input) > SLOPE:
            continue
        o = int(constants[op.input[2]].size)
        walk, parts = _Walk(index, readers, op), {}
        add = walk.next("Add")
        pair = constant_input(add, constants) if add is not None else None
        shift_in = channel_vector(constants[pair[1]], o, nchw=False) if pair is not None else None
        if shift_in is not None and walk.next("Add") is add and _Walk(index, readers, add).next("PRelu") is not None:
            bias = constants[op.input[BIAS]] if len(op.input) > BIAS and op.input[BIAS] else np.zeros(o, np.float32)
            parts[BIAS] = bias + np.broadcast_to(shift_in, (o,))
            walk.take(add)
        prelu = walk.next("PRelu")
        if (slope := _slope(prelu, o, constants)) is not None:
            parts[SLOPE] = slope
            walk.take(prelu)
        add = walk.next("Add")
        pair = constant_input(add, constants) if add is not None else None
        shift = channel_vector(constants[pair[1]], o, nchw=False) if pair is not None else None
        if shift is not None:
            parts[SHIFT] = np.broadcast_to(shift, (o,))
            walk.take(add)
        add = walk.next("Add")
        other = [i for i in add.input if i != walk.tail] if add is not None else []
        r, residual = 1, None
        if len(other) == 1 and _like_input(other[0], op.input[0], index, constants):
            residual = other[0]
            walk.take(add)
        elif (shuffled := _shuffle(walk, constants, index, op.input[0])) is not None:
            r, residual = shuffled
        after = walk.next("PRelu")
        if (activation := _slope(after, o // (r * r), constants)) is not None:
            parts[ACTIVATION] = activation
            walk.take(after)
        if not walk.taken:
            continue
        inputs = list(op.input) + [""] * (ACTIVATION + 1 - len(op.input))
        for position, value in parts.items():
            inputs[position] = initializer(graph, constants, f"{op.name}_unit_{position}", value.astype(np.float32))
        inputs[RESIDUAL] = residual or ""
        while not inputs[-1]:
            inputs.pop()
        fused[at] = helper.make_node("BinaryConv3x3", inputs, [walk.tail], name=f"{op.name}_unit", domain=op.domain,
                                     **attrs(op), shuffle=r)
        dropped.update(index.position[node.output[0]] for node in walk.taken)
    splice(graph, [fused.get(at, node) for at, node in enumerate(index.nodes) if at not in dropped])
