"""MSRResNet's topology (BasicSR), with a choice of body: two BBCU units a block, or residual
blocks conv-ReLU-conv with float or 1-bit weights. The SR networks of ``bbcu`` and ``srresnet``
are this skeleton."""

import math

from lce_models.models.common import float_conv, global_residual, lrelu, upsample_factors
from lce_models.models.layers import Gain, LearnableBias, PixelShuffle
from lce_models.models.units import BBCU, BBCUUp, UnitOptions

import larq as lq
import tf_keras as keras


def binary_weight_conv(filters, name):
    """3x3 conv with 1-bit weights and full-precision inputs (Ma et al., CVPR-W 2019):
    sign(W) (clipped STE) times a learned per-layer gain, then a bias. The gain starts where
    ``float_conv``'s initial weights put the output's scale."""

    def apply(x):
        fan_in = 9 * int(x.shape[-1])
        conv = lq.layers.QuantConv2D(filters, 3, padding="same", kernel_quantizer="ste_sign", use_bias=False,
                                     kernel_initializer=keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),
                                     name=name)
        y = Gain(math.sqrt(0.02 / fan_in), name=f"{name}_gain")(conv(x))
        return LearnableBias(name=f"{name}_bias")(y)

    return apply


def _float_residual_block(x, filters, name, binary_weights=False):
    conv = binary_weight_conv if binary_weights else float_conv
    y = conv(filters, f"{name}_conv1")(x)
    y = keras.layers.ReLU(name=f"{name}_relu")(y)
    y = conv(filters, f"{name}_conv2")(y)
    return keras.layers.Add(name=f"{name}_add")([x, y])


def sr_network(image, c, body, binary_upsampler):
    """MSRResNet's topology; ``body`` is ``"bbcu"`` (two BBCU units a block), ``"float"`` or
    ``"binary-weight"`` (residual blocks conv-ReLU-conv)."""
    n = c.n_feats
    x = keras.layers.Rescaling(c.k, name="align_in")(image)
    feat = lrelu("head_lrelu")(float_conv(n, "head_conv")(x))
    unit = dict(variant=c.variant, padding=c.padding,
                options=UnitOptions(**c.unit_options) if c.unit_options else UnitOptions())
    for b in range(c.depth):
        if body == "bbcu":
            for u in (1, 2):
                feat = BBCU(**unit, name=f"block{b + 1:02d}_unit{u}")(feat)
        else:
            feat = _float_residual_block(feat, n, f"block{b + 1:02d}", binary_weights=body == "binary-weight")
    for i, r in enumerate(upsample_factors(c.scale), 1):
        if binary_upsampler:
            feat = BBCUUp(factor=r, **unit, name=f"up{i}")(feat)
        else:
            feat = float_conv(n * r * r, f"up{i}_conv")(feat)
            feat = lrelu(f"up{i}_lrelu")(PixelShuffle(r, name=f"up{i}_shuffle")(feat))
    if binary_upsampler:
        feat = BBCU(**unit, name="hr")(feat)
    else:
        feat = float_conv(n, "hr_conv")(feat)
    out = float_conv(c.channels, "last_conv")(lrelu("hr_lrelu")(feat))
    return keras.layers.Rescaling(1.0 / c.k, name="align_out")(global_residual(out, x, c))
