"""A BBCU upsampler's residual: ``DepthToSpace(a) + nearest-upsampled(x)`` becomes
``DepthToSpace(a + Concat(x, x, x, x))``, the same sums in a permuted order (the shuffle's DCR
order puts channel c of every sub-pixel in copy c of x), without onnxruntime's slow Resize at
the high resolution."""

from onnx import helper

from converters.fastpath.graph import Index, attrs, replace, splice


def shuffle_residual(graph, constants):
    """``Add(DepthToSpace(a), Resize_nearest(x))`` -> ``DepthToSpace(a + Concat(x, ..., x))``
    where ``a`` comes from a BinaryConv3x3 of ``x`` through per-channel elementwise ops (so both
    have x's size and the Resize's factor is the shuffle's)."""
    index = Index(graph)
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
            sa, ra = attrs(shuffle), attrs(resize)
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
    splice(graph, replace(graph, replaced))
