"""The x86-64 fast path in onnxruntime: each binarized convolution of an ONNX graph becomes one
``BinaryConv3x3`` node (domain ``lce_models.fastpath``) holding bit-packed weights, run by the
C kernel of ``lce_models.runtimes.bitpacked``, which registers itself as an onnxruntime custom-op
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
for the next sign's threshold (``_fold_shifts``), and each BBCU unit's remaining float ops
(PReLU, shift, residual, an upsampler's shuffle) become its ``BinaryConv3x3``'s epilogue
(``fuse_units``). A float conv with few outputs read from the
region becomes a Gemm and a sum of shifted taps (``_narrow_conv``). Each pass keeps the graph's
floats, up to rounding where it reorders a sum.
"""

import collections

from lce_models.runtimes import receptive_field
from lce_models.runtimes.bitpacked.session import DOMAIN

import onnx
from onnx import helper, numpy_helper

from converters.fastpath.passes.binary_conv import binary_convs
from converters.fastpath.passes.broadcast import broadcast_copies
from converters.fastpath.passes.fold_shifts import fold_shifts
from converters.fastpath.passes.fuse_units import fuse_units
from converters.fastpath.passes.narrow_conv import narrow_conv
from converters.fastpath.passes.nhwc import to_nhwc
from converters.fastpath.passes.prelu import prelu
from converters.fastpath.passes.shuffle_residual import shuffle_residual
from converters.tflite import ConversionError, expected_convolutions

#: The passes, in order: each ``pass(graph, constants)`` rewrites the graph in place, with
#: ``constants`` (initializer name -> array) shared and kept up to date.
PASSES = (binary_convs, prelu, shuffle_residual, to_nhwc, broadcast_copies, fold_shifts, fuse_units, narrow_conv)


def op_census(proto):
    return collections.Counter(node.op_type for node in proto.graph.node)


def rewrite(proto):
    """A copy of an ONNX ``ModelProto`` with every binarized 3x3 conv as a ``BinaryConv3x3``
    and the other passes applied, the exported graph's receptive radius kept in its metadata
    (the tiles of a whole photo need it); returns (model, number of ``BinaryConv3x3`` nodes)."""
    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    radius = receptive_field.of_onnx(proto)
    constants = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    for apply in PASSES:
        apply(proto.graph, constants)
    proto.opset_import.append(helper.make_opsetid(DOMAIN, 1))
    helper.set_model_props(proto, {**{p.key: p.value for p in proto.metadata_props},
                                   receptive_field.METADATA_KEY: str(radius)})
    return proto, op_census(proto)["BinaryConv3x3"]


def rewrite_checked(model, proto):
    """``rewrite``, then ``ConversionError`` unless every binary conv of ``model`` (the Keras
    model ``proto`` was exported from) became a ``BinaryConv3x3``."""
    rewritten, count = rewrite(proto)
    binary, _ = expected_convolutions(model)
    if count != binary:
        raise ConversionError(f"{binary} binary convolutions but {count} BinaryConv3x3 in the ONNX graph")
    return rewritten
