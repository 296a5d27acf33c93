"""The networks of BSRN (Xin et al., ECCV 2020) with bit accumulation (``bam``): BSRN itself and
SRResNet_BAM, on an EDSR-style float skeleton, and VDSR_BAM on the bicubic enlargement."""

from dataclasses import replace

from lce_models.models import bam
from lce_models.models.common import float_conv, global_residual, upsample_factors
from lce_models.models.layers import BicubicUpscale, PixelShuffle
from lce_models.models.registry import GLOBAL_RESIDUALS, ConfigurationError, Family, register
from lce_models.models.units import PADDINGS

import tf_keras as keras


class BAMFamily(Family):
    """Networks with bit accumulation: the paper's BAM or an ablation of its Table 4 (default
    ``bam``), with ``bam_options`` over the variant's ``BAMOptions``, either border padding, and
    either global residual (the EDSR-style ``"none"`` of the paper, or the bilinear default)."""

    name = "bam"
    legacy_global_residual = "none"  # cards from before the option: the paper's networks

    def variant(self, config):
        variant = config.variant or "bam"
        if variant not in bam.VARIANTS:
            raise ConfigurationError(f"unknown BAM variant {variant!r}; choose from {', '.join(bam.VARIANTS)}")
        if config.padding not in PADDINGS:
            raise ConfigurationError(f"unknown padding {config.padding!r}; choose from {', '.join(PADDINGS)}")
        try:
            options = replace(bam.VARIANTS[variant], **(config.bam_options or {}))
        except (TypeError, ValueError) as e:
            raise ConfigurationError(f"bam_options: {e}") from None
        return variant, options.to_dict()

    def global_residual(self, config):
        if config.global_residual not in (None, *GLOBAL_RESIDUALS):
            raise ConfigurationError(f"global_residual must be one of {', '.join(GLOBAL_RESIDUALS)}, "
                                     f"not {config.global_residual!r}")
        return config.global_residual or "bilinear"


BAM_FAMILY = BAMFamily()


class EnlargedInputFamily(BAMFamily):
    """BAM networks that restore the bicubic enlargement of the image (VDSR's design): what
    they add to their prediction is that enlargement, always."""

    legacy_global_residual = None

    def global_residual(self, config):
        if config.global_residual not in (None, "bicubic"):
            raise ConfigurationError(f"{config.name} always adds the bicubic enlargement it restores")
        return "bicubic"


ENLARGED_INPUT_FAMILY = EnlargedInputFamily()


def edsr_network(image, c, body, head_size, activation):
    """EDSR-style SR skeleton around a binary ``body``: float head, float body-end conv with
    a long skip, float conv + pixel-shuffle upsampler, float last conv. ``activation(name)``
    makes the float activation after the head and each upsampler stage (None: none)."""
    x = keras.layers.Rescaling(c.k, name="align_in")(image) if c.k != 1 else image
    act = activation or (lambda name: lambda t: t)
    head = act("head_act")(float_conv(c.n_feats, "head_conv", size=head_size)(x))
    feat = float_conv(c.n_feats, "body_end_conv")(body(head))
    feat = keras.layers.Add(name="long_skip")([head, feat])
    for i, r in enumerate(upsample_factors(c.scale), 1):
        feat = float_conv(c.n_feats * r * r, f"up{i}_conv")(feat)
        feat = act(f"up{i}_act")(PixelShuffle(r, name=f"up{i}_shuffle")(feat))
    out = global_residual(float_conv(c.channels, "last_conv", size=head_size)(feat), x, c)
    return keras.layers.Rescaling(1.0 / c.k, name="align_out")(out) if c.k != 1 else out


@register("bsrn", task="sr", family=BAM_FAMILY, description="BSRN bit-accumulation super-resolution", depth=20,
          n_feats=48, k=130.0)
def bsrn(image, config):
    """BSRN (Xin et al., ECCV 2020, Sec. 3.3 and Fig. 3): ``depth`` HPB blocks of two LB
    blocks, bit accumulation in weights and activations; float head, tail and upsampler."""
    options = bam.BAMOptions(**config.bam_options)

    def body(x):
        for b in range(config.depth):
            x = bam.HPB(2, options, config.padding, name=f"hpb{b + 1:02d}")(x)
        return x

    return edsr_network(image, config, body, head_size=3, activation=None)


@register("srresnet-bam", task="sr", family=BAM_FAMILY, description="SRResNet with bit accumulation")
def srresnet_bam(image, config):
    """SRResNet_BAM (Xin et al., ECCV 2020, Table 3): SRResNet (Ledig et al., CVPR 2017)
    with each residual block's two convs binarized as BAM steps that accumulate within the
    block; the BatchNorms of SRResNet become the BNs before the signs."""
    options = bam.BAMOptions(**config.bam_options)

    def body(x):
        for b in range(config.depth):
            group, name = bam.Group(), f"block{b + 1:02d}"
            for i in (1, 2):
                x = bam.BAMStep(3, options, config.padding, name=f"{name}_conv{i}")(x, group)
        return x

    def prelu(name):
        return keras.layers.PReLU(shared_axes=[1, 2], name=name)

    return edsr_network(image, config, body, head_size=9, activation=prelu)


@register("vdsr-bam", task="sr", family=ENLARGED_INPUT_FAMILY, description="VDSR with bit accumulation", depth=9,
          k=130.0)
def vdsr_bam(image, config):
    """VDSR_BAM (Xin et al., ECCV 2020, Table 3): VDSR (Kim et al., CVPR 2016) with its 18 inner
    3x3 convs binarized as BAM steps; float first conv + ReLU and last conv. VDSR restores the
    bicubic enlargement of the image and adds it to its prediction (residual learning); here
    the enlargement is in the graph (``BicubicUpscale``, MATLAB's), so the network takes the
    LR image like every SR network of the package. ``depth`` counts pairs of steps that
    accumulate together, as SRResNet_BAM's residual blocks do (VDSR has no blocks and the
    paper does not say how its steps group)."""
    options = bam.BAMOptions(**config.bam_options)
    x = BicubicUpscale(config.scale, name="bicubic")(image)
    x = keras.layers.Rescaling(config.k, name="align_in")(x) if config.k != 1 else x
    feat = keras.layers.ReLU(name="head_relu")(float_conv(config.n_feats, "head_conv")(x))
    for b in range(config.depth):
        group, name = bam.Group(), f"pair{b + 1:02d}"
        for i in (1, 2):
            feat = bam.BAMStep(3, options, config.padding, name=f"{name}_conv{i}")(feat, group)
    out = keras.layers.Add(name="global_residual")([float_conv(config.channels, "last_conv")(feat), x])
    return keras.layers.Rescaling(1.0 / config.k, name="align_out")(out) if config.k != 1 else out
