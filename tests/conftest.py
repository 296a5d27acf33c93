import os
import tempfile

# the fast path's converted graphs of shipped weights go to a cache of the tests' own (tools in
# child processes too), never the user's
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="lce_models_test_cache_")

import lce_models  # noqa: E402, F401  (selects Keras 2 before TensorFlow loads)
from lce_models.models.complexity import is_binary_conv  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tf_keras as keras  # noqa: E402


def is_float_conv(layer):
    return isinstance(layer, keras.layers.Conv2D) and not is_binary_conv(layer)


def randomize_weights(model, seed=0):
    """Move every weight away from its initial value, as training would, keeping its scale.

    Each weight is scaled by U(0.5, 1.5) and given noise of a tenth of its tensor's spread;
    zero-initialised shifts, which would sit exactly on the sign threshold, get N(0, 0.1);
    a scalar gets noise of a tenth of its magnitude.
    Float kernels outside residual blocks are also scaled by 10, undoing the 0.1 of BasicSR's
    initialisation, so that the learned branch, not the bilinear residual, dominates the
    output (inside the 16 float residual blocks of srresnet-fp that gain would compound).
    BatchNorm variances stay positive.
    """
    rng = np.random.default_rng(seed)
    layer_of = {v.ref(): layer for layer in model.layers for v in layer.weights}
    weights = []
    for var in model.weights:
        w = var.numpy()
        # a scalar (a layer's gain) has no spread: its own magnitude stands in
        spread = float(np.std(w) if w.size > 1 else np.abs(w).max()) or 1.0
        if "moving_variance" in var.name:
            w = w * rng.uniform(0.5, 2.0, w.shape)
        else:
            w = w * rng.uniform(0.5, 1.5, w.shape) + rng.normal(0.0, 0.1 * spread, w.shape)
            layer = layer_of[var.ref()]
            if "kernel" in var.name and is_float_conv(layer) and not layer.name.startswith("block"):
                w = w * 10.0
        weights.append(w.astype(np.float32))
    model.set_weights(weights)
    return model


@pytest.fixture(autouse=True)
def seeded_initializers():
    """Initial weights are drawn from Keras's global seed: fix it, so that a test sees the same
    network every run (a rare sign flip can then not come and go between runs)."""
    keras.utils.set_random_seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def tool_sized_process(monkeypatch):
    """Tools called in this process would count pytest's own memory (every model of the run so
    far) against their --max-memory: they see what a tool's process holds, about 600 MiB."""
    from lce_models.upscaling import budget

    monkeypatch.setattr(budget, "resident_bytes", lambda: 600 * 2**20)
