"""Restorers: tiling a fixed-size model over images of any size, and test-set errors."""

import numpy as np
import pytest
import tf_keras as keras
from PIL import Image

from lce_models.degradations import Degradation
from lce_models.layers import PixelShuffle
from lce_models.evaluation import evaluate, identity, keras_restorer, load_set, set_folders, tiled


def local_model(scale):
    """Two 3x3 convs (receptive radius 2 LR pixels) and a pixel shuffle: tiles that overlap by
    at least 2 must reproduce the whole-image output exactly."""
    x = inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(3 * scale * scale, 3, padding="same", activation="sigmoid")(x)
    x = PixelShuffle(scale)(x)
    keras.utils.set_random_seed(0)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("size", [(37, 53), (20, 20), (9, 30)])
def test_tiles_reproduce_the_whole_image(size):
    model = local_model(2)
    image = np.random.default_rng(0).random((*size, 3)).astype(np.float32)
    whole = keras_restorer(model)(image)
    run = lambda batch: model(batch).numpy()  # noqa: E731
    out = tiled(run, (16, 20), overlap=3, scale=2)(image)
    assert out.shape == whole.shape
    if min(size) >= 16:  # no mirrored padding: exact
        np.testing.assert_allclose(out, whole, atol=1e-6)
    else:  # mirrored out to the tile: differs only near the mirrored edge
        assert np.abs(out - whole)[: 2 * (size[0] - 3), : 2 * (size[1] - 3)].max() < 1e-6


def test_tiles_need_room_inside_the_overlap():
    with pytest.raises(ValueError, match="leaves nothing"):
        tiled(lambda b: b, (8, 8), overlap=4)


def test_set_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no test set 'Nope'"):
        set_folders("Nope", Degradation("sr", 2))
    (tmp_path / "HR").mkdir()
    with pytest.raises(FileNotFoundError, match="has no folder"):
        set_folders(str(tmp_path), Degradation("sr", 2))


def test_a_plain_folder_and_an_hr_lr_pair(tmp_path):
    rng = np.random.default_rng(2)
    (tmp_path / "hr").mkdir()
    (tmp_path / "lr").mkdir()
    Image.fromarray(rng.integers(0, 256, (13, 16, 3), np.uint8)).save(tmp_path / "hr" / "a.png")
    Image.fromarray(rng.integers(0, 256, (6, 8, 3), np.uint8)).save(tmp_path / "lr" / "a.png")
    (name, lr, hr), = load_set(f"{tmp_path / 'hr'}:{tmp_path / 'lr'}", Degradation("sr", 2))
    assert (name, lr.shape, hr.shape) == ("a", (6, 8, 3), (12, 16, 3))  # HR cropped to 2 x LR
    result = evaluate(identity, str(tmp_path / "hr"), Degradation("jpeg", 20))
    assert result["metric"] == "rgb, border 0" and set(result["images"]) == {"a"}
