"""A Keras model against its PyTorch twin: unit by unit on random inputs, and whole on a
photograph (the same ``Agreement`` as the conversion checks)."""

import re

from lce_models.data.images import sample_image
from lce_models.evaluation.metrics import agreement
from lce_models.models.exact import grid
from lce_models.torch_twin.mapping import torch_prefix

import numpy as np
import tf_keras as keras
import torch

#: Unit outputs may differ by float rounding only: sums in another order (this much), and
#: alpha's rounding to ``bconv.ALPHA_BITS`` bits, which goes the other way when the two frameworks'
#: means of |W| differ in their last bit at a halfway point (``unit_tolerance``).
UNIT_TOLERANCE = 1e-4
#: Whole networks: sign flips from rounding cascade, as between Keras and LCE.
NETWORK_PSNR_DB = 50.0


def to_nchw(x):
    return torch.from_numpy(np.ascontiguousarray(np.asarray(x, np.float32).transpose(0, 3, 1, 2)))


def to_nhwc(t):
    return t.detach().cpu().numpy().transpose(0, 2, 3, 1)


def unit_names(model):
    """The Keras name prefixes of the binary units of ``model`` (``block01_unit1``, ``up1``...)."""
    return [layer.name.removesuffix("_rsign_shift") for layer in model.layers
            if re.fullmatch(r".+_rsign_shift", layer.name)]


def unit_tolerance(model, name):
    """``UNIT_TOLERANCE`` plus what one step of the rounded alpha (its last bit) on every tap of
    the unit's binary conv can change."""
    conv = model.get_layer(f"{name}_bconv")
    taps = int(np.prod(conv.kernel.shape[:3]))
    return UNIT_TOLERANCE + taps * float(grid(conv)[1].max())


def unit_agreement(model, twin, config, size=(9, 11), seed=0):
    """{unit name: max |Keras - twin|} for every binary unit, on N(0, 1) inputs of ``size``
    (or of the model's own size, when it has a fixed one)."""
    rng = np.random.default_rng(seed)
    results = {}
    for name in unit_names(model):
        start = model.get_layer(f"{name}_rsign_shift")
        part = keras.Model(start.input, model.get_layer(f"{name}_add").output)
        _, h, w, c = start.input.shape
        x = rng.normal(size=(2, *((h, w) if h and w else size), c)).astype(np.float32)
        module = twin.get_submodule(torch_prefix(f"{name}_rsign_shift", config).removesuffix(".move0"))
        with torch.no_grad():
            theirs = to_nhwc(module(to_nchw(x)))
        results[name] = float(np.abs(part(x).numpy() - theirs).max())
    return results


def network_agreement(model, twin, size=(48, 48), image=None):
    """``Agreement`` of the whole twin against the Keras model on a photograph (``size``, or
    the model's own)."""
    _, h, w, _ = model.input.shape
    x = sample_image(*((h, w) if h and w else size), model.config.channels, path=image)[None]
    with torch.no_grad():
        theirs = to_nhwc(twin(to_nchw(x)))
    return agreement(model(x).numpy(), theirs)


def verify(model, twin, config, image=None):
    """The figures and whether they pass: {"units_max_abs_diff", "worst_unit", "network", "ok"}."""
    twin = twin.eval()
    units = unit_agreement(model, twin, config)
    worst = max(units, key=units.get)
    whole = network_agreement(model, twin, image=image)
    return {
        "units": len(units),
        "units_max_abs_diff": units[worst],
        "worst_unit": worst,
        "network": whole.as_dict(),
        "ok": all(d <= unit_tolerance(model, n) for n, d in units.items()) and whole.psnr_db >= NETWORK_PSNR_DB,
    }
