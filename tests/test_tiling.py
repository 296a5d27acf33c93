"""The tile plan and stitching: exact partition, enough context, whole-image equality."""

from lce_models.evaluation.protocol import keras_restorer
from lce_models.models.layers import PixelShuffle
from lce_models.upscaling import tiling

import numpy as np
import pytest
import tf_keras as keras


@pytest.mark.parametrize("size,length,overlap", [(7, 16, 3), (16, 16, 3), (17, 16, 3), (100, 16, 3),
                                                 (301, 48, 16), (33, 10, 4), (1000, 180, 16)])
def test_spans_partition_the_axis_with_context_on_every_inner_side(size, length, overlap):
    spans = tiling.spans(size, length, overlap)
    assert spans[0].keep_from == 0 and spans[-1].keep_to == size
    for a, b in zip(spans, spans[1:]):
        assert a.keep_to == b.keep_from and a.start < b.start
    for i, s in enumerate(spans):
        assert s.keep_from < s.keep_to
        if size >= length:  # inside the image
            assert 0 <= s.start and s.start + length <= size
        if i > 0:
            assert s.keep_from - s.start >= overlap
        if i < len(spans) - 1:
            assert s.start + length - s.keep_to >= overlap


def test_a_tile_needs_room_inside_the_overlap():
    with pytest.raises(ValueError, match="leaves nothing"):
        tiling.restorer(lambda b: b, (8, 8), overlap=4)


def test_count_matches_the_tiles_run():
    calls = []
    image = np.zeros((50, 77, 3), np.uint8)
    list(tiling.bands(image, lambda b: calls.append(1) or b, (16, 20), 3))
    assert len(calls) == tiling.count(50, 77, (16, 20), 3) == 5 * 6


def local_model(scale):
    """Two 3x3 convs (receptive radius 2 LR pixels) and a pixel shuffle: tiles that overlap by
    at least 2 must reproduce the whole-image output exactly."""
    keras.utils.set_random_seed(0)
    x = inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(3 * scale * scale, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(inputs, PixelShuffle(scale)(x))


@pytest.mark.parametrize("size", [(37, 53), (20, 20), (9, 30), (1, 1)])
def test_tiles_reproduce_the_whole_image(size):
    model = local_model(2)
    image = np.random.default_rng(0).random((*size, 3)).astype(np.float32)
    whole = keras_restorer(model)(image)
    run = lambda batch: model(batch).numpy()  # noqa: E731
    out = tiling.restorer(run, (16, 20), overlap=3, scale=2)(image)
    assert out.shape == whole.shape
    if min(size) >= 16:  # tiles aligned to the image edges: exact everywhere
        np.testing.assert_allclose(out, whole, atol=1e-6)
    else:  # reflected out to the tile: differs only within the receptive radius of that edge
        assert np.abs(out - whole)[: 2 * (size[0] - 2), : 2 * (size[1] - 2)].max(initial=0) < 1e-6


def test_uint8_input_and_bands_in_order():
    model = local_model(3)
    image = np.random.default_rng(1).integers(0, 256, (41, 29, 3), np.uint8)
    run = lambda batch: model(batch).numpy()  # noqa: E731
    done = []
    bands = list(tiling.bands(image, run, (16, 16), 3, scale=3, progress=done.append))
    assert [top for top, _ in bands] == [0] + list(np.cumsum([b.shape[0] for _, b in bands])[:-1])
    whole = keras_restorer(model)(image.astype(np.float32) / 255)
    np.testing.assert_allclose(np.concatenate([b for _, b in bands]), whole, atol=1e-6)
    assert sum(done) == tiling.count(41, 29, (16, 16), 3)
