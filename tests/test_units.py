"""BBCU units in Keras against a plain-numpy transcription of the paper's equations."""

from lce_models.models.bconv import ALPHA_BITS, rounded_alpha
from lce_models.models.units import BBCU, PADDINGS, PARTS, VARIANTS, binary_conv

import numpy as np
import pytest
import tf_keras as keras
from conftest import randomize_weights


def unit_model(part="B", variant="v4", padding="zero", channels=4, size=(5, 6), **kwargs):
    x = keras.Input((*size, channels), batch_size=1)
    return keras.Model(x, PARTS[part](variant=variant, padding=padding, name="u", **kwargs)(x))


def sign(x):
    return np.where(x >= 0, 1.0, -1.0)


def np_rounded(alpha):
    """``alpha`` rounded to ``ALPHA_BITS`` significant bits, halves up (as the binary convs do)."""
    m, e = np.frexp(np.asarray(alpha, np.float32))  # m in [0.5, 1): m * 2**ALPHA_BITS has ALPHA_BITS bits
    return np.ldexp(np.floor(m.astype(np.float64) * 2**ALPHA_BITS + 0.5), e - ALPHA_BITS).astype(np.float32)


def np_alpha(kernel):
    """XNOR-Net's alpha, mean|W| per output channel, rounded."""
    return np_rounded(np.abs(kernel).mean(axis=(0, 1, 2)))


def np_binary_conv(x, kernel, pad_value):
    """3x3 'same' conv of sign(x) with mean|W| * sign(W) (XNOR-Net), borders = pad_value."""
    w = np_alpha(kernel) * sign(kernel)
    h, wd, _ = x.shape
    xp = np.pad(sign(x), ((1, 1), (1, 1), (0, 0)), constant_values=pad_value)
    return sum(xp[dy : dy + h, dx : dx + wd] @ w[dy, dx] for dy in range(3) for dx in range(3))


def np_rprelu(x, shift_in, alpha, shift_out):
    y = x + shift_in
    return np.where(y >= 0, y, alpha.reshape(-1) * y) + shift_out


def np_unit(model, x, part, variant, padding, factor=2, filters=None):
    """The unit of ``lce_models.models.units`` in numpy, with the weights of ``model``."""
    v = VARIANTS[variant]
    get = lambda name: model.get_layer(f"u_{name}").get_weights()  # noqa: E731
    y = np_binary_conv(x + get("rsign_shift")[0], get("bconv")[0], PADDINGS[padding])
    if v.batch_norm:
        gamma, beta, mean, var = get("bn")
        y = (y - mean) / np.sqrt(var + 1e-5) * gamma + beta
    if v.activation_on_branch:
        y = np_rprelu(y, *get("rprelu"))
    c = x.shape[-1]
    if part == "U":  # depth_to_space, channel order (dy, dx, c)
        h, w, _ = y.shape
        y = y.reshape(h, w, factor, factor, c).transpose(0, 2, 1, 3, 4).reshape(h * factor, w * factor, c)
        residual = x.repeat(factor, axis=0).repeat(factor, axis=1)
    elif part == "H":
        rep = filters // c
        residual = np.concatenate([x.repeat(rep, axis=-1), x[..., : filters % c]], axis=-1)
    elif part == "T":
        group = np.arange(c) * filters // c
        residual = np.stack([x[..., group == g].mean(axis=-1) for g in range(filters)], -1)
    else:
        residual = x
    out = y + residual
    if not v.activation_on_branch:
        out = np_rprelu(out, *get("rprelu"))
    return out


def test_hand_computed_v4_body_unit():
    """One channel, all weights 0.5 (alpha = 0.5, sign +1), shifts 0, PReLU slope 0.25."""
    x = np.array([[1, -1, 2], [0.5, -3, 1], [1, 1, -1]], np.float32).reshape(1, 3, 3, 1)
    for padding, corner in (("zero", 1.0), ("one", 3.5)):
        model = unit_model(channels=1, size=(3, 3), padding=padding)
        model.get_layer("u_bconv").set_weights([np.full((3, 3, 1, 1), 0.5, np.float32)])
        y = model(x).numpy()[0, :, :, 0]
        # centre: signs sum to 3 -> 0.5 * 3 = 1.5; RPReLU(1.5) = 1.5; + x = 1.5 - 3
        assert y[1, 1] == pytest.approx(-1.5)
        # corner: 1 - 1 + 1 - 1 = 0, plus 5 border values (0 or +1) -> 0 or 2.5; + x = +1
        assert y[0, 0] == pytest.approx(corner)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("padding", sorted(PADDINGS))
def test_body_unit_variants_match_numpy(variant, padding, rng):
    model = randomize_weights(unit_model(variant=variant, padding=padding), seed=3)
    x = rng.normal(size=(1, 5, 6, 4)).astype(np.float32)
    want = np_unit(model, x[0], "B", variant, padding)
    np.testing.assert_allclose(model(x, training=False).numpy()[0], want, atol=1e-5)


@pytest.mark.parametrize(
    "part,kwargs,channels",
    [("H", {"filters": 8}, 3), ("U", {"factor": 2}, 4), ("U", {"factor": 3}, 4), ("T", {"filters": 3}, 8)],
)
@pytest.mark.parametrize("padding", sorted(PADDINGS))
def test_part_variants_match_numpy(part, kwargs, channels, padding, rng):
    model = randomize_weights(unit_model(part, padding=padding, channels=channels, **kwargs), 5)
    x = rng.normal(size=(1, 5, 6, channels)).astype(np.float32)
    want = np_unit(model, x[0], part, "v4", padding, **kwargs)
    got = model(x).numpy()[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_only_v1_has_batchnorm_and_options_are_checked():
    assert any("bn" in layer.name for layer in unit_model(variant="v1").layers)
    assert not any("bn" in layer.name for layer in unit_model(variant="v4").layers)
    with pytest.raises(ValueError, match="variant"):
        BBCU(variant="v5")
    with pytest.raises(ValueError, match="padding"):
        BBCU(padding="reflect")


def alphas(rng):
    """Random alphas and the edge cases of rounding to 12 bits: a half (up), below a half, the
    largest float under 1, zero."""
    edges = [1 + 2**-12, 1 + 2**-13, 1 - 2**-24, 0.0]
    return np.concatenate([rng.uniform(1e-4, 2, 10000), edges]).astype(np.float32)


def test_alpha_is_rounded_to_its_bits_halves_up(rng):
    alpha = alphas(rng)
    got = rounded_alpha(alpha).numpy()
    np.testing.assert_array_equal(got, np_rounded(alpha))
    assert got[-4:].tolist() == [1 + 2**-11, 1.0, 1.0, 0.0]
    assert np.all(np.abs(got - alpha) <= alpha * 2.0**-ALPHA_BITS)
    assert np.all(np.frexp(got)[0] * 2**ALPHA_BITS % 1 == 0)  # no bit below the 12th


@pytest.mark.parametrize("padding", sorted(PADDINGS))
def test_binary_sums_are_exact(padding, rng):
    """Each output of a binary conv is its integer sum of +-1 products times alpha, rounded once,
    however TensorFlow orders the sum: what LCE and the bit-packed kernels compute. (With
    +-alpha weights, as larq's QuantConv2D convolves, 576-term float sums round on the way.)"""
    layer = binary_conv(64, padding)
    x = rng.normal(size=(1, 12, 12, 64)).astype(np.float32)
    y = layer(x).numpy()
    kernel = layer.kernel.numpy()
    alpha = np_rounded(np.abs(layer.kernel_quantizer(kernel).numpy()).max(axis=(0, 1, 2)))
    sums = np_binary_conv(x[0].astype(np.float64), sign(kernel), PADDINGS[padding])  # +-1 weights: alpha = 1
    np.testing.assert_array_equal(y[0], sums.astype(np.float32) * alpha)
