"""Image loading and the on-the-fly degradation against the MATLAB-made shared data."""

import numpy as np
import pytest
from PIL import Image

from lce_models.data import DATA_ROOT, SRPatches, bicubic_downscale, open_image, sample_image, sr_pairs, to_array
from lce_models.evaluation import bicubic
from lce_models.metrics import psnr_y

needs_data = pytest.mark.skipif(not (DATA_ROOT / "test").is_dir(), reason="shared data absent")


@needs_data
@pytest.mark.parametrize("set_name", ["Set5", "Set14"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_pillow_downscale_agrees_with_matlab_lr(set_name, scale):
    """Bicubic-baseline PSNR on our LR vs on MATLAB's: within 0.05 dB (measured: <= 0.003)."""
    ours, matlab = [], []
    for _, lr, hr in sr_pairs(set_name, scale):
        matlab.append(psnr_y(bicubic(scale)(lr), hr, scale))
        ours.append(psnr_y(bicubic(scale)(bicubic_downscale(hr, scale)), hr, scale))
    assert abs(np.mean(ours) - np.mean(matlab)) < 0.05


def test_downscale_gray_and_rgb_shapes():
    rgb = np.random.default_rng(0).random((12, 8, 3))
    assert bicubic_downscale(rgb, 4).shape == (3, 2, 3)
    assert bicubic_downscale(rgb[..., :1], 2).shape == (6, 4, 1)
    flat = np.full((8, 8, 1), 0.5)
    np.testing.assert_allclose(bicubic_downscale(flat, 2), 128 / 255)


def test_open_image_converts_modes(tmp_path):
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(tmp_path / "w16.png")
    Image.fromarray(np.zeros((4, 4, 4), np.uint8)).save(tmp_path / "rgba.png")
    assert to_array(open_image(tmp_path / "w16.png")).max() == 1.0  # scaled, not clipped
    assert to_array(open_image(tmp_path / "rgba.png")).shape == (4, 4, 3)
    assert to_array(open_image(tmp_path / "rgba.png", channels=1)).shape == (4, 4, 1)


@needs_data
def test_patches_and_sample_image():
    patches = SRPatches([DATA_ROOT / "train" / "T91"], scale=3, lr_patch=8, seed=1)
    lr, hr = patches.batch(4)
    assert lr.shape == (4, 8, 8, 3) and hr.shape == (4, 24, 24, 3)
    assert sample_image(500, 700).shape == (500, 700, 3)  # larger than the photo: enlarged
    with pytest.raises(FileNotFoundError, match="image not found"):
        sample_image(8, 8, path="/nonexistent.png")
