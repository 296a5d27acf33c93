"""The BBCU networks (Xia et al., ICLR 2023): BBCU-L and BBCU-M super-resolution (paper Table 1),
BBCU-L with attention on its binary branches, and the DnCNN of BBCU units for denoising and JPEG
artifact removal (the reference's ``network_dncnn_bin`` / ``network_dncnn3_bin``)."""

from lce_models.models.common import float_conv
from lce_models.models.msrresnet import sr_network
from lce_models.models.registry import register
from lce_models.models.units import BBCU, UnitOptions

import tf_keras as keras


@register("bbcu-l", task="sr", family="bbcu", description="BBCU-L super-resolution")
def bbcu_l(image, config):
    """BBCU-L: binary body, float upsampler and tail (paper Table 1). As ``bbcu-att``, its
    units carry a float attention on the binary branch (``UnitOptions.attention``)."""
    return sr_network(image, config, body="bbcu", binary_upsampler=False)


@register("bbcu-m", task="sr", family="bbcu", description="BBCU-M super-resolution")
def bbcu_m(image, config):
    """BBCU-M: binary body, upsampler (BBCU-U) and HR conv (BBCU-B) (paper Table 1)."""
    return sr_network(image, config, body="bbcu", binary_upsampler=True)


register("bbcu-att", task="sr", family="bbcu", description="BBCU-L with channel attention on each binary branch",
         unit_defaults=(("attention", "channel"),))(bbcu_l)


@register("bbcu-dn", task="denoise", family="bbcu", description="BBCU DnCNN denoiser", scales=(1,), depth=18)
def bbcu_dncnn(image, config, bias=False):
    """DnCNN with BBCU units (reference ``network_dncnn_bin.DnCNN``): predicts the noise or
    the compression residual and subtracts it from the (k-scaled) input. ``bias``: every conv
    has one, binary ones included (``bbcu_dncnn3``)."""
    x = keras.layers.Rescaling(config.k, name="align_in")(image)
    feat = float_conv(config.n_feats, "head_conv", use_bias=bias)(x)
    feat = keras.layers.ReLU(name="head_relu")(feat)
    for u in range(config.depth):
        feat = BBCU(config.variant, config.padding, name=f"unit{u + 1:02d}",
                    options=UnitOptions(**config.unit_options), bias=bias)(feat)
    noise = float_conv(config.channels, "tail_conv", use_bias=bias)(feat)
    out = keras.layers.Subtract(name="remove_noise")([x, noise])
    return keras.layers.Rescaling(1.0 / config.k, name="align_out")(out)


@register("bbcu-car", task="jpeg", family="bbcu", description="BBCU DnCNN JPEG artifact removal", scales=(1,),
          channels=1, depth=18)
def bbcu_dncnn3(image, config):
    """The reference's JPEG network (``network_dncnn3_bin.DnCNN``): ``bbcu_dncnn`` with a bias
    on the head, tail and every binary conv, so that its checkpoints import."""
    return bbcu_dncnn(image, config, bias=True)
