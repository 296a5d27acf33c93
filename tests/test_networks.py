"""Networks by name: shapes, configuration errors, and the paper's complexity figures."""

from dataclasses import asdict

from lce_models.models import NETWORKS, NetworkConfig, build_model
from lce_models.models.bconv import BinaryConv2D
from lce_models.models.complexity import PAPER_INPUT, count
from lce_models.models.registry import ConfigurationError
from lce_models.models.units import UnitOptions

import numpy as np
import pytest

SR = [(n, s) for n, spec in NETWORKS.items() if spec.task == "sr" for s in spec.scales]


@pytest.mark.parametrize("name,scale", SR + [("bbcu-dn", 1), ("bbcu-car", 1)])
def test_output_shape_any_input_size(name, scale):
    model = build_model(NetworkConfig(name, scale, depth=1))
    c = model.config.channels
    y = model(np.random.rand(2, 7, 5, c).astype(np.float32))
    assert y.shape == (2, 7 * scale, 5 * scale, c)


def test_defaults_resolve_from_the_registry():
    assert NetworkConfig("bbcu-l").resolved() == NetworkConfig(
        "bbcu-l", scale=4, channels=3, n_feats=64, depth=16, variant="v4", padding="zero", k=130.0,
        global_residual="bilinear", unit_options=asdict(UnitOptions()),
    )
    assert NetworkConfig("bbcu-car").resolved().channels == 1
    assert NetworkConfig("bbcu-dn").resolved().depth == 18
    assert NetworkConfig("bbcu-m", n_feats=32).resolved().k == 65.0  # 130 * n_feats / 64
    assert NetworkConfig("bbcu-l", variant="v2").resolved().k == 1.0  # no residual alignment
    assert NetworkConfig("bbcu-l", variant="v3").resolved().k == 130.0
    assert NetworkConfig("srresnet-fp").resolved().k == 1.0


@pytest.mark.parametrize(
    "config,message",
    [
        (NetworkConfig("edsr"), "unknown network"),
        (NetworkConfig("bbcu-l", scale=8), "supports scale 2, 3, 4"),
        (NetworkConfig("bbcu-dn", scale=2), "supports scale 1"),
        (NetworkConfig("bbcu-m", variant="v9"), "unknown BBCU variant"),
        (NetworkConfig("bbcu-m", padding="reflect"), "unknown padding"),
        (NetworkConfig("srresnet-fp", padding="one"), "float network"),
        (NetworkConfig("bbcu-dn", channels=4), "channels must be"),
    ],
)
def test_bad_configurations_are_one_clear_error(config, message):
    with pytest.raises(ConfigurationError, match=message):
        build_model(config)


def test_binary_layers_per_network():
    def binary_convs(name, scale):
        model = build_model(NetworkConfig(name, scale))
        return sum(isinstance(layer, BinaryConv2D) for layer in model.layers)

    assert binary_convs("bbcu-l", 4) == 32
    assert binary_convs("bbcu-m", 4) == 32 + 2 + 1  # body, two BBCU-U, binary HR conv
    assert binary_convs("bbcu-m", 3) == 32 + 1 + 1
    assert binary_convs("bbcu-dn", 1) == 18
    assert binary_convs("srresnet-fp", 2) == 0


# BBCU paper, Table 1: OPs (G) and Params (K) at a 320x180 LR input.
TABLE_1 = [("bbcu-l", 4, 79.20, 372), ("bbcu-m", 4, 3.95, 51), ("bbcu-l", 2, 18.55, 225), ("bbcu-m", 2, 1.83, 46)]


@pytest.mark.parametrize("name,scale,gops,kparams", TABLE_1)
def test_complexity_reproduces_paper_table_1(name, scale, gops, kparams):
    c = count(build_model(NetworkConfig(name, scale), PAPER_INPUT, batch_size=1))
    assert c.ops / 1e9 == pytest.approx(gops, rel=0.03)
    assert c.params / 1e3 == pytest.approx(kparams, rel=0.03)


def test_complexity_needs_fixed_shape():
    with pytest.raises(ValueError, match="fixed input shape"):
        count(build_model(NetworkConfig("bbcu-l", 2, depth=1)))
