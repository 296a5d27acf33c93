"""The binarizers of the binary convolutions, built on larq's own.

Defaults, the BBCU reference's pair:

* Activations: ``approx_sign`` -- sign(x) forward, and the gradient of the piecewise polynomial
  of Bi-Real Net (Liu et al., ECCV 2018, Eq. 5-6): d/dx = 2 - 2|x| for |x| < 1, else 0. This is
  the ``BinaryActivation`` of the BBCU reference code.
* Weights: ``magnitude_aware_sign`` -- alpha * sign(W) with alpha = mean|W| per output channel
  (XNOR-Net, Rastegari et al., ECCV 2016, Eq. 2-4), alpha held out of the gradient and a
  clipped straight-through gradient (zero where |W| > 1). larq's gradient carries the constant
  alpha as a factor, the reference's does not; Adam normalises a constant per-weight factor
  away (up to its epsilon), so training follows the same path.

All give sign(0) = +1, as LCE's bit-packing does; the reference's ``torch.sign(0) = 0`` only
matters for exact zeros, which in BBCU come from zero padding (handled by the conv's padding,
see ``lce_models.models.units``), not from the sign.

The gradient estimators that "Lossless picture quality for binary neural networks in pixel-level
tasks" ablates are selectable by name (``ESTIMATORS``) for activations (``BinaryActivation``)
and weights (``BinaryWeight``); the forward pass is larq's sign in every case, so the LCE
converter sees the same graph:

``ste``     clipped straight-through: 1 for |x| <= 1, else 0 (BNN, Courbariaux et al. 2016)
``approx``  ApproxSign: 2 - 2|x| for |x| < 1, else 0 (Bi-Real Net, Eq. 5-6)
``swish``   SignSwish: beta (2 - beta x tanh(beta x / 2)) / (1 + cosh(beta x)) (BNN+, Darabi
            et al. 2018, Eq. 6), larq's ``swish_sign``
``ede``     IR-Net's error-decay estimator (Qin et al., CVPR 2020, Eq. 10-11): the gradient of
            k tanh(t x), k t (1 - tanh^2(t x)), with t = T_min 10^(p log10(T_max / T_min)),
            k = max(1 / t, 1), T_min = 0.1, T_max = 10, p the share of training done: from
            an STE-like box towards sign's own gradient as training goes on
"""

import math

import larq as lq
import tensorflow as tf

#: Input quantizer of every binary convolution, by default.
ACTIVATION_QUANTIZER = "approx_sign"
#: Kernel quantizer of every binary convolution, by default.
WEIGHT_QUANTIZER = "magnitude_aware_sign"

ApproxSign = lq.quantizers.ApproxSign
MagnitudeAwareSign = lq.quantizers.MagnitudeAwareSign

ESTIMATORS = ("ste", "approx", "swish", "ede")
WEIGHT_SCALES = ("mean", "pow2")
EDE_T_MIN, EDE_T_MAX = 0.1, 10.0

_progress = None


def training_progress():
    """The share of training done, in [0, 1]: the schedule of the ``ede`` estimator. A
    non-trainable variable outside every model (not saved with weights); the training loop
    sets it with ``set_training_progress`` before each step."""
    global _progress
    if _progress is None:
        _progress = tf.Variable(0.0, trainable=False, dtype=tf.float32, name="training_progress")
    return _progress


def set_training_progress(step, total):
    training_progress().assign(min(max(step / max(total, 1), 0.0), 1.0))


def ede_parameters(progress):
    """IR-Net Eq. 11: (k, t) at a share ``progress`` of training."""
    t = EDE_T_MIN * 10.0 ** (progress * math.log10(EDE_T_MAX / EDE_T_MIN))
    return max(1.0 / t, 1.0), t


def ede_sign(x):
    """sign(x) forward; backward IR-Net's EDE at the current ``training_progress``."""

    @tf.custom_gradient
    def _call(x):
        def grad(dy):
            p = training_progress()
            t = EDE_T_MIN * tf.pow(10.0, p * math.log10(EDE_T_MAX / EDE_T_MIN))
            k = tf.maximum(1.0 / t, 1.0)
            return dy * k * t * (1.0 - tf.square(tf.tanh(t * x)))

        return lq.math.sign(x), grad

    return _call(x)


def sign_estimator(name, beta=5.0):
    """The function sign(x) whose gradient is the estimator ``name`` (see the module table)."""
    if name == "ste":
        return lq.quantizers.ste_sign
    if name == "approx":
        return lq.quantizers.approx_sign
    if name == "swish":
        return lambda x: lq.quantizers.swish_sign(x, beta=beta)
    if name == "ede":
        return ede_sign
    raise ValueError(f"unknown sign estimator {name!r}; choose from {', '.join(ESTIMATORS)}")


@lq.utils.register_keras_custom_object
class BinaryActivation(lq.quantizers._BaseQuantizer):
    """sign(x), with the gradient of the estimator ``estimator`` (``beta``: SignSwish's)."""

    precision = 1

    def __init__(self, estimator="approx", beta=5.0, **kwargs):
        self.estimator = estimator
        self.beta = beta
        self._sign = sign_estimator(estimator, beta)
        super().__init__(**kwargs)

    def call(self, inputs):
        return super().call(self._sign(inputs))

    def get_config(self):
        return {**super().get_config(), "estimator": self.estimator, "beta": self.beta}


@lq.utils.register_keras_custom_object
class BinaryWeight(lq.quantizers._BaseQuantizer):
    """``alpha * sign(W')`` per output channel, the sign's gradient by ``estimator``.

    ``balanced``: W' is W standardised per output channel (zero mean, unit spread), IR-Net's
    Libra-PB (Qin et al., CVPR 2020, Eq. 6-7), so that about half the weights of every filter
    are +1, which maximises the information of the binary weights; else W' = W.
    ``scale``: alpha is mean|W| of the latent weights (XNOR-Net) or, ``"pow2"``, that mean
    rounded to a power of two (IR-Net's bit-shift scale, Eq. 7). alpha is held out of the
    gradient, as in larq's ``magnitude_aware_sign``. Either way the binary weight is a constant
    ±alpha per output channel at inference, which the LCE converter folds into one LceBconv2d.
    """

    precision = 1

    def __init__(self, estimator="ste", balanced=False, scale="mean", beta=5.0, **kwargs):
        if scale not in WEIGHT_SCALES:
            raise ValueError(f"unknown weight scale {scale!r}; choose from {', '.join(WEIGHT_SCALES)}")
        self.estimator = estimator
        self.balanced = balanced
        self.scale = scale
        self.beta = beta
        self._sign = sign_estimator(estimator, beta)
        super().__init__(**kwargs)

    def call(self, inputs):
        axes = list(range(len(inputs.shape) - 1))
        alpha = tf.stop_gradient(tf.reduce_mean(tf.abs(inputs), axis=axes))
        if self.scale == "pow2":
            alpha = tf.pow(2.0, tf.round(tf.math.log(alpha) / math.log(2.0)))
        w = inputs
        if self.balanced:
            mean, variance = tf.nn.moments(inputs, axes=axes, keepdims=True)
            w = (inputs - mean) * tf.math.rsqrt(variance + 1e-12)
        return super().call(alpha * self._sign(w))

    def get_config(self):
        return {**super().get_config(), "estimator": self.estimator, "balanced": self.balanced,
                "scale": self.scale, "beta": self.beta}
