"""ONNX export: dynamic size, binary weights folded, outputs equal to Keras."""

from lce_models.models import NetworkConfig, build_model

import numpy as np
import pytest
import tf_keras as keras
from conftest import randomize_weights

from converters.onnx import binary_weight_convs, check_binary_weights, convert, op_census, run_onnx, serialize
from converters.tflite import ConversionError


@pytest.mark.parametrize("name,scale", [("bbcu-l", 4), ("bbcu-m", 3), ("srresnet-fp", 2), ("bbcu-car", 1), ("bsrn", 3),
                                        ("srresnet-bam", 2)])
def test_onnx_matches_keras_at_any_size(name, scale, rng):
    model = randomize_weights(build_model(NetworkConfig(name, scale, depth=2)), seed=4)
    proto = convert(model)
    check_binary_weights(model, proto)
    data = serialize(proto)
    for h, w in ((9, 13), (16, 8)):
        x = rng.random((2, h, w, model.config.channels), np.float32)
        y = run_onnx(data, x)
        assert y.shape == (2, h * scale, w * scale, model.config.channels)
        np.testing.assert_allclose(y, model(x).numpy(), atol=1e-4)


def test_float_kernels_are_not_taken_for_binary_ones():
    x = keras.Input((None, None, 3))
    model = keras.Model(x, keras.layers.Conv2D(4, 3, padding="same")(x))
    model.config = None
    proto = convert(model)
    assert op_census(proto)["Conv"] == 1 and binary_weight_convs(proto) == 0


def test_check_fails_when_a_binary_conv_is_missing():
    model = build_model(NetworkConfig("bbcu-dn", depth=2))
    float_only = convert(keras.Model(model.input, model.get_layer("head_conv").output))
    with pytest.raises(ConversionError, match="2 binary"):
        check_binary_weights(model, float_only)
