"""Image loading."""

from lce_models.data.images import DATA_ROOT, image_files, open_image, sample_image, to_array

import numpy as np
import pytest
from PIL import Image

needs_data = pytest.mark.skipif(not (DATA_ROOT / "test").is_dir(), reason="shared data absent")


def test_open_image_converts_modes(tmp_path):
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(tmp_path / "w16.png")
    Image.fromarray(np.zeros((4, 4, 4), np.uint8)).save(tmp_path / "rgba.png")
    assert to_array(open_image(tmp_path / "w16.png")).max() == 1.0  # scaled, not clipped
    assert to_array(open_image(tmp_path / "rgba.png")).shape == (4, 4, 3)
    assert to_array(open_image(tmp_path / "rgba.png", channels=1)).shape == (4, 4, 1)


@needs_data
def test_sample_image():
    assert sample_image(500, 700).shape == (500, 700, 3)  # larger than the photo: enlarged
    with pytest.raises(FileNotFoundError, match="image not found"):
        sample_image(8, 8, path="/nonexistent.png")


def test_open_image_gray_replicates_and_16_bit_scales(tmp_path):
    Image.fromarray(np.array([[0, 32896, 65535]], np.uint16)).save(tmp_path / "g16.png")
    rgb = np.asarray(open_image(tmp_path / "g16.png"))
    np.testing.assert_array_equal(rgb[0], [[0, 0, 0], [128, 128, 128], [255, 255, 255]])


def test_image_files_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no PNG/JPEG/BMP images"):
        image_files(tmp_path)
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        image_files(tmp_path / "missing")
