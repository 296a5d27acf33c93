"""The BBCU networks in PyTorch, computing what the Keras networks compute.

Parameter names and shapes are those of the reference code's checkpoints (``conv_first``,
``body.<b>.body.<u>.move0.bias``, ``...binary_conv.weight``, ``...relu.pr_prelu.weight``, the
binary DnCNN's ``model.<i>``), so that a reference checkpoint loads with ``load_state_dict``.
The maths is the Keras units' (``lce_models.models.units``), which differ from the reference in two
details that LCE imposes: sign(0) = +1 (larq's sign; ``torch.sign`` gives 0), and the weight
gradient is larq's ``magnitude_aware_sign`` (mean|W| times the clipped STE) where the
reference's clamp passes the unscaled one. The border of the binarized input is 0
(``padding="zero"``, the reference's) or +1 (``"one"``).
"""

import torch
import torch.nn.functional as F
from torch import nn

#: Border value of the binarized input, by padding name (``lce_models.models.units.PADDINGS``).
PADDINGS = {"zero": 0.0, "one": 1.0}
#: Significant bits kept of alpha (``lce_models.models.bconv.ALPHA_BITS``; TensorFlow-free here).
ALPHA_BITS = 12


class _Sign(torch.autograd.Function):
    """Sign forward with sign(0) = +1 (larq's and LCE's); the gradient is ``derivative``."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @classmethod
    def backward(cls, ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * cls.derivative(x)


class ApproxSign(_Sign):
    """Bi-Real's ApproxSign gradient ``2 - 2|x|`` on [-1, 1] (Liu et al., ECCV 2018, Eq. 6),
    larq's ``approx_sign``."""

    @staticmethod
    def derivative(x):
        return torch.clamp(2.0 - 2.0 * x.abs(), min=0.0)


class SteSign(_Sign):
    """The clipped straight-through gradient on [-1, 1] (larq's ``ste_sign``)."""

    @staticmethod
    def derivative(x):
        return (x.abs() <= 1.0).to(x.dtype)


def rounded_alpha(alpha):
    """``alpha`` (float32, >= 0) rounded to ``ALPHA_BITS`` significant bits, halves up, on its
    bit pattern: ``lce_models.models.bconv.rounded_alpha``, which the Keras convs multiply by."""
    dropped = 24 - ALPHA_BITS
    bits = alpha.float().contiguous().view(torch.int32)
    return ((bits + (1 << (dropped - 1))) & -(1 << dropped)).view(torch.float32).to(alpha.dtype)


def magnitude_aware_sign(w):
    """larq's ``magnitude_aware_sign`` of an (O, I, kh, kw) kernel: mean|W| per output channel
    (held constant for the gradient, and rounded as the Keras conv's) times sign(W) (XNOR-Net's
    alpha, BBCU Eq. 2)."""
    alpha = rounded_alpha(w.abs().mean(dim=(1, 2, 3), keepdim=True).detach())
    return alpha * SteSign.apply(w)


class LearnableBias(nn.Module):
    """Per-channel shift ``x + b`` (ReActNet's RSign threshold and RPReLU's shifts)."""

    def __init__(self, channels):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x):
        return x + self.bias


class RPReLU(nn.Module):
    """ReActNet's RPReLU: shift, PReLU (slope 0.25 at start), shift."""

    def __init__(self, channels):
        super().__init__()
        self.pr_bias0 = LearnableBias(channels)
        self.pr_prelu = nn.PReLU(channels)
        self.pr_bias1 = LearnableBias(channels)

    def forward(self, x):
        return self.pr_bias1(self.pr_prelu(self.pr_bias0(x)))


class HardBinaryConv(nn.Conv2d):
    """3x3 conv of a binarized input with mean|W|-scaled sign weights; the input's border is
    ``pad_value``."""

    def __init__(self, in_channels, out_channels, pad_value=0.0, bias=False):
        super().__init__(in_channels, out_channels, 3, padding=0, bias=bias)
        self.pad_value = pad_value
        if bias:
            self.bias.data.zero_()  # as the Keras conv's

    def forward(self, x):
        x = F.pad(x, (1, 1, 1, 1), value=self.pad_value)
        return F.conv2d(x, magnitude_aware_sign(self.weight), self.bias)


class BinaryConv2d(nn.Module):
    """BBCU-B, paper Eq. 8: ``RPReLU(BinConv(sign(x + b))) + x`` (``lce_models.models.units.BBCU``)."""

    def __init__(self, channels, pad_value=0.0, bias=False):
        super().__init__()
        self.move0 = LearnableBias(channels)
        self.binary_conv = HardBinaryConv(channels, channels, pad_value, bias)
        self.relu = RPReLU(channels)

    def branch(self, x):
        return self.relu(self.binary_conv(ApproxSign.apply(self.move0(x))))

    def forward(self, x):
        return self.branch(x) + x


class BinaryUpConv2d(BinaryConv2d):
    """BBCU-U: the branch widens to r*r*C channels and pixel-shuffles by r; the residual is the
    nearest-neighbour upsampled input (``lce_models.models.units.BBCUUp``)."""

    def __init__(self, channels, factor, pad_value=0.0):
        super().__init__(channels, pad_value)
        self.binary_conv = HardBinaryConv(channels, channels * factor * factor, pad_value)
        self.relu = RPReLU(channels * factor * factor)
        self.factor = factor

    def forward(self, x):
        out = F.pixel_shuffle(self.branch(x), self.factor)
        return out + F.interpolate(x, scale_factor=self.factor, mode="nearest")


class BinaryBlock(nn.Module):
    """Two BBCU-B units (the reference's ``BinaryBlock``; no residual of its own)."""

    def __init__(self, channels, pad_value=0.0):
        super().__init__()
        self.body = nn.Sequential(BinaryConv2d(channels, pad_value), BinaryConv2d(channels, pad_value))

    def forward(self, x):
        return self.body(x)


def upsample_factors(scale):
    # lce_models.models.common.upsample_factors: x4 is two x2 stages
    return (2, 2) if scale == 4 else (scale,)


def init_float_conv(conv):
    """BasicSR's ``default_init_weights(..., 0.1)``: Kaiming normal (fan_in) times 0.1, zero
    bias; the Keras networks' ``float_conv`` initialiser (``lce_models.models.common``)."""
    nn.init.kaiming_normal_(conv.weight)
    conv.weight.data *= 0.1
    if conv.bias is not None:
        conv.bias.data.zero_()
    return conv


class BBCUSR(nn.Module):
    """BBCU-L (``binary_upsampler=False``: float upsampler and HR conv) or BBCU-M (binary
    ``BinaryUpConv2d`` upsamplers and a binary ``conv_hr``) on MSRResNet's topology, with the
    bilinear upscaled input added to the output and the image scaled by ``k``
    (``lce_models.models.bbcu.bbcu_l`` / ``bbcu_m``)."""

    def __init__(self, scale=4, channels=3, n_feats=64, depth=16, k=130.0, binary_upsampler=False,
                 padding="zero"):
        super().__init__()
        pad = PADDINGS[padding]
        self.scale, self.k = scale, k
        self.conv_first = init_float_conv(nn.Conv2d(channels, n_feats, 3, padding=1))
        self.body = nn.Sequential(*(BinaryBlock(n_feats, pad) for _ in range(depth)))
        factors = upsample_factors(scale)
        if binary_upsampler:
            for i, r in enumerate(factors, 1):
                setattr(self, f"upconv{i}", BinaryUpConv2d(n_feats, r, pad))
            self.conv_hr = BinaryConv2d(n_feats, pad)
        else:
            for i, r in enumerate(factors, 1):
                setattr(self, f"upconv{i}", init_float_conv(nn.Conv2d(n_feats, n_feats * r * r, 3, padding=1)))
            self.conv_hr = init_float_conv(nn.Conv2d(n_feats, n_feats, 3, padding=1))
        self.conv_last = init_float_conv(nn.Conv2d(n_feats, channels, 3, padding=1))
        self.factors = factors
        self.binary_upsampler = binary_upsampler

    def forward(self, image):
        x = image * self.k
        feat = F.leaky_relu(self.conv_first(x), 0.1)
        feat = self.body(feat)
        for i, r in enumerate(self.factors, 1):
            up = getattr(self, f"upconv{i}")
            feat = up(feat) if self.binary_upsampler else F.leaky_relu(F.pixel_shuffle(up(feat), r), 0.1)
        out = self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.1))
        out = out + F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return out / self.k


class BBCUDnCNN(nn.Module):
    """The binary DnCNN of the reference (``network_dncnn_bin.DnCNN``, ``nb = depth + 2``):
    float head conv + ReLU, ``depth`` BBCU-B units, float tail conv, without bias (with one on
    every conv for the JPEG network, ``network_dncnn3_bin``); output = input - predicted noise,
    in the k-scaled domain (``lce_models.models.bbcu.bbcu_dncnn``)."""

    def __init__(self, channels=3, n_feats=64, depth=18, k=130.0, padding="zero", bias=False):
        super().__init__()
        pad = PADDINGS[padding]
        self.k = k
        self.model = nn.Sequential(
            init_float_conv(nn.Conv2d(channels, n_feats, 3, padding=1, bias=bias)),
            nn.ReLU(),
            *(BinaryConv2d(n_feats, pad, bias) for _ in range(depth)),
            init_float_conv(nn.Conv2d(n_feats, channels, 3, padding=1, bias=bias)),
        )

    def forward(self, image):
        x = image * self.k
        return (x - self.model(x)) / self.k


#: The networks with a twin: task and defaults, those of ``NetworkConfig(name).resolved()``
#: (a test keeps them equal), here so that training needs no TensorFlow.
NETWORKS = {
    "bbcu-l": {"task": "sr", "scale": 4, "channels": 3, "n_feats": 64, "depth": 16, "k": 130.0},
    "bbcu-m": {"task": "sr", "scale": 4, "channels": 3, "n_feats": 64, "depth": 16, "k": 130.0},
    "bbcu-dn": {"task": "denoise", "scale": 1, "channels": 3, "n_feats": 64, "depth": 18, "k": 130.0},
    "bbcu-car": {"task": "jpeg", "scale": 1, "channels": 1, "n_feats": 64, "depth": 18, "k": 130.0, "bias": True},
}


def build(network):
    """The twin of a network dict (``NetworkConfig.to_dict()`` of a resolved config)."""
    n = network
    if NETWORKS[n["name"]]["task"] == "sr":
        return BBCUSR(n["scale"], n["channels"], n["n_feats"], n["depth"], n["k"],
                      binary_upsampler=n["name"] == "bbcu-m", padding=n["padding"])
    return BBCUDnCNN(n["channels"], n["n_feats"], n["depth"], n["k"], padding=n["padding"],
                     bias=NETWORKS[n["name"]].get("bias", False))
