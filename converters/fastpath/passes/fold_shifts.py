"""RPReLU's output shifts leave BBCU's residual stream for the next sign's threshold."""

import collections

import numpy as np
from onnx import helper

from converters.fastpath.graph import Index, attrs, channel_vector, constant_input, initializer, splice


def shift_source(x, index, constants):
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
        pair = constant_input(shift, constants) if shift is not None else None
        if pair is not None and index.producers.get(pair[0]) is not None and \
                index.producers[pair[0]].op_type == "PRelu":
            return shift, pair[1], int(split[3])
    return None


def fold_shifts(graph, constants):
    """RPReLU's output shift zeta (ReActNet Eq. 3) out of BBCU's residual stream (Eq. 8 of the
    BBCU paper: ``y = RPReLU(BinConv(sign(x + b))) + x``). ``y = (PRelu(.) + zeta) + x`` becomes
    ``PRelu(.) + x`` and the stream carries the running sum C of the zetas as a known offset:
    the next unit's sign takes threshold b + C (the op's threshold input), its residual sum
    passes the offset on, and any other reader gets ``y + C`` back in one Add. Into a unit
    right after an upsampler, the upsampler's own zeta takes the unit's zeta instead, so no
    Add is left at that unit. The same sums up to float rounding (a sign can differ only where
    x + b is within rounding of zero); one Add a unit fewer."""
    index = Index(graph)
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
        inputs[5] = initializer(graph, constants, f"{node.name}_threshold_{at}", (old + value).astype(np.float32))
        nodes[at] = helper.make_node(node.op_type, inputs, node.output, name=node.name, domain=node.domain,
                                     **attrs(node))

    # op position -> (shift node, residual node, zeta, PRelu output) of y = (PRelu(op(x)) + zeta) + x
    units = {}
    for residual in nodes:
        for q, x in (residual.input, reversed(residual.input)) if residual.op_type == "Add" else ():
            shift = only(q, "Add")
            pair = constant_input(shift, constants) if shift is not None else None
            prelu = only(pair[0], "PRelu") if pair else None
            op = only(prelu.input[0], "BinaryConv3x3") if prelu is not None else None
            if op is None or op.input[0] != x or not attrs(op).get("nhwc") or residual.output[0] in index.outputs:
                continue
            zeta = channel_vector(constants[pair[1]], int(constants[op.input[2]].size), nchw=False)
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
        only_here = x not in offset and readers[x] == {at, position[residual.output[0]]}
        source = shift_source(x, index, constants) if only_here else None
        if source is not None:  # the upsampler's output comes out already shifted by zeta
            up, name, r = source
            value = constants[name] + np.tile(zeta, r * r).astype(np.float32)
            inputs = [initializer(graph, constants, f"{up.name}_refolded_{at}", value) if i == name else i
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
                                    **attrs(node))
        out.append(node)
        for o in node.output:
            if o in offset and (readers[o] - absorbed[o] or o in index.outputs):
                restored[o] = f"{o}_restored"
                value = initializer(graph, constants, f"{o}_offset", offset[o])
                out.append(helper.make_node("Add", [o, value], [restored[o]], name=f"{o}_restored"))
    splice(graph, out)
