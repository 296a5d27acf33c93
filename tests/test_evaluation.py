"""Test sets: layouts, pairs and their errors."""

from lce_models.data.degradations import Degradation
from lce_models.evaluation.protocol import evaluate, identity, load_set, set_folders

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
