"""The bit-accumulation mechanism (BAM) of BSRN (Xin et al., "Binarized Neural Network for
Single Image Super Resolution", ECCV 2020), and the binary blocks built on it.

BAM lets the n-th binary convolution of a group see what the earlier ones saw, so that 1-bit
values accumulate towards full precision along the direction of inference:

* weights (paper Eq. 3-6): ``W_n^B = Sign(BN(a_1 T_1 + ... + a_n T_n)) * E(|W_n|)``, where
  E(|W_n|) is the per-output-channel mean of |W_n| (XNOR-Net's alpha) and the coefficients
  a_i minimise ``||W_n - sum_i a_i T_i||^2`` (Eq. 6), solved in closed form at every step;
* activations (Eq. 9-10): ``A_n^B = Sign(BN(b_1 A_1 + ... + b_n A_n))`` with
  ``b_i = b_i^scale * E(A_i)``, E the mean over channels (a spatial map), and only the scalar
  b_i^scale learned.

Choices where the paper is vague, each switchable through ``BAMOptions``:

``weight_terms="binary"``
    The terms T_i are the 1-bit weights of the earlier convolutions of the group (their final
    Sign(...), recursively accumulated) and T_n = Sign(W_n). The paper accumulates "the
    multi-layer's one-bit values"; and with latent float terms T_i = W_i (``"latent"``) the
    least-squares problem of Eq. 6 is solved exactly by a = (0, ..., 0, 1), so the mechanism
    would reduce to a plain binarization. With 1-bit terms it is ABC-Net's fit of a float
    tensor by a combination of binary bases, and it is not degenerate.
Coefficients per output channel
    Eq. 6 is solved for each output filter, like E(|W_n|), rather than once per layer.
``weight_norm="standardize"``
    BN of a weight tensor is read as a per-output-channel standardisation without learned
    affine parameters (a scale cannot change a sign; a learned shift would be a threshold the
    paper does not describe). Only the centring changes the sign; the division keeps the
    straight-through estimator's |x| <= 1 window a fixed share of each filter.
``reduce="center"``
    A 3x3 filter accumulates into a 1x1 filter through its centre tap, which keeps every term
    1-bit; ``"mean"`` uses the spatial mean (the 1x1 filter with the same response to a
    constant input) instead. A 1x1 filter never accumulates into a 3x3 one in BSRN's groups.
BN placement
    One BatchNorm per binary convolution, on the accumulated activation just before the sign
    (Eq. 10); none after the convolution. With it the x4 network has the paper's 1216 K
    parameters (see ``lce_models.models.registry``); a second BN per conv would add 11.5 K.

Gradients pass the signs straight through (larq's ``ste_sign``, clipped at |x| = 1), E(|W_n|)
and solved coefficients are held out of the gradient. At inference every accumulated weight is
a constant: ``lce_models.models.freezing.freeze`` replaces each ``BAMConv2D`` by a plain
``BinaryConv2D`` holding E(|W_n|) * Sign(...), which ``magnitude_aware_sign`` leaves
unchanged, so the LCE converter makes one ``LceBconv2d`` of it, and tf2onnx one ``Conv`` with
folded weights.

Measured caveat (docs/models.md, "Sign flips cascade"): a full-depth BSRN turns the rare sign that
float rounding flips between TensorFlow and LCE into a cascade over its 120 binary steps,
mostly through the weight accumulation; residual alignment (k = 130) damps it.
"""

from dataclasses import asdict, dataclass, fields
from types import SimpleNamespace

from lce_models.models import quantizers
from lce_models.models.bconv import BinaryConv2D
from lce_models.models.layers import register
from lce_models.models.units import PADDINGS

import larq as lq
import tensorflow as tf
import tf_keras as keras

WEIGHT_MODES = ("solved", "learned", "ones", "none")
ACTIVATION_MODES = ("learned", "ones", "none")
_CHOICES = {
    "weights": WEIGHT_MODES,
    "activations": ACTIVATION_MODES,
    "weight_terms": ("binary", "latent"),
    "weight_norm": ("standardize", "none"),
    "reduce": ("center", "mean"),
}


@dataclass(frozen=True)
class BAMOptions:
    """How weights and activations accumulate.

    Args:
        weights: coefficients a_i: ``"solved"`` (Eq. 6, the paper), ``"learned"`` (trainable,
            starting at a = e_n, i.e. no accumulation), ``"ones"`` (a_i = 1: ablation W1),
            ``"none"`` (no accumulation, Sign(BN(W_n)) * E|W_n|: ablation W2).
        activations: coefficients b_i: ``"learned"`` (b_i^scale * E(A_i), the paper),
            ``"ones"`` (b_i = 1: ablation A1), ``"none"`` (Sign(BN(A_n)): ablation A2).
        weight_terms, weight_norm, reduce: the choices of the module docstring.
    """

    weights: str = "solved"
    activations: str = "learned"
    weight_terms: str = "binary"
    weight_norm: str = "standardize"
    reduce: str = "center"

    def __post_init__(self):
        for f in fields(self):
            value, allowed = getattr(self, f.name), _CHOICES[f.name]
            if value not in allowed:
                raise ValueError(f"BAM {f.name} must be one of {', '.join(allowed)}, not {value!r}")

    def to_dict(self):
        return asdict(self)


#: The paper's BSRN, the learned-coefficient option, and the ablations of its Table 4.
VARIANTS = {
    "bam": BAMOptions(),
    "bam-learned": BAMOptions(weights="learned"),
    "w1": BAMOptions(weights="ones"),
    "w2": BAMOptions(weights="none"),
    "a1": BAMOptions(activations="ones"),
    "a2": BAMOptions(activations="none"),
}


def solve_coefficients(target, terms):
    """Paper Eq. 6 for each output channel: ``a = argmin ||target - sum_i a_i terms_i||^2``.

    ``target`` and each term are (kh, kw, c_in, c_out) kernels; returns a (n, c_out) tensor.
    A tiny ridge keeps the normal equations solvable when two 1-bit terms coincide.
    """
    c_out = target.shape[-1]
    bases = tf.stack([tf.reshape(t, (-1, c_out)) for t in terms], axis=-1)  # (K, c_out, n)
    bases = tf.transpose(bases, (1, 0, 2))
    rhs = tf.transpose(tf.reshape(target, (-1, c_out)))[..., None]  # (c_out, K, 1)
    a = tf.linalg.lstsq(bases, rhs, l2_regularizer=1e-6)
    return tf.stop_gradient(tf.transpose(a[..., 0]))


def _standardize(kernel):
    mean, variance = tf.nn.moments(kernel, axes=(0, 1, 2), keepdims=True)
    return (kernel - mean) * tf.math.rsqrt(variance + 1e-12)


def _fit_shape(kernel, shape, how):
    """A source filter brought to the spatial ``shape`` of the filter it accumulates into."""
    if tuple(kernel.shape[:2]) == tuple(shape):
        return kernel
    if tuple(shape) != (1, 1):
        raise ValueError(f"cannot accumulate a {kernel.shape[:2]} filter into a {shape} one")
    if how == "center":
        cy, cx = kernel.shape[0] // 2, kernel.shape[1] // 2
        return kernel[cy : cy + 1, cx : cx + 1]
    return tf.reduce_mean(kernel, axis=(0, 1), keepdims=True)


class BAMConv2D(BinaryConv2D):
    """Binary convolution whose weight accumulates those of ``sources`` (paper Eq. 3-6).

    The input is binarized by ``approx_sign`` like every binary conv of the package; the
    latent kernel is W_n, and the kernel the convolution uses is ``quantized_kernel()``.
    ``sources`` are the earlier ``BAMConv2D`` of the group, already built. Not serializable
    by config: networks are rebuilt from their ``NetworkConfig``.
    """

    def __init__(self, filters, kernel_size, sources=(), options=BAMOptions(), padding="zero",
                 **kwargs):
        super().__init__(
            filters,
            kernel_size,
            padding="same",
            pad_values=PADDINGS[padding],
            input_quantizer=quantizers.ACTIVATION_QUANTIZER,
            kernel_quantizer=None,
            kernel_initializer=keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform"),
            use_bias=False,
            **kwargs,
        )
        # Held outside Keras's attribute tracking: a tracked list of layers would make the
        # sources' weights this layer's too (counted and saved twice).
        self._group = SimpleNamespace(sources=tuple(sources) if options.weights != "none" else ())
        self.options = options

    @property
    def sources(self):
        return self._group.sources

    def build(self, input_shape):
        super().build(input_shape)
        if self.options.weights == "learned":
            n = len(self.sources) + 1
            start = tf.one_hot([n - 1] * self.filters, n, axis=0)  # a = e_n
            self.coefficients = self.add_weight(
                name="coefficients",
                shape=(n, self.filters),
                initializer=lambda shape, dtype=None: tf.cast(start, dtype or tf.float32),
            )

    def accumulated(self):
        """``sum_i a_i T_i`` of Eq. 3, before BN and Sign."""
        o = self.options
        # A tensor, not the variable: eager custom gradients (ste_sign) refuse variables.
        kernel = tf.convert_to_tensor(self.kernel)
        if not self.sources:
            return kernel
        latent = o.weight_terms == "latent"
        terms = [
            _fit_shape(tf.convert_to_tensor(s.kernel) if latent else s.binary_sign(),
                       kernel.shape[:2], o.reduce)
            for s in self.sources
        ]
        terms.append(kernel if latent else lq.quantizers.ste_sign(kernel))
        if o.weights == "solved":
            a = solve_coefficients(kernel, terms)
        elif o.weights == "learned":
            a = self.coefficients
        else:
            a = tf.ones((len(terms), self.filters))
        return tf.add_n([a[i] * t for i, t in enumerate(terms)])

    def binary_sign(self):
        """Sign(BN(sum_i a_i T_i)): this conv's 1-bit weight, before E(|W_n|)."""
        s = self.accumulated()
        if self.options.weight_norm == "standardize":
            s = _standardize(s)
        return lq.quantizers.ste_sign(s)

    def quantized_kernel(self):
        """The weight the convolution uses: Sign(BN(...)) * E(|W_n|) (paper Eq. 3)."""
        alpha = tf.reduce_mean(tf.abs(self.kernel), axis=(0, 1, 2))
        return self.binary_sign() * tf.stop_gradient(alpha)

    def convolution_op(self, inputs, kernel):
        # ``kernel`` is W_n through the layer's quantizer; the accumulated weight replaces it
        return super().convolution_op(inputs, self.quantized_kernel())

    def frozen(self):
        """A plain ``BinaryConv2D`` of the same shape and name, for ``freezing.freeze``."""
        return BinaryConv2D(
            self.filters,
            self.kernel_size,
            padding="same",
            pad_values=self.pad_values,
            input_quantizer=quantizers.ACTIVATION_QUANTIZER,
            kernel_quantizer=quantizers.WEIGHT_QUANTIZER,
            use_bias=False,
            name=self.name,
        )


@register
class ActivationAccumulator(keras.layers.Layer):
    """``sum_i b_i A_i`` of paper Eq. 9-10, from the list [A_1, ..., A_n] of full-precision
    inputs of a group's convolutions (same shape).

    ``mode="learned"``: b_i = b_i^scale * E(A_i), E the channel mean, b_i^scale a learned
    scalar starting at 1; ``"ones"``: b_i = 1 (ablation A1).
    """

    def __init__(self, mode="learned", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("learned", "ones"):
            raise ValueError(f"ActivationAccumulator mode must be learned or ones, not {mode!r}")
        self.mode = mode

    def build(self, input_shape):
        # A one-element list arrives unwrapped when Keras clones the model (``freeze``).
        n = len(input_shape) if isinstance(input_shape, (list, tuple)) else 1
        if self.mode == "learned":
            self.scales = self.add_weight(name="scales", shape=(n,), initializer="ones")
        super().build(input_shape)

    def call(self, activations):
        activations = activations if isinstance(activations, (list, tuple)) else [activations]
        if self.mode == "ones":
            return tf.add_n(activations)
        return tf.add_n(
            [self.scales[i] * tf.reduce_mean(a, axis=-1, keepdims=True) * a
             for i, a in enumerate(activations)]
        )

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class Group:
    """The convolutions of one accumulation group and their full-precision inputs so far."""

    def __init__(self):
        self.convs = []
        self.inputs = []

    def join(self, conv, x):
        self.convs.append(conv)
        self.inputs.append(x)


class BAMStep:
    """One binary step: ``x + BinConv(Sign(BN(accumulated activations)))``, the conv's weight
    and input accumulating over ``group`` (which it then joins, with any of ``also_join``).

    The full-precision shortcut around every binary conv keeps the float information path
    that binary SR networks need (Ma et al. 2019; Bi-Real Net).
    """

    def __init__(self, kernel_size, options=BAMOptions(), padding="zero", name=None):
        self.kernel_size = kernel_size
        self.options = options
        self.padding = padding
        self.name = name

    def __call__(self, x, group, also_join=()):
        o = self.options
        if o.activations == "none" or (o.activations == "ones" and not group.inputs):
            accumulated = x
        else:
            accumulated = ActivationAccumulator(o.activations, name=f"{self.name}_accumulate")(
                [*group.inputs, x]
            )
        # torch.nn.BatchNorm2d defaults: momentum 0.1 (Keras 0.9), eps 1e-5.
        y = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{self.name}_bn")(
            accumulated
        )
        conv = BAMConv2D(x.shape[-1], self.kernel_size, group.convs, o, self.padding,
                         name=f"{self.name}_bconv")
        y = conv(y)
        for g in (group, *also_join):
            g.join(conv, x)
        return keras.layers.Add(name=f"{self.name}_add")([x, y])


class LB:
    """BSRN's LB block: a 3x3 binary step then two 1x1 binary steps, accumulating within the
    block (short range); its 3x3 step accumulates over ``long_range``, the 3x3 steps of the
    earlier LB blocks of the same HPB block (long range)."""

    def __init__(self, options=BAMOptions(), padding="zero", name=None):
        self.options = options
        self.padding = padding
        self.name = name

    def __call__(self, x, long_range):
        short = Group()
        step = lambda k, i: BAMStep(k, self.options, self.padding, f"{self.name}_{i}")  # noqa: E731
        x = step(3, "conv3x3")(x, long_range, also_join=(short,))
        x = step(1, "conv1x1a")(x, short)
        return step(1, "conv1x1b")(x, short)


class HPB:
    """BSRN's HPB block: ``lbs`` LB blocks whose 3x3 filters and inputs accumulate across the
    block (the long-range accumulation). Channels in = channels out."""

    def __init__(self, lbs=2, options=BAMOptions(), padding="zero", name=None):
        self.lbs = lbs
        self.options = options
        self.padding = padding
        self.name = name

    def __call__(self, x):
        long_range = Group()
        for i in range(self.lbs):
            x = LB(self.options, self.padding, f"{self.name}_lb{i + 1}")(x, long_range)
        return x
