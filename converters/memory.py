"""How much memory a conversion at a given input size needs, told before anything runs: the
Keras model's activations at that size (float32), against what this machine has available."""

import math
from pathlib import Path

from lce_models.errors import UserError

#: Activations alive at once while Keras, the converter and the verification run the model:
#: the largest few, a residual stream beside its branch, measured at most about this many.
LIVE_ACTIVATIONS = 3


def activation_bytes(model):
    """Bytes of the ``LIVE_ACTIVATIONS`` largest layer outputs of a Keras model built at a fixed
    size (a symbolic build: nothing is allocated until it runs), float32."""
    sizes = sorted((math.prod(d for d in shape[1:]) for layer in model.layers
                    for shape in _shapes(layer.output_shape)), reverse=True)
    return 4 * sum(sizes[:LIVE_ACTIVATIONS])


def _shapes(shape):
    return shape if isinstance(shape, list) else [shape]


def available_bytes():
    """Memory this machine can still give (Linux ``MemAvailable``), or None where not known."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def refuse_beyond_memory(model, input_size):
    """A ``UserError`` when the activations of ``model`` (built at ``input_size``) alone need more
    memory than this machine has available, naming the estimate and a size that fits."""
    available, needed = available_bytes(), activation_bytes(model)
    if available is not None and needed > available:
        h, w = fitting_size(input_size, needed, available)
        raise UserError(f"--input-size {input_size[0]}x{input_size[1]} needs about {needed / 2**30:.1f} GiB for the "
                        f"network's activations alone, more than the {available / 2**30:.1f} GiB available here; "
                        f"at most about {h}x{w} of this aspect fits them")


def fitting_size(input_size, needed, available):
    """The largest (H, W) of the same aspect whose activations fit ``available`` bytes, given
    that ``input_size`` needs ``needed`` (activations grow with H x W)."""
    h, w = input_size
    f = math.sqrt(available / needed)
    return max(1, int(h * f)), max(1, int(w * f))
