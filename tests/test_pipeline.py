"""The tf.data training pipeline: which images it keeps, what it draws, and that a sample is a
pure function of its index (the ground of exact resumption)."""

from lce_models.data.degradations import Degradation
from lce_models.data.pipeline import ImageBank, dataset

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(40, 50), (64, 36), (30, 30)]):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), np.uint8)).save(tmp_path / f"im{i}.png")
    Image.fromarray(rng.integers(0, 256, (48, 48), np.uint8)).save(tmp_path / "gray.jpg")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    return tmp_path


def test_bank_skips_unreadable_and_small_images_naming_them(folder, capsys):
    bank = ImageBank([folder], min_size=32)
    err = capsys.readouterr().err
    assert "skipping unreadable image" in err and "broken.png" in err
    assert "skipping 1 images smaller than 32" in err and "im2.png" in err
    assert len(bank) == 3 and bank.in_memory


def test_bank_of_an_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no PNG/JPEG/BMP images"):
        ImageBank([tmp_path])
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "tiny.png")
    with pytest.raises(FileNotFoundError, match="no usable training image"):
        ImageBank([tmp_path], min_size=16)


def batches(bank, degradation, n, **kw):
    it = iter(dataset(bank, degradation, 8, 4, **kw))
    return [tuple(t.numpy() for t in next(it)) for _ in range(n)]


@pytest.mark.parametrize("task,level,shapes", [
    ("sr", 3, ((4, 8, 8, 3), (4, 24, 24, 3))),
    ("denoise", 25, ((4, 8, 8, 3), (4, 8, 8, 3))),
    ("jpeg", 10, ((4, 8, 8, 3), (4, 8, 8, 3))),
])
def test_batches_have_the_task_shapes(folder, task, level, shapes):
    (degraded, clean), = batches(ImageBank([folder], min_size=24), Degradation(task, level), 1)
    assert (degraded.shape, clean.shape) == shapes
    assert 0.0 <= clean.min() and clean.max() <= 1.0
    if task != "sr":
        assert np.abs(degraded - clean).mean() > 0.01


def test_samples_are_a_pure_function_of_seed_and_index(folder):
    bank = ImageBank([folder], min_size=24)
    sr = Degradation("sr", 2)
    run = batches(bank, sr, 3, seed=5)
    resumed = batches(bank, sr, 1, seed=5, first_batch=2)
    np.testing.assert_array_equal(run[2][1], resumed[0][1])
    assert not np.array_equal(run[0][1], run[1][1])
    assert not np.array_equal(run[0][1], batches(bank, sr, 1, seed=6)[0][1])
    streamed = batches(ImageBank([folder], min_size=24, memory_limit=0), sr, 3, seed=5)
    for (a, b), (c, d) in zip(run, streamed):  # read per draw, the same pixels
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_pipelines_draw_disjoint_samples(folder):
    bank = ImageBank([folder], min_size=24)
    sr = Degradation("sr", 2)
    whole = batches(bank, sr, 2, seed=1)  # one pipeline: global batches 0, 1
    second = batches(bank, sr, 1, seed=1, pipelines=2, pipeline=1)  # global batch 1
    np.testing.assert_array_equal(whole[1][1], second[0][1])
