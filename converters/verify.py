"""Run a converted flatbuffer beside its Keras model and measure how far apart they are."""

from dataclasses import asdict, dataclass

from lce_models.models.complexity import is_binary_conv
from lce_models.runtimes.flatbuffer import output_names
from lce_models.runtimes.tflite import tflite_runtime

import numpy as np
import tensorflow as tf
import tf_keras as keras

from converters.tflite import convert


def run_tflite(flatbuffer, x, num_threads=2):
    """Run an LCE flatbuffer on a batch ``x`` (one image at a time, as it was converted)."""
    return tflite_runtime(flatbuffer, num_threads)(x)


def in_graph(model, x):
    """``model``'s outputs on ``x`` from one traced graph: what ``model.predict`` returns, bit
    for bit (grappler's rewrites included; checked on every network), without tracing
    predict's loop with AutoGraph, which took longer than the run (BSRN x4: 46 s against 20)."""
    outputs = tf.function(lambda v: model(v, training=False), autograph=False)(tf.constant(x))
    return [o.numpy() for o in tf.nest.flatten(outputs)]


@dataclass(frozen=True)
class FirstFlip:
    """The earliest binary conv (in graph order) whose input signs differ between a flatbuffer
    and a reference: where a cascade of flips starts, and how near zero its input was."""

    layer: str
    flipped: int
    size: int
    nearest_zero: float  # the smaller |input| of the two sides at the flip nearest zero

    def as_dict(self):
        return asdict(self)

    def __str__(self):
        return (f"{self.layer}: {self.flipped} of {self.size} signs, inputs within "
                f"{self.nearest_zero:.1e} of zero")


def sign_flips(model, x, reference=None, num_threads=2):
    """Share of binarized activations whose sign differs between Keras and the LCE flatbuffer,
    and, when ``reference`` (a model with the same layer names, such as
    ``converters.emulation.emulate(model)``) is given, the first binary conv whose input signs
    differ from it (None if none do): ``(share, first flip)``.

    Converts a probe of ``model`` that also outputs the input of every binary convolution
    (the tensor its sign is taken of) and compares signs with sign(0) = +1, as larq and LCE
    binarize. Float differences (folded constants, fused ops) flip the few values that sit
    next to zero, and a flip changes everything downstream of it: the first flip is its root.
    The reference runs eagerly (see ``converters.export``).
    """
    convs = [layer.name for layer in model.layers if is_binary_conv(layer)]
    if not convs:
        return 0.0, None
    probe = keras.Model(model.inputs, [model.get_layer(n).input for n in convs])
    flatbuffer = convert(probe)
    got = run_tflite(flatbuffer, x, num_threads)
    got = dict(zip(output_names(flatbuffer), got if isinstance(got, list) else [got]))
    got = [got[name] for name in probe.output_names]  # back in graph order
    want = in_graph(probe, x)
    flipped = sum(int(np.count_nonzero((w >= 0) != (g >= 0))) for w, g in zip(want, got))
    share = flipped / sum(g.size for g in got)
    if reference is None:
        return share, None
    twin = keras.Model(reference.inputs, [reference.get_layer(n).input for n in convs])
    for name, w, g in zip(convs, twin(x, training=False), got):
        w = w.numpy()
        mask = (w >= 0) != (g >= 0)
        if mask.any():
            nearest = float(np.minimum(np.abs(w[mask]), np.abs(g[mask])).min())
            return share, FirstFlip(name, int(mask.sum()), g.size, nearest)
    return share, None
