"""The BBCU networks (Xia et al., ICLR 2023): BBCU-L and BBCU-M super-resolution (paper Table 1),
BBCU-L with attention on its binary branches, and the DnCNN of BBCU units for denoising and JPEG
artifact removal (the reference's ``network_dncnn_bin`` / ``network_dncnn3_bin``)."""

from dataclasses import asdict

from lce_models.models.common import float_conv
from lce_models.models.msrresnet import sr_network
from lce_models.models.registry import ConfigurationError, Family, register
from lce_models.models.units import BBCU, VARIANTS, UnitOptions, check_unit_options

import tf_keras as keras


class BBCUFamily(Family):
    """Networks of BBCU units: a unit variant v1..v4 (paper Sec. 3.2, default v4), either
    border padding, ``UnitOptions``, and k = 130 * n_feats / 64 where the variant aligns the
    residual."""

    name = "bbcu"

    def variant(self, config):
        if config.bam_options is not None:
            raise ConfigurationError(f"{config.name} has no bit accumulation: no bam_options")
        variant = config.variant or "v4"
        try:
            check_unit_options(variant, config.padding)
        except ValueError as e:
            raise ConfigurationError(str(e)) from None
        return variant, None

    def unit_options(self, config, spec):
        try:
            return asdict(UnitOptions(**{**dict(spec.unit_defaults), **(config.unit_options or {})}))
        except (TypeError, ValueError) as e:
            raise ConfigurationError(f"unit_options: {e}") from None

    def default_k(self, variant, n_feats):
        return 130.0 * n_feats / 64 if VARIANTS[variant].residual_alignment else 1.0


BBCU_FAMILY = BBCUFamily()


@register("bbcu-l", task="sr", family=BBCU_FAMILY, description="BBCU-L super-resolution")
def bbcu_l(image, config):
    """BBCU-L: binary body, float upsampler and tail (paper Table 1). As ``bbcu-att``, its
    units carry a float attention on the binary branch (``UnitOptions.attention``)."""
    return sr_network(image, config, body="bbcu", binary_upsampler=False)


@register("bbcu-m", task="sr", family=BBCU_FAMILY, description="BBCU-M super-resolution")
def bbcu_m(image, config):
    """BBCU-M: binary body, upsampler (BBCU-U) and HR conv (BBCU-B) (paper Table 1)."""
    return sr_network(image, config, body="bbcu", binary_upsampler=True)


register("bbcu-att", task="sr", family=BBCU_FAMILY, description="BBCU-L with channel attention on each binary branch",
         unit_defaults=(("attention", "channel"),))(bbcu_l)


@register("bbcu-dn", task="denoise", family=BBCU_FAMILY, description="BBCU DnCNN denoiser", scales=(1,), depth=18)
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


@register("bbcu-car", task="jpeg", family=BBCU_FAMILY, description="BBCU DnCNN JPEG artifact removal", scales=(1,),
          channels=1, depth=18)
def bbcu_dncnn3(image, config):
    """The reference's JPEG network (``network_dncnn3_bin.DnCNN``): ``bbcu_dncnn`` with a bias
    on the head, tail and every binary conv, so that its checkpoints import."""
    return bbcu_dncnn(image, config, bias=True)
