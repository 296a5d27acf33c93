"""Whole networks, built by name from a ``NetworkConfig``.

=============  ====================  =========================================================
name           task                  topology
=============  ====================  =========================================================
bbcu-l         SR x2/x3/x4           float head + LReLU, 16 blocks of two BBCU units, float
                                     pixel-shuffle upsampler, float HR and last conv, bilinear
                                     global residual, residual alignment k (paper Sec. 4.1)
bbcu-m         SR x2/x3/x4           as bbcu-l with a binary upsampler (BBCU-U) and a binary
                                     HR conv (BBCU-B)
srresnet-fp    SR x2/x3/x4           the same topology in float: 16 residual blocks
                                     conv-ReLU-conv (MSRResNet of BasicSR), the float baseline
bbcu-att       SR x2/x3/x4           bbcu-l whose units put a float attention on the binary
                                     branch (channel by default, or spatial), with the
                                     estimator and weight balancing of its ``unit_options``
srresnet-bw    SR x2/x3/x4           srresnet-fp with 1-bit residual-block weights and a
                                     learned gain per layer, float activations (Ma et al.)
bbcu-dn        denoising             DnCNN: float head conv + ReLU, 18 BBCU units, float tail
                                     conv, output = input - predicted noise, k
bbcu-car       JPEG artifacts        the same DnCNN with a bias on every conv, binary ones
                                     included (reference ``network_dncnn3_bin``), grayscale
bsrn           SR x2/x3/x4           BSRN (Xin et al., ECCV 2020): float head conv, 20 HPB
                                     blocks of 2 LB blocks with bit accumulation
                                     (``lce_models.bam``), float body-end conv + long skip,
                                     float conv + pixel-shuffle upsampler, float last conv;
                                     48 features
srresnet-bam   SR x2/x3/x4           SRResNet_BAM of the same paper: 9x9 float head + PReLU,
                                     16 residual blocks of two 3x3 BAM steps (accumulating
                                     within the block), float conv + long skip, conv +
                                     pixel-shuffle + PReLU upsampler, 9x9 float last conv
=============  ====================  =========================================================

The BAM networks of the paper are EDSR-style (``global_residual="none"``): with the paper's
block counts their totals are the paper's Table 3 (``tools/complexity.py``). Two departures
from the paper are defaults, each measured here, and each undone by one option.
``bsrn`` scales the image by k = 130 (BBCU's residual alignment; ``k=1`` is the paper's): it
trains faster and keeps the LCE flatbuffer within 50 dB of Keras, which k = 1 does not
(README, "Sign flips cascade in full-depth BSRN"). The BAM networks add the bilinear upscaled
input to their output, as BBCU does (``global_residual="none"`` is the paper's): from scratch
on T91 + BSD200 (batch 8, LR patch 24), ``bsrn`` x4 reached 29.29 dB on Set5 after 100 steps
with it and 24.94 dB without, below bicubic; ``training/README.md`` has the runs. VDSR_BAM is not offered: VDSR
works on a bicubic-upscaled input, and TFLite has no bicubic resize to put inside the graph.

Models take float32 images in [0, 1], NHWC, and return the same.
"""

from dataclasses import asdict, dataclass, field, fields, replace

import tf_keras as keras

import math

import larq as lq

from lce_models import bam
from lce_models.layers import Gain, LearnableBias, PixelShuffle
from lce_models.units import BBCU, PADDINGS, VARIANTS, BBCUUp, UnitOptions, check_unit_options


GLOBAL_RESIDUALS = ("bilinear", "none")


class ConfigurationError(ValueError):
    """A network configuration that cannot be built (one clear line, for the tools to print)."""


@dataclass(frozen=True)
class NetworkSpec:
    task: str
    scales: tuple
    channels: int
    depth: int
    family: str  # "bbcu" | "bam" | "float": which unit variants apply
    description: str
    builder: object = field(repr=False)
    n_feats: int = 64
    k: float | None = None  # residual alignment, when the family's rule does not set it
    unit_defaults: tuple = ()  # (field, value) pairs of UnitOptions that differ from BBCU's

    @property
    def binary(self):
        return self.family != "float"


@dataclass(frozen=True)
class NetworkConfig:
    """Everything that fixes a network's graph; JSON-friendly (``asdict``).

    Fields left as None take the network's default: ``scale`` 4 for SR (1 otherwise),
    ``channels``, ``n_feats`` and ``depth`` from the registry, ``variant`` v4 for BBCU networks
    (``lce_models.units``) and ``bam`` for BAM networks (``lce_models.bam``: the paper's BSRN
    or an ablation of its Table 4), ``k = 130 * n_feats / 64`` for BBCU networks whose variant
    uses residual alignment (paper Sec. 3.2), else 1. ``bam_options`` overrides fields of the
    variant's ``BAMOptions`` (resolved to all of them). ``global_residual`` is what an SR
    network adds to its prediction: ``"bilinear"``, the upscaled input (BBCU SR, srresnet-fp
    and, by default, the BAM networks), or ``"none"`` (EDSR-style, the BAM papers' networks).
    ``unit_options`` overrides fields of a BBCU network's ``UnitOptions`` (estimators,
    balanced weights, attention; resolved to all of them). ``depth`` counts blocks of two units
    for BBCU SR, units for DnCNN, HPB blocks for BSRN, residual blocks for SRResNet_BAM.
    """

    name: str
    scale: int | None = None
    channels: int | None = None
    n_feats: int | None = None
    depth: int | None = None
    variant: str | None = None
    padding: str = "zero"
    k: float | None = None
    bam_options: dict | None = None
    global_residual: str | None = None
    unit_options: dict | None = None

    def resolved(self):
        """The same config with every default filled in, after validation."""
        spec = NETWORKS.get(self.name)
        if spec is None:
            raise ConfigurationError(
                f"unknown network {self.name!r}; choose from {', '.join(NETWORKS)}"
            )
        scale = self.scale if self.scale is not None else (4 if spec.task == "sr" else 1)
        if scale not in spec.scales:
            allowed = ", ".join(str(s) for s in spec.scales)
            raise ConfigurationError(f"{self.name} supports scale {allowed}, not {scale}")
        variant, bam_options = self._resolved_variant(spec)
        channels = self.channels or spec.channels
        if channels not in (1, 3):
            raise ConfigurationError(f"channels must be 1 (gray) or 3 (RGB), not {channels}")
        n_feats = self.n_feats or spec.n_feats
        if n_feats < channels or (self.depth is not None and self.depth < 1):
            raise ConfigurationError("n_feats must be >= channels and depth >= 1")
        k = self.k if self.k is not None else spec.k
        if k is None:
            aligned = spec.family == "bbcu" and VARIANTS[variant].residual_alignment
            k = 130.0 * n_feats / 64 if aligned else 1.0
        return replace(
            self, scale=scale, channels=channels, n_feats=n_feats, depth=self.depth or spec.depth,
            variant=variant, k=float(k), bam_options=bam_options,
            global_residual=self._resolved_global_residual(spec),
            unit_options=self._resolved_unit_options(spec),
        )

    def _resolved_unit_options(self, spec):
        if spec.family != "bbcu":
            if self.unit_options is not None:
                raise ConfigurationError(f"{self.name} has no BBCU units: no unit_options")
            return None
        try:
            return asdict(UnitOptions(**{**dict(spec.unit_defaults), **(self.unit_options or {})}))
        except (TypeError, ValueError) as e:
            raise ConfigurationError(f"unit_options: {e}") from None

    def _resolved_global_residual(self, spec):
        if spec.task != "sr":
            if self.global_residual is not None:
                raise ConfigurationError(f"{self.name} subtracts its predicted noise: no global_residual")
            return None
        if spec.family != "bam":
            if self.global_residual not in (None, "bilinear"):
                raise ConfigurationError(f"{self.name} always adds the bilinear upscaled input")
            return "bilinear"
        if self.global_residual not in (None, *GLOBAL_RESIDUALS):
            raise ConfigurationError(
                f"global_residual must be one of {', '.join(GLOBAL_RESIDUALS)}, "
                f"not {self.global_residual!r}"
            )
        return self.global_residual or "bilinear"

    def _resolved_variant(self, spec):
        if spec.family != "bam" and self.bam_options is not None:
            raise ConfigurationError(f"{self.name} has no bit accumulation: no bam_options")
        if spec.family == "float":
            if (self.variant, self.padding) != (None, "zero"):
                raise ConfigurationError(f"{self.name} is a float network: no variant or padding")
            return None, None
        if spec.family == "bbcu":
            variant = self.variant or "v4"
            try:
                check_unit_options(variant, self.padding)
            except ValueError as e:
                raise ConfigurationError(str(e)) from None
            return variant, None
        variant = self.variant or "bam"
        if variant not in bam.VARIANTS:
            raise ConfigurationError(
                f"unknown BAM variant {variant!r}; choose from {', '.join(bam.VARIANTS)}"
            )
        if self.padding not in PADDINGS:
            raise ConfigurationError(
                f"unknown padding {self.padding!r}; choose from {', '.join(PADDINGS)}"
            )
        try:
            options = replace(bam.VARIANTS[variant], **(self.bam_options or {}))
        except (TypeError, ValueError) as e:
            raise ConfigurationError(f"bam_options: {e}") from None
        return variant, options.to_dict()

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        """The config a card or run.json describes. Keys of other versions are dropped; a BAM
        network described before ``global_residual`` existed had none."""
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        if "global_residual" not in d and getattr(NETWORKS.get(d.get("name")), "family", "") == "bam":
            d["global_residual"] = "none"
        return cls(**d)


def build_model(config, input_shape=(None, None), batch_size=None):
    """Build the Keras model of ``config`` (a ``NetworkConfig`` or a network name).

    ``input_shape`` is the LR (H, W); leave None for training on any size, fix it (and
    ``batch_size=1``) for conversion to TFLite.
    """
    if isinstance(config, str):
        config = NetworkConfig(config)
    config = config.resolved()
    spec = NETWORKS[config.name]
    inputs = keras.Input((*input_shape, config.channels), batch_size=batch_size, name="image")
    outputs = spec.builder(inputs, config)
    model = keras.Model(inputs, outputs, name=f"{config.name}_x{config.scale}")
    model.config = config
    return model


def _float_conv(filters, name, use_bias=True, size=3):
    # BasicSR's default_init_weights: Kaiming normal (fan_in, ReLU gain) scaled by 0.1.
    return keras.layers.Conv2D(
        filters,
        size,
        padding="same",
        use_bias=use_bias,
        kernel_initializer=keras.initializers.VarianceScaling(0.02, "fan_in", "untruncated_normal"),
        name=name,
    )


def _lrelu(name):
    return keras.layers.LeakyReLU(0.1, name=name)


def _upsample_factors(scale):
    # x4 is two x2 stages, as in the reference code; x2 and x3 one stage.
    return (2, 2) if scale == 4 else (scale,)


def _binary_weight_conv(filters, name):
    """3x3 conv with 1-bit weights and full-precision inputs (Ma et al., CVPR-W 2019):
    sign(W) (clipped STE) times a learned per-layer gain, then a bias. The gain starts where
    ``_float_conv``'s initial weights put the output's scale."""

    def apply(x):
        fan_in = 9 * int(x.shape[-1])
        conv = lq.layers.QuantConv2D(filters, 3, padding="same", kernel_quantizer="ste_sign", use_bias=False,
                                     kernel_initializer=keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),
                                     name=name)
        y = Gain(math.sqrt(0.02 / fan_in), name=f"{name}_gain")(conv(x))
        return LearnableBias(name=f"{name}_bias")(y)

    return apply


def _float_residual_block(x, filters, name, binary_weights=False):
    conv = _binary_weight_conv if binary_weights else _float_conv
    y = conv(filters, f"{name}_conv1")(x)
    y = keras.layers.ReLU(name=f"{name}_relu")(y)
    y = conv(filters, f"{name}_conv2")(y)
    return keras.layers.Add(name=f"{name}_add")([x, y])


def _sr_network(image, c, body, binary_upsampler):
    """MSRResNet's topology; ``body`` is ``"bbcu"`` (two BBCU units a block), ``"float"`` or
    ``"binary-weight"`` (residual blocks conv-ReLU-conv)."""
    n = c.n_feats
    x = keras.layers.Rescaling(c.k, name="align_in")(image)
    feat = _lrelu("head_lrelu")(_float_conv(n, "head_conv")(x))
    unit = dict(variant=c.variant, padding=c.padding,
                options=UnitOptions(**c.unit_options) if c.unit_options else UnitOptions())
    for b in range(c.depth):
        if body == "bbcu":
            for u in (1, 2):
                feat = BBCU(**unit, name=f"block{b + 1:02d}_unit{u}")(feat)
        else:
            feat = _float_residual_block(feat, n, f"block{b + 1:02d}", binary_weights=body == "binary-weight")
    for i, r in enumerate(_upsample_factors(c.scale), 1):
        if binary_upsampler:
            feat = BBCUUp(factor=r, **unit, name=f"up{i}")(feat)
        else:
            feat = _float_conv(n * r * r, f"up{i}_conv")(feat)
            feat = _lrelu(f"up{i}_lrelu")(PixelShuffle(r, name=f"up{i}_shuffle")(feat))
    if binary_upsampler:
        feat = BBCU(**unit, name="hr")(feat)
    else:
        feat = _float_conv(n, "hr_conv")(feat)
    out = _float_conv(c.channels, "last_conv")(_lrelu("hr_lrelu")(feat))
    return keras.layers.Rescaling(1.0 / c.k, name="align_out")(_global_residual(out, x, c))


def _global_residual(out, x, c):
    """``out`` plus the bilinear upscaled input ``x`` when ``c.global_residual`` asks."""
    if c.global_residual == "none":
        return out
    base = keras.layers.UpSampling2D(c.scale, interpolation="bilinear", name="base")(x)
    return keras.layers.Add(name="global_residual")([out, base])


def bbcu_l(image, config):
    """BBCU-L: binary body, float upsampler and tail (paper Table 1). As ``bbcu-att``, its
    units carry a float attention on the binary branch (``UnitOptions.attention``)."""
    return _sr_network(image, config, body="bbcu", binary_upsampler=False)


def bbcu_m(image, config):
    """BBCU-M: binary body, upsampler (BBCU-U) and HR conv (BBCU-B) (paper Table 1)."""
    return _sr_network(image, config, body="bbcu", binary_upsampler=True)


def srresnet_fp(image, config):
    """MSRResNet, the float network BBCU-L is binarized from."""
    return _sr_network(image, config, body="float", binary_upsampler=False)


def srresnet_bw(image, config):
    """The binary-weight SRResNet of Ma et al. (CVPR-W 2019): the residual blocks' conv
    weights are 1-bit, scaled by a learned gain per layer; activations stay full precision.

    No convolution has binary inputs, so LCE has no bitserial kernel for it: its converter
    emits float CONV_2D ops whose weights are the constants +-1 (with the gain as a MUL, or
    folded into them as +-alpha). Only storage shrinks (1 bit per weight when packed, which
    the float flatbuffer does not do); the op census shows it."""
    return _sr_network(image, config, body="binary-weight", binary_upsampler=False)


def bbcu_dncnn(image, config, bias=False):
    """DnCNN with BBCU units (reference ``network_dncnn_bin.DnCNN``): predicts the noise or
    the compression residual and subtracts it from the (k-scaled) input. ``bias``: every conv
    has one, binary ones included (``bbcu_dncnn3``)."""
    x = keras.layers.Rescaling(config.k, name="align_in")(image)
    feat = _float_conv(config.n_feats, "head_conv", use_bias=bias)(x)
    feat = keras.layers.ReLU(name="head_relu")(feat)
    for u in range(config.depth):
        feat = BBCU(config.variant, config.padding, name=f"unit{u + 1:02d}",
                    options=UnitOptions(**config.unit_options), bias=bias)(feat)
    noise = _float_conv(config.channels, "tail_conv", use_bias=bias)(feat)
    out = keras.layers.Subtract(name="remove_noise")([x, noise])
    return keras.layers.Rescaling(1.0 / config.k, name="align_out")(out)


def bbcu_dncnn3(image, config):
    """The reference's JPEG network (``network_dncnn3_bin.DnCNN``): ``bbcu_dncnn`` with a bias
    on the head, tail and every binary conv, so that its checkpoints import."""
    return bbcu_dncnn(image, config, bias=True)


def _bam_sr_network(image, c, body, head_size, activation):
    """EDSR-style SR skeleton around a binary ``body``: float head, float body-end conv with
    a long skip, float conv + pixel-shuffle upsampler, float last conv. ``activation(name)``
    makes the float activation after the head and each upsampler stage (None: none)."""
    x = keras.layers.Rescaling(c.k, name="align_in")(image) if c.k != 1 else image
    act = activation or (lambda name: lambda t: t)
    head = act("head_act")(_float_conv(c.n_feats, "head_conv", size=head_size)(x))
    feat = _float_conv(c.n_feats, "body_end_conv")(body(head))
    feat = keras.layers.Add(name="long_skip")([head, feat])
    for i, r in enumerate(_upsample_factors(c.scale), 1):
        feat = _float_conv(c.n_feats * r * r, f"up{i}_conv")(feat)
        feat = act(f"up{i}_act")(PixelShuffle(r, name=f"up{i}_shuffle")(feat))
    out = _global_residual(_float_conv(c.channels, "last_conv", size=head_size)(feat), x, c)
    return keras.layers.Rescaling(1.0 / c.k, name="align_out")(out) if c.k != 1 else out


def bsrn(image, config):
    """BSRN (Xin et al., ECCV 2020, Sec. 3.3 and Fig. 3): ``depth`` HPB blocks of two LB
    blocks, bit accumulation in weights and activations; float head, tail and upsampler."""
    options = bam.BAMOptions(**config.bam_options)

    def body(x):
        for b in range(config.depth):
            x = bam.HPB(2, options, config.padding, name=f"hpb{b + 1:02d}")(x)
        return x

    return _bam_sr_network(image, config, body, head_size=3, activation=None)


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

    return _bam_sr_network(image, config, body, head_size=9, activation=prelu)


NETWORKS = {
    "bbcu-l": NetworkSpec("sr", (2, 3, 4), 3, 16, "bbcu", "BBCU-L super-resolution", bbcu_l),
    "bbcu-m": NetworkSpec("sr", (2, 3, 4), 3, 16, "bbcu", "BBCU-M super-resolution", bbcu_m),
    "srresnet-fp": NetworkSpec(
        "sr", (2, 3, 4), 3, 16, "float", "float SRResNet baseline", srresnet_fp
    ),
    "bbcu-att": NetworkSpec(
        "sr", (2, 3, 4), 3, 16, "bbcu", "BBCU-L with channel attention on each binary branch", bbcu_l,
        unit_defaults=(("attention", "channel"),),
    ),
    "srresnet-bw": NetworkSpec(
        "sr", (2, 3, 4), 3, 16, "float", "SRResNet with binary weights (Ma et al. 2019)", srresnet_bw
    ),
    "bbcu-dn": NetworkSpec("denoise", (1,), 3, 18, "bbcu", "BBCU DnCNN denoiser", bbcu_dncnn),
    "bbcu-car": NetworkSpec(
        "jpeg", (1,), 1, 18, "bbcu", "BBCU DnCNN JPEG artifact removal", bbcu_dncnn3
    ),
    "bsrn": NetworkSpec(
        "sr", (2, 3, 4), 3, 20, "bam", "BSRN bit-accumulation super-resolution", bsrn,
        n_feats=48, k=130.0,
    ),
    "srresnet-bam": NetworkSpec(
        "sr", (2, 3, 4), 3, 16, "bam", "SRResNet with bit accumulation", srresnet_bam
    ),
}
