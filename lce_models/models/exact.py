"""Constants on alpha's grid: what makes LCE's output transform round nothing.

``LceBconv2d`` counts exactly (``a`` = disagreeing bits of ``K = kh * kw * C_in``), then
returns ``fl(fl(2a * -alpha) + f32(s + K * alpha))`` per output, ``s`` being the constant
shift LCE's converter folds into it (the conv's bias plus the shift of an ``RPReLU`` or
``LearnableBias`` that alone follows it); Keras returns ``fl(fl(fl((K - 2a) * alpha) + b) +
shift)`` (docs/conversion.md). ``BinaryConv2D`` rounds alpha to ``ALPHA_BITS`` significant
bits, so every product of alpha with an integer below ``2**(24 - ALPHA_BITS)`` is exact; when
``b`` and ``shift`` are also multiples of alpha's last bit ``g`` and every partial sum stays
below ``2**24 * g``, each of those sums is exact too: both return the exact value, and a sign
that follows cannot flip between them. ``snap_shifts`` moves each such constant to the nearest
multiple of ``g`` (by at most ``g / 2``, ``2**-12`` of alpha), which model cards do on loading.
"""

from lce_models.models.bconv import ALPHA_BITS, BinaryConv2D
from lce_models.models.layers import LearnableBias, RPReLU

import numpy as np

#: Integers below this times alpha are exact in float32.
_EXACT_TAPS = 2 ** (24 - ALPHA_BITS)


def _follower(conv):
    """The layer whose constant input shift LCE's converter folds into ``conv``: an ``RPReLU``
    or ``LearnableBias`` that alone follows it; None otherwise."""
    consumers = [node.outbound_layer for node in conv.outbound_nodes]
    if len(consumers) == 1 and isinstance(consumers[0], (RPReLU, LearnableBias)):
        return consumers[0]
    return None


def folded_shift(conv):
    """That layer and its shift; (None, zeros) when none follows ``conv`` alone."""
    follower = _follower(conv)
    if follower is None:
        return None, np.zeros(conv.filters, np.float32)
    return follower, _shift_variable(follower).numpy().reshape(-1)


def _shift_variable(layer):
    return (layer.shift_in if isinstance(layer, RPReLU) else layer).bias


def grid(conv):
    """Per output channel of a ``BinaryConv2D``: its rounded alpha and alpha's last bit."""
    alpha = conv.alpha()
    return alpha, np.ldexp(np.float32(1), np.frexp(alpha)[1] - ALPHA_BITS).astype(np.float32)


def _constants(conv):
    """The folded constants of ``conv`` as (variable, value) pairs: its bias, its follower's shift."""
    follower = _follower(conv)
    variables = ([conv.bias] if conv.use_bias else []) + ([_shift_variable(follower)] if follower else [])
    return [(v, v.numpy()) for v in variables]


def _binary_convs(model):
    return [layer for layer in model.layers if isinstance(layer, BinaryConv2D)]


def snap_shifts(model):
    """Move every constant LCE folds into a binary conv's output transform to the nearest
    multiple of the conv's ``g`` (in place); returns ``model``."""
    for conv in _binary_convs(model):
        _, g = grid(conv)
        for variable, value in _constants(conv):
            g_ = g.reshape(value.shape)
            variable.assign((np.round(value.astype(np.float64) / g_) * g_).astype(np.float32))
    return model


def check(model):
    """The names of the binary convs whose output transform can round (empty when none can):
    a constant off the grid, too many taps, or sums beyond ``2**24 * g``."""
    inexact = []
    for conv in _binary_convs(model):
        alpha, g = grid(conv)
        taps = int(np.prod(conv.kernel.shape[:3]))
        values = [value.reshape(-1).astype(np.float64) for _, value in _constants(conv)]
        on_grid = all(np.array_equal(v / g, np.round(v / g)) for v in values)
        largest = taps * alpha.astype(np.float64) + sum((np.abs(v) for v in values), np.zeros_like(alpha, np.float64))
        if not (on_grid and taps < _EXACT_TAPS and np.all(largest < 2.0 ** 24 * g)):
            inexact.append(conv.name)
    return inexact
