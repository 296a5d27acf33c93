"""The golden vectors the Android app's JVM module is tested against (``golden_tiling.py``):
the Python tiling, stitching and rounding must still produce them, so neither side can drift."""

import numpy as np
from golden_tiling import PATH, stub, text


def test_python_still_produces_the_shared_golden_vectors():
    assert PATH.read_text() == text(), "rewrite with: python tests/golden_tiling.py, and rerun the JVM tests"


def test_the_stub_depends_on_tile_borders():
    """Otherwise the golden output would not show a wrong plan: a tile's maximum at its edge
    differs from the whole image's maximum there."""
    image = np.zeros((1, 4, 4, 1), np.float32)
    image[0, 2, 2] = 1
    assert stub(image[:, :2, :2], 1).max() == 0 and stub(image, 1)[0, 1, 1, 0] == 1
