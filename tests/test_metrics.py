"""PSNR / SSIM against the check figures of ../shared/data/README.md and the SSIM formula written out."""

from lce_models.data.degradations import Degradation
from lce_models.data.images import DATA_ROOT
from lce_models.evaluation.metrics import _pair, psnr, ssim, to_y
from lce_models.evaluation.protocol import bicubic, evaluate, load_set

import numpy as np
import pytest
from scipy.signal import correlate2d

needs_data = pytest.mark.skipif(not (DATA_ROOT / "test" / "Set5").is_dir(), reason="shared data absent")


def test_to_y_bt601_extremes():
    rgb = np.array([[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]])
    np.testing.assert_array_equal(to_y(rgb).ravel(), [16, 235, 81])  # 16 + 65.481 = 81.48
    np.testing.assert_array_equal(to_y(np.ones((1, 1, 1))).ravel(), [235])


def test_ssim_of_identical_and_shifted_images():
    image = np.random.default_rng(0).random((32, 32, 3))
    assert ssim(image, image) == pytest.approx(1.0)
    assert ssim(image, np.roll(image, 1, axis=1)) < 0.5


def test_psnr_spaces_and_border():
    a = np.zeros((10, 10, 1))
    b = a.copy()
    b[0, 0] = 1.0  # one pixel off by 255, only at the border
    assert psnr(a, b, space="gray") == pytest.approx(10 * np.log10(100))
    assert psnr(a, b, border=1, space="gray") == np.inf
    with pytest.raises(ValueError, match="unknown metric space"):
        psnr(a, b, space="lab")


# ../shared/data/README.md, "Check figures (bicubic baseline)": (PSNR, SSIM).
CHECK_FIGURES = {
    ("Set5", 2): (33.64, 0.9292), ("Set5", 3): (30.39, 0.8678), ("Set5", 4): (28.42, 0.8101),
    ("Set14", 2): (30.31, 0.8691), ("Set14", 3): (27.63, 0.7751), ("Set14", 4): (26.09, 0.7041),
    ("B100", 2): (29.55, 0.8425), ("B100", 3): (27.20, 0.7382), ("B100", 4): (25.96, 0.6672),
}


@needs_data
@pytest.mark.parametrize("set_name,scale", sorted(CHECK_FIGURES))
def test_bicubic_reproduces_the_data_check_figures(set_name, scale):
    result = evaluate(bicubic(scale), set_name, Degradation("sr", scale))
    psnr_db, ssim_value = CHECK_FIGURES[(set_name, scale)]
    assert result["psnr"] == pytest.approx(psnr_db, abs=0.011)
    assert result["ssim"] == pytest.approx(ssim_value, abs=0.0005)


def reference_ssim(output, target, border, space):
    """Wang et al. 2004 written out in float64: the 11x11 Gaussian window (sigma 1.5) of MATLAB's
    ``fspecial``, 'valid' filtering, the mean of the SSIM map over pixels and channels."""
    a, b = _pair(output, target, border, space)
    taps = np.exp(-np.arange(-5, 6) ** 2 / (2 * 1.5**2))
    window = np.outer(taps, taps) / np.outer(taps, taps).sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    maps = []
    for x, y in zip(np.moveaxis(a, -1, 0), np.moveaxis(b, -1, 0)):
        mean = lambda z: correlate2d(z, window, mode="valid")  # noqa: E731
        mx, my = mean(x), mean(y)
        vx, vy, cov = mean(x * x) - mx**2, mean(y * y) - my**2, mean(x * y) - mx * my
        maps.append((2 * mx * my + c1) * (2 * cov + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(maps))


@needs_data
@pytest.mark.parametrize("set_name,degradation,channels,space,border", [
    ("Set14", Degradation("sr", 3), 3, "y", 3),
    ("Set5", Degradation("denoise", 25), 3, "rgb", 0),
    ("Classic5", Degradation("jpeg", 10), 1, "gray", 0),
])
def test_ssim_is_the_formula_written_out(set_name, degradation, channels, space, border):
    for _, degraded, clean in load_set(set_name, degradation, channels):
        out = bicubic(degradation.multiple)(degraded) if degradation.task == "sr" else degraded
        ours, reference = ssim(out, clean, border, space), reference_ssim(out, clean, border, space)
        assert abs(ours - reference) < 1e-9, (ours, reference)


@needs_data
def test_noisy_baseline_is_at_the_noise_level_and_reproducible():
    first = evaluate(lambda x: x, "Set5", Degradation("denoise", 25))
    # sigma 25 on 0-255: 20.17 dB before the output is clipped and rounded to 8 bits
    assert 20.0 < first["psnr"] < 21.0
    assert evaluate(lambda x: x, "Set5", Degradation("denoise", 25)) == first


def test_tf_psnr_is_the_textbook_formula():
    a = np.random.default_rng(1).random((16, 16, 3))
    b = np.clip(a + 0.05, 0, 1)
    x, y = _pair(a, b, 0, "rgb")
    assert psnr(a, b, space="rgb") == pytest.approx(10 * np.log10(255**2 / np.mean((x - y) ** 2)), abs=1e-3)
