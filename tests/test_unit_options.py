"""The unit options: estimators, balanced weights and attention in BBCU (``bbcu-att``), and
the binary-weight SRResNet (``srresnet-bw``): configuration, complexity, and the conversion
guarantee of every network (each binary conv with binary inputs an LceBconv2d; Keras and
.tflite within 50 dB on a real image)."""

from lce_models.data.images import sample_image
from lce_models.evaluation.metrics import agreement
from lce_models.models import NetworkConfig, build_model
from lce_models.models.complexity import count
from lce_models.models.freezing import freeze
from lce_models.models.registry import ConfigurationError

import numpy as np
import pytest
from conftest import randomize_weights

from converters.tflite import convert_checked
from converters.verify import run_tflite

TRICKS = {"estimator": "ede", "weight_estimator": "swish", "balanced": True, "weight_scale": "pow2"}


@pytest.mark.parametrize(
    "config,binary,census",
    [
        (NetworkConfig("bbcu-att", 4, depth=2), 4, {"FULLY_CONNECTED": 8, "LOGISTIC": 4, "MEAN": 4}),
        (NetworkConfig("bbcu-att", 4, depth=2, unit_options={"attention": "spatial", **TRICKS}), 4,
         {"REDUCE_MAX": 4, "CONCATENATION": 4, "CONV_2D": 5 + 4}),
        (NetworkConfig("bbcu-l", 2, depth=2, padding="one", unit_options=TRICKS), 4, {"CONV_2D": 4}),
        (NetworkConfig("srresnet-bw", 4, depth=2), 0, {"CONV_2D": 5 + 4}),
    ],
)
def test_converts_and_agrees_on_a_real_image(config, binary, census):
    model = randomize_weights(build_model(config, (24, 32), batch_size=1), seed=21)
    flatbuffer, ops = convert_checked(model)  # raises unless every binary conv is an LceBconv2d
    assert ops["LceBconv2d"] == binary
    assert {op: ops[op] for op in census} == census  # the float attention ops, counted
    x = sample_image(24, 32, 3)[None]
    assert agreement(model(x, training=False).numpy(), run_tflite(flatbuffer, x)).psnr_db >= 50.0


@pytest.mark.parametrize("options", [{"attention": "spatial", **TRICKS}, {"estimator": "ede"}, {"balanced": True}])
def test_freezing_the_custom_quantizers_changes_no_output(options):
    config = NetworkConfig("bbcu-att", 2, depth=1, unit_options=options)
    model = randomize_weights(build_model(config), seed=22)
    frozen = freeze(model)
    assert frozen is not model
    x = sample_image(20, 28, 3)[None]
    np.testing.assert_allclose(frozen(x, training=False).numpy(), model(x, training=False).numpy(), atol=1e-5)


def test_unit_options_resolve_with_the_network_defaults():
    att = NetworkConfig("bbcu-att").resolved()
    assert att.unit_options["attention"] == "channel" and att.unit_options["estimator"] == "approx"
    assert NetworkConfig("bbcu-att", unit_options={"attention": "none"}).resolved().unit_options == \
        NetworkConfig("bbcu-l").resolved().unit_options
    assert NetworkConfig("srresnet-bw").resolved().unit_options is None


@pytest.mark.parametrize(
    "config,message",
    [
        (NetworkConfig("bbcu-l", unit_options={"estimator": "tanh"}), "unknown sign estimator"),
        (NetworkConfig("bbcu-att", unit_options={"attention": "pixel"}), "unknown attention"),
        (NetworkConfig("bbcu-l", unit_options={"colour": 1}), "unit_options"),
        (NetworkConfig("bsrn", unit_options={"estimator": "ste"}), "no BBCU units"),
        (NetworkConfig("srresnet-bw", padding="one"), "float network"),
    ],
)
def test_bad_unit_options_are_one_clear_error(config, message):
    with pytest.raises(ConfigurationError, match=message):
        config.resolved()


def test_complexity_counts_attention_and_binary_weights():
    plain = count(build_model(NetworkConfig("bbcu-l", 4), (180, 320), batch_size=1))
    att = count(build_model(NetworkConfig("bbcu-att", 4), (180, 320), batch_size=1))
    # 32 squeeze-excitations of 64 channels, reduction 16: 2 * 64 * 4 MACs and 580 params each
    assert att.flops - plain.flops == 32 * 2 * 64 * 4
    assert att.params - plain.params == 32 * 580
    fp = count(build_model(NetworkConfig("srresnet-fp", 4), (180, 320), batch_size=1))
    bw = count(build_model(NetworkConfig("srresnet-bw", 4), (180, 320), batch_size=1))
    assert bw.bops == 0 and bw.flops == fp.flops  # float inputs: no binary op
    body_weights = 32 * 9 * 64 * 64
    assert bw.binary_params == body_weights and fp.params - bw.params == pytest.approx(
        body_weights * 31 / 32 + 32 * 64, rel=1e-6)  # float biases become LearnableBias (other)
