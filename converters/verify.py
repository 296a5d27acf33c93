"""Run a converted flatbuffer beside its Keras model and measure how far apart they are."""



from lce_models.models.complexity import is_binary_conv
from lce_models.runtimes.flatbuffer import output_names
from lce_models.runtimes.tflite import tflite_runtime

import numpy as np
import tf_keras as keras

from converters.tflite import convert


def run_tflite(flatbuffer, x, num_threads=2):
    """Run an LCE flatbuffer on a batch ``x`` (one image at a time, as it was converted)."""
    return tflite_runtime(flatbuffer, num_threads)(x)


def sign_flip_share(model, x, num_threads=2):
    """Share of binarized activations whose sign differs between Keras and the LCE flatbuffer.

    Converts a probe of ``model`` that also outputs the input of every binary convolution
    (the tensor its sign is taken of) and compares signs with sign(0) = +1, as larq and LCE
    binarize. Float differences (folded constants, fused ops) flip the few values that sit
    next to zero, and a flip changes everything downstream of it.
    """
    probes = [layer.input for layer in model.layers if is_binary_conv(layer)]
    if not probes:
        return 0.0
    probe = keras.Model(model.inputs, probes)
    flatbuffer = convert(probe)
    want = probe.predict(x, verbose=0)
    want = want if isinstance(want, list) else [want]
    got = run_tflite(flatbuffer, x, num_threads)
    got = got if isinstance(got, list) else [got]
    flipped = total = 0
    for name, g in zip(output_names(flatbuffer), got):
        w = want[probe.output_names.index(name)]
        flipped += int(np.count_nonzero((w >= 0) != (g >= 0)))
        total += g.size
    return flipped / total
