"""The Basic Binary Convolution Unit (BBCU) of Xia et al., ICLR 2023, and its part variants.

A unit is a small class whose call wires Keras layers onto a functional graph, as larq-zoo's
blocks do, so that every internal tensor (for instance the input of each binary convolution)
stays reachable from the finished model.

The ablation of the paper (Sec. 3.2, Fig. 3) is selected by ``variant``:

====  ===========================================  =========  =====================
name  unit                                         BatchNorm  residual alignment (k)
====  ===========================================  =========  =====================
v1    out = RPReLU(BN(BinConv(RSign(x))) + x)      yes        no
v2    out = RPReLU(BinConv(RSign(x)) + x)          no         no
v3    as v2                                        no         yes
v4    out = RPReLU(BinConv(RSign(x))) + x          no         yes
====  ===========================================  =========  =====================

Residual alignment (multiplying the image by k at the input and dividing at the output) is a
property of the network, not of the unit; ``VARIANTS`` records it so networks can pick k.
v4 is the final BBCU: the activation sits on the binary branch, so negative values of the
residual path survive.

``padding`` chooses what the binarized input is padded with at the borders: ``"zero"`` (the
reference code pads the sign output with zeros) or ``"one"`` (+1, which LCE's bitpacked
kernels compute directly, with no correction term for the border pixels).

``options`` (``UnitOptions``) holds the training tricks of the proposal "Lossless
picture quality for binary neural networks in pixel-level tasks" (Ovcharenko, Zharikov): the sign-gradient estimator
of activations and weights, balanced weights, and a float attention on the binary branch. The
defaults are the BBCU reference's, and build exactly the graph of a unit without options.
"""

import logging
from dataclasses import dataclass

from lce_models.models import quantizers
from lce_models.models.bconv import BinaryConv2D
from lce_models.models.layers import (
    ChannelAttention,
    ChannelGroupMean,
    ChannelRepeat,
    LearnableBias,
    PixelShuffle,
    RPReLU,
    SpatialAttention,
)

import tf_keras as keras

# The reference code binarizes weights without clipping them (the clipped STE alone keeps them
# near [-1, 1]); larq warns about every such layer, which is noise here.
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)


@dataclass(frozen=True)
class UnitVariant:
    batch_norm: bool
    activation_on_branch: bool
    residual_alignment: bool


VARIANTS = {
    "v1": UnitVariant(batch_norm=True, activation_on_branch=False, residual_alignment=False),
    "v2": UnitVariant(batch_norm=False, activation_on_branch=False, residual_alignment=False),
    "v3": UnitVariant(batch_norm=False, activation_on_branch=False, residual_alignment=True),
    "v4": UnitVariant(batch_norm=False, activation_on_branch=True, residual_alignment=True),
}

#: Value of the border pixels of the binarized input, by padding name.
PADDINGS = {"zero": 0.0, "one": 1.0}
#: Float attention on the binary branch, by name.
ATTENTIONS = {"none": None, "channel": ChannelAttention, "spatial": SpatialAttention}


@dataclass(frozen=True)
class UnitOptions:
    """How a unit's binary convolution is trained, and what restricts its branch.

    Args:
        estimator: sign-gradient estimator of the activations (``quantizers.ESTIMATORS``);
            ``"approx"``, ApproxSign, is the BBCU reference's.
        weight_estimator: the same for the weights; ``"ste"`` is the reference's.
        balanced: standardise each filter before its sign (IR-Net's Libra-PB).
        weight_scale: ``"mean"`` (mean|W|) or ``"pow2"`` (rounded to a power of two).
        attention: ``"none"``, ``"channel"`` (squeeze-excitation, reduction 16) or
            ``"spatial"`` (CBAM's, one 3x3 conv) on the binary branch, before the residual add
            (the information restriction of IR2Net, Ping et al. 2022, applied to BBCU-V4).
        beta: SignSwish's beta, when an estimator is ``"swish"``.
    """

    estimator: str = "approx"
    weight_estimator: str = "ste"
    balanced: bool = False
    weight_scale: str = "mean"
    attention: str = "none"
    beta: float = 5.0

    def __post_init__(self):
        for name in (self.estimator, self.weight_estimator):
            quantizers.sign_estimator(name)  # raises for an unknown one
        if self.weight_scale not in quantizers.WEIGHT_SCALES:
            raise ValueError(f"unknown weight_scale {self.weight_scale!r}; "
                             f"choose from {', '.join(quantizers.WEIGHT_SCALES)}")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {self.attention!r}; choose from {', '.join(ATTENTIONS)}")
        if not isinstance(self.balanced, bool):
            raise ValueError(f"balanced must be true or false, not {self.balanced!r}")

    def input_quantizer(self):
        if self.estimator == "approx":
            return quantizers.ACTIVATION_QUANTIZER
        return quantizers.BinaryActivation(self.estimator, self.beta)

    def kernel_quantizer(self):
        if (self.weight_estimator, self.balanced, self.weight_scale) == ("ste", False, "mean"):
            return quantizers.WEIGHT_QUANTIZER
        return quantizers.BinaryWeight(self.weight_estimator, self.balanced, self.weight_scale, self.beta)


def binary_conv(filters, padding="zero", name=None, options=UnitOptions(), bias=False):
    """3x3 binary convolution: sign input, mean|W|-scaled sign weights, no bias; ``options``
    choose the gradient estimators and the weight balancing.

    Initialised like ``torch.nn.Conv2d`` (uniform, bound 1/sqrt(fan_in)), as the reference is.
    """
    return BinaryConv2D(
        filters,
        3,
        padding="same",
        pad_values=PADDINGS[padding],
        input_quantizer=options.input_quantizer(),
        kernel_quantizer=options.kernel_quantizer(),
        kernel_initializer=keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),
        use_bias=bias,
        name=name,
    )


def check_unit_options(variant, padding):
    if variant not in VARIANTS:
        raise ValueError(f"unknown BBCU variant {variant!r}; choose from {', '.join(VARIANTS)}")
    if padding not in PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; choose from {', '.join(PADDINGS)}")


class BBCU:
    """BBCU-B, the body unit: C channels in, C out, identity residual.

    Paper Eq. 8 (v4): ``X_out = RPReLU(BinConv(RSign(X_in))) + X_in``, where RSign is a learnable
    per-channel shift followed by sign (``LearnableBias`` + the conv's input quantizer).

    Args:
        variant: ``"v1"`` .. ``"v4"`` (see the module table); v4 is the paper's BBCU.
        padding: ``"zero"`` or ``"one"``, the border value of the binarized input.
        name: prefix of the Keras layer names; Keras picks unique names when None.
        options: ``UnitOptions``: estimators, balanced weights, attention.
        bias: a bias on the binary conv (the reference's JPEG network has one; BBCU's SR and
            denoising networks do not).
    """

    def __init__(self, variant="v4", padding="zero", name=None, options=UnitOptions(), bias=False):
        check_unit_options(variant, padding)
        self.variant = VARIANTS[variant]
        self.padding = padding
        self.name = name
        self.options = options
        self.bias = bias

    def _name(self, suffix):
        return f"{self.name}_{suffix}" if self.name else None

    def conv_filters(self, in_channels):
        return in_channels

    def branch_output(self, x):
        return x

    def residual(self, x):
        return x

    def __call__(self, x):
        v = self.variant
        y = LearnableBias(name=self._name("rsign_shift"))(x)
        y = binary_conv(self.conv_filters(x.shape[-1]), self.padding, self._name("bconv"), self.options, self.bias)(y)
        if v.batch_norm:
            # torch.nn.BatchNorm2d defaults: momentum 0.1 (Keras 0.9), eps 1e-5.
            y = keras.layers.BatchNormalization(
                momentum=0.9, epsilon=1e-5, name=self._name("bn")
            )(y)
        if v.activation_on_branch:
            y = RPReLU(name=self._name("rprelu"))(y)
        attention = ATTENTIONS[self.options.attention]
        if attention is not None:
            y = attention(name=self._name(f"{self.options.attention}_attention"))(y)
        y = self.branch_output(y)
        out = keras.layers.Add(name=self._name("add"))([y, self.residual(x)])
        if not v.activation_on_branch:
            out = RPReLU(name=self._name("rprelu"))(out)
        return out


class _ChannelChangingBBCU(BBCU):
    """A unit whose binary conv maps the input's channels to ``filters``."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters

    def conv_filters(self, in_channels):
        return self.filters


class BBCUHead(_ChannelChangingBBCU):
    """BBCU-H, the head: C_in image channels to ``filters``; residual is the input repeated
    along channels to ``filters`` (paper Sec. 3.3)."""

    def __init__(self, filters=64, **kwargs):
        super().__init__(filters, **kwargs)

    def residual(self, x):
        return ChannelRepeat(self.filters, name=self._name("repeat"))(x)


class BBCUUp(BBCU):
    """BBCU-U, the upsampler: binary conv to r*r*C channels, pixel shuffle by r; residual is the
    nearest-neighbour r-times upsampled input (paper Sec. 3.3, reference ``BinaryUpConv2d``)."""

    def __init__(self, factor=2, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def conv_filters(self, in_channels):
        return in_channels * self.factor**2

    def branch_output(self, x):
        return PixelShuffle(self.factor, name=self._name("shuffle"))(x)

    def residual(self, x):
        return keras.layers.UpSampling2D(self.factor, name=self._name("nearest"))(x)


class BBCUTail(_ChannelChangingBBCU):
    """BBCU-T, the tail: C features to ``filters`` output channels (e.g. 3); residual is the
    input averaged over ``filters`` contiguous channel groups, the mirror of BBCU-H's repeat."""

    def __init__(self, filters=3, **kwargs):
        super().__init__(filters, **kwargs)

    def residual(self, x):
        return ChannelGroupMean(self.filters, name=self._name("group_mean"))(x)


#: The part variants, by the paper's letter.
PARTS = {"B": BBCU, "H": BBCUHead, "U": BBCUUp, "T": BBCUTail}
