"""Test sets: layouts, pairs and their errors."""

from lce_models.data.degradations import Degradation
from lce_models.evaluation.protocol import SetError, evaluate, identity, load_set, set_folders

import numpy as np
import pytest
from PIL import Image


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


@pytest.mark.parametrize("lr_size,message", [
    ((3, 4), "is 4x3, not 8x6"),     # half the expected size: scored against a wrong crop before
    ((7, 9), "is 9x7, not 8x6"),     # larger than HR / 2
    (None, "not a readable image"),  # a truncated file
])
def test_an_lr_that_does_not_fit_refuses_the_set(tmp_path, lr_size, message):
    rng = np.random.default_rng(3)
    (tmp_path / "hr").mkdir()
    (tmp_path / "lr").mkdir()
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (13, 16, 3), np.uint8)).save(tmp_path / "hr" / f"{name}.png")
        Image.fromarray(rng.integers(0, 256, (6, 8, 3), np.uint8)).save(tmp_path / "lr" / f"{name}.png")
    bad = tmp_path / "lr" / "b.png"
    if lr_size is None:
        bad.write_bytes(bad.read_bytes()[:30])
    else:
        Image.fromarray(rng.integers(0, 256, (*lr_size, 3), np.uint8)).save(bad)
    with pytest.raises(SetError, match=f"{bad}.*{message}"):
        next(load_set(f"{tmp_path / 'hr'}:{tmp_path / 'lr'}", Degradation("sr", 2)))  # before the first pair
