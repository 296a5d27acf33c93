"""Y-channel PSNR against the check figures of ../shared/data/README.md."""

import numpy as np
import pytest
from lce_models.data import DATA_ROOT
from lce_models.evaluation import bicubic, evaluate_sr
from lce_models.metrics import ssim_y, to_y


def test_to_y_bt601_extremes():
    rgb = np.array([[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]])
    np.testing.assert_array_equal(to_y(rgb).ravel(), [16, 235, 81])  # 16 + 65.481 = 81.48
    np.testing.assert_array_equal(to_y(np.ones((1, 1, 1))).ravel(), [235])


def test_ssim_of_identical_and_shifted_images():
    rng = np.random.default_rng(0)
    image = rng.random((32, 32, 3))
    assert ssim_y(image, image) == pytest.approx(1.0)
    assert ssim_y(image, np.roll(image, 1, axis=1)) < 0.5


# ../shared/data/README.md, "Check figures (bicubic baseline)": (PSNR, SSIM).
CHECK_FIGURES = {
    ("Set5", 2): (33.64, 0.9292), ("Set5", 3): (30.39, 0.8678), ("Set5", 4): (28.42, 0.8101),
    ("Set14", 2): (30.31, 0.8691), ("Set14", 3): (27.63, 0.7751), ("Set14", 4): (26.09, 0.7041),
    ("B100", 2): (29.55, 0.8425), ("B100", 3): (27.20, 0.7382), ("B100", 4): (25.96, 0.6672),
}


@pytest.mark.skipif(not (DATA_ROOT / "test" / "Set5").is_dir(), reason="shared data absent")
@pytest.mark.parametrize("set_name,scale", sorted(CHECK_FIGURES))
def test_bicubic_reproduces_the_data_check_figures(set_name, scale):
    result = evaluate_sr(bicubic(scale), set_name, scale)
    psnr, ssim = CHECK_FIGURES[(set_name, scale)]
    assert result["psnr"] == pytest.approx(psnr, abs=0.011)
    assert result["ssim"] == pytest.approx(ssim, abs=0.0005)
