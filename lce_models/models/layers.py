"""Small float layers that the binary units and networks are made of.

Each one lowers to plain TFLite builtins (ADD, PRELU, DEPTH_TO_SPACE, GATHER, FULLY_CONNECTED),
so none of them blocks the LCE converter or needs a custom op at run time.
"""

import numpy as np
import tensorflow as tf
import tf_keras as keras

register = keras.utils.register_keras_serializable(package="lce_models")


@register
class LearnableBias(keras.layers.Layer):
    """Per-channel learnable shift ``x + b``, zero-initialised.

    Before a sign it is the learnable threshold of ReActNet's RSign (Liu et al., ECCV 2020,
    Eq. 1); it is also the two shifts of RPReLU.
    """

    def build(self, input_shape):
        self.bias = self.add_weight(
            name="bias", shape=(input_shape[-1],), initializer="zeros", trainable=True
        )
        super().build(input_shape)

    def call(self, x):
        return x + self.bias


@register
class RPReLU(keras.layers.Layer):
    """ReActNet's RPReLU (Liu et al., ECCV 2020, Eq. 3): ``PReLU(x - gamma) + zeta``.

    Per-channel shift, PReLU with a per-channel slope (0.25 at start, as ``torch.nn.PReLU``),
    per-channel shift. Built from the Keras PReLU, whose form the TFLite converter matches to
    one PRELU op (a hand-written relu(y) - a * relu(-y) is left as five ops). The sublayers
    build on first call, inside this layer's name scope, so weight names stay unique.
    """

    def __init__(self, alpha_initializer=0.25, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = alpha_initializer
        self.shift_in = LearnableBias(name="shift_in")
        self.prelu = keras.layers.PReLU(
            alpha_initializer=keras.initializers.Constant(alpha_initializer),
            shared_axes=[1, 2],
            name="prelu",
        )
        self.shift_out = LearnableBias(name="shift_out")

    def call(self, x):
        return self.shift_out(self.prelu(self.shift_in(x)))

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": self.alpha_initializer}


@register
class PixelShuffle(keras.layers.Layer):
    """Sub-pixel upsampling (Shi et al., CVPR 2016): (H, W, r*r*C) -> (r*H, r*W, C).

    TensorFlow's ``depth_to_space`` (one TFLite op). Its channel order is (dy, dx, c), not the
    (c, dy, dx) of ``torch.nn.PixelShuffle``: weights imported from PyTorch must be permuted.
    """

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, x):
        return tf.nn.depth_to_space(x, self.factor)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@register
class ChannelRepeat(keras.layers.Layer):
    """Widen C channels to ``channels`` by repeating each one (the BBCU-H residual).

    Channel i of the output is input channel ``i // (channels // C)`` while that is < C, then
    the first ``channels % C`` input channels again: ``torch.repeat_interleave`` followed by
    concatenation, as in the reference code (64 = 3 * 21 + 1). One GATHER op.
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)

    def build(self, input_shape):
        c = int(input_shape[-1])
        if self.channels < c:
            raise ValueError(f"ChannelRepeat cannot narrow {c} channels to {self.channels}")
        rep = self.channels // c
        self.index = [i // rep for i in range(rep * c)] + list(range(self.channels % c))
        super().build(input_shape)

    def call(self, x):
        return tf.gather(x, self.index, axis=-1)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


@register
class ChannelGroupMean(keras.layers.Layer):
    """Narrow C channels to ``channels`` by averaging contiguous groups (the BBCU-T residual).

    Input channel i belongs to group ``i * channels // C``; groups differ in size by at most
    one when C is not a multiple of ``channels``. A fixed matrix product (FULLY_CONNECTED).
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)

    def build(self, input_shape):
        c = int(input_shape[-1])
        if self.channels > c:
            raise ValueError(f"ChannelGroupMean cannot widen {c} channels to {self.channels}")
        group = np.arange(c) * self.channels // c
        matrix = (group[:, None] == np.arange(self.channels)[None, :]).astype("float32")
        self.matrix = tf.constant(matrix / matrix.sum(axis=0, keepdims=True))
        super().build(input_shape)

    def call(self, x):
        return tf.tensordot(x, self.matrix, axes=1)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


@register
class ChannelAttention(keras.layers.Layer):
    """Squeeze-and-excitation (Hu et al., CVPR 2018, Eq. 2-4): ``x * sigmoid(W2 relu(W1
    mean_hw(x)))``, W1 reducing C channels by ``reduction``. Float; in TFLite MEAN, two
    FULLY_CONNECTED, LOGISTIC and MUL."""

    def __init__(self, reduction=16, **kwargs):
        super().__init__(**kwargs)
        self.reduction = reduction

    def build(self, input_shape):
        c = int(input_shape[-1])
        self.squeeze = keras.layers.Dense(max(c // self.reduction, 1), activation="relu", name="squeeze")
        self.excite = keras.layers.Dense(c, activation="sigmoid", name="excite")
        super().build(input_shape)

    def call(self, x):
        weights = self.excite(self.squeeze(tf.reduce_mean(x, axis=(1, 2), keepdims=True)))
        return x * weights

    def macs(self, output_shape):
        """Multiply-accumulates of the two dense layers (the papers count no pooling or MUL)."""
        c = int(output_shape[-1])
        return 2 * c * max(c // self.reduction, 1)

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction}


@register
class SpatialAttention(keras.layers.Layer):
    """CBAM's spatial attention (Woo et al., ECCV 2018, Eq. 3), the cheap kind: ``x *
    sigmoid(conv([mean_c(x), max_c(x)]))`` with one ``kernel_size`` conv to one channel.
    Float; in TFLite MEAN, REDUCE_MAX, CONCATENATION, CONV_2D (LOGISTIC fused or apart), MUL."""

    def __init__(self, kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = kernel_size
        self.conv = keras.layers.Conv2D(1, kernel_size, padding="same", activation="sigmoid", name="conv")

    def macs(self, output_shape):
        """Multiply-accumulates of the conv (the papers count no pooling or MUL)."""
        _, h, w, _ = output_shape
        return h * w * 2 * self.kernel_size**2

    def call(self, x):
        pooled = tf.concat([tf.reduce_mean(x, axis=-1, keepdims=True), tf.reduce_max(x, axis=-1, keepdims=True)],
                           axis=-1)
        return x * self.conv(pooled)

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size}


@register
class Gain(keras.layers.Layer):
    """One learned scalar ``g * x`` (a layer's gain, e.g. the per-layer scale of binary
    weights in Ma et al., CVPR-W 2019); MUL in TFLite, or folded into the conv before it."""

    def __init__(self, initial=1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial = float(initial)

    def build(self, input_shape):
        self.gain = self.add_weight(name="gain", shape=(), initializer=keras.initializers.Constant(self.initial))
        super().build(input_shape)

    def call(self, x):
        return self.gain * x

    def get_config(self):
        return {**super().get_config(), "initial": self.initial}


def keys_cubic(x, a=-0.5):
    """Keys' cubic convolution kernel (IEEE TASSP 1981), MATLAB ``imresize``'s ``bicubic``."""
    x = np.abs(x)
    near = (a + 2) * x**3 - (a + 3) * x**2 + 1
    far = a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def bicubic_phases(scale):
    """(scale, 5) taps: output phase p of an enlargement by ``scale`` reads input pixels
    i - 2 .. i + 2 of its source pixel i with these weights (MATLAB's half-pixel centres: the
    output pixel sits at i + (p + 0.5) / scale - 0.5)."""
    offsets = (np.arange(scale) + 0.5) / scale - 0.5
    return keys_cubic(np.arange(-2, 3)[None, :] - offsets[:, None])


@register
class BicubicUpscale(keras.layers.Layer):
    """MATLAB's ``imresize(x, scale, 'bicubic')`` enlargement inside the graph, in float (no
    rounding to 8 bits between the passes): (H, W, C) -> (scale*H, scale*W, C).

    An integer enlargement is ``scale**2`` fixed 5x5 filters, one per output phase, then
    ``depth_to_space``; the border is replicated, as MATLAB clamps indices that leave the
    image. So it lowers to TFLite builtins (CONCATENATION, CONV_2D, DEPTH_TO_SPACE), which a
    resize op with Keys' kernel is not; its filters are constants, not weights.
    """

    def __init__(self, scale, **kwargs):
        super().__init__(**{"trainable": False, **kwargs})
        self.scale = int(scale)

    def build(self, input_shape):
        c, s = input_shape[-1], self.scale
        taps = bicubic_phases(s)
        phase = np.einsum("pi,qj->ijpq", taps, taps).reshape(5, 5, s * s)  # (dy, dx) phases, depth_to_space order
        kernel = np.zeros((5, 5, c, s * s, c), np.float32)
        for ch in range(c):
            kernel[:, :, ch, :, ch] = phase
        self.kernel = tf.constant(kernel.reshape(5, 5, c, s * s * c))
        super().build(input_shape)

    def call(self, x):
        rows = tf.concat([x[:, :1], x[:, :1], x, x[:, -1:], x[:, -1:]], axis=1)
        padded = tf.concat([rows[:, :, :1], rows[:, :, :1], rows, rows[:, :, -1:], rows[:, :, -1:]], axis=2)
        return tf.nn.depth_to_space(tf.nn.conv2d(padded, self.kernel, 1, "VALID"), self.scale)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}
