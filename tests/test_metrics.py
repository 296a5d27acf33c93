"""Y-channel PSNR against the check figures of ../shared/data/README.md."""

import numpy as np
import pytest
from PIL import Image

from lce_models.data import DATA_ROOT, open_image, to_array
from lce_models.metrics import psnr_y, to_y


def test_to_y_bt601_extremes():
    rgb = np.array([[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]])
    np.testing.assert_array_equal(to_y(rgb).ravel(), [16, 235, 81])  # 16 + 65.481 = 81.48
    np.testing.assert_array_equal(to_y(np.ones((1, 1, 1))).ravel(), [235])


@pytest.mark.skipif(not (DATA_ROOT / "test" / "Set5").is_dir(), reason="shared data absent")
def test_bicubic_set5_x2_reproduces_the_check_figure():
    """Pillow bicubic upscaling of the MATLAB LR: 33.64 dB in the data README (within 0.01)."""
    scores = []
    for hr_path in sorted((DATA_ROOT / "test" / "Set5" / "HR").glob("*.png")):
        lr = open_image(DATA_ROOT / "test" / "Set5" / "x2" / "LR" / hr_path.name)
        sr = to_array(lr.resize((lr.width * 2, lr.height * 2), Image.BICUBIC))
        hr = to_array(open_image(hr_path))[: sr.shape[0], : sr.shape[1]]
        scores.append(psnr_y(sr, hr, border=2))
    assert np.mean(scores) == pytest.approx(33.64, abs=0.02)
