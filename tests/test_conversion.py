"""The conversion guarantee: every binary convolution becomes an LceBconv2d, and the
flatbuffer computes what Keras computes."""

from lce_models.data.images import sample_image
from lce_models.evaluation.metrics import agreement
from lce_models.models import NETWORKS, NetworkConfig, build_model, exact, model_card
from lce_models.models.units import PADDINGS, PARTS, VARIANTS
from lce_models.runtimes.flatbuffer import op_census

import larq_compute_engine as lce
import numpy as np
import pytest
import tf_keras as keras
from conftest import randomize_weights
from test_units import unit_model

from converters.emulation import emulate
from converters.export import export, keras_references, probes
from converters.tflite import ConversionError, check_lowering, convert, convert_checked, with_fixed_shape
from converters.verify import run_tflite, sign_flips

# BAM networks (slow to convert whole) have their own whole-network tests in test_bam;
# bbcu-att's in test_tools (through tools/convert.py). srresnet-bw shares its upsampler with
# srresnet-fp: x4 alone shows its body converts.
ALL_NETWORKS = [(n, s) for n, spec in NETWORKS.items() if spec.family.name != "bam" and n != "bbcu-att"
                for s in spec.scales if n != "srresnet-bw" or s == 4] + [("bbcu-dn-gray", 1)]
#: Full depth at x4 (and for the single-scale networks); the x2 / x3 upsamplers at depth 2.
SHALLOW_DEPTH = 2


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("padding", sorted(PADDINGS))
def test_unit_variant_converts_exactly(variant, padding, rng):
    model = randomize_weights(unit_model(variant=variant, padding=padding, size=(8, 8)), seed=7)
    flatbuffer, census = convert_checked(model)
    # MUL: BinaryConv2D's multiply by alpha (after its exact sums) is folded into the LceBconv2d
    assert census["LceBconv2d"] == 1 and census["CONV_2D"] == 0 and census["MUL"] == 0
    x = rng.normal(size=(3, 8, 8, 4)).astype(np.float32)
    assert agreement(model(x, training=False).numpy(), run_tflite(flatbuffer, x)).max_abs_diff <= 1e-4


@pytest.mark.parametrize("part,channels,kwargs", [("H", 3, {"filters": 8}), ("U", 4, {}), ("T", 8, {"filters": 3})])
@pytest.mark.parametrize("padding", sorted(PADDINGS))
def test_part_variant_converts_exactly(part, channels, kwargs, padding, rng):
    model = unit_model(part, padding=padding, channels=channels, size=(8, 8), **kwargs)
    flatbuffer, _ = convert_checked(randomize_weights(model, seed=11))
    x = rng.normal(size=(3, 8, 8, channels)).astype(np.float32)
    assert agreement(model(x, training=False).numpy(), run_tflite(flatbuffer, x)).max_abs_diff <= 1e-4


def network(name, scale):
    channels = 1 if name == "bbcu-dn-gray" else None
    depth = SHALLOW_DEPTH if scale in (2, 3) else None
    config = NetworkConfig(name.removesuffix("-gray"), scale, channels=channels, depth=depth)
    return randomize_weights(build_model(config, (12, 16), batch_size=1), seed=13)


@pytest.mark.parametrize("name,scale", ALL_NETWORKS)
def test_network_converts_and_agrees_on_a_real_image(name, scale):
    model = network(name, scale)
    flatbuffer, census = convert_checked(model)
    assert set(census) & {"LceBconv2d", "CONV_2D"}
    x = sample_image(12, 16, model.config.channels)[None]
    result = agreement(model(x, training=False).numpy(), run_tflite(flatbuffer, x))
    print(f"{name} x{scale}: {dict(census)} {result}")
    assert result.psnr_db >= 50.0


@pytest.mark.parametrize("name,scale", [("bbcu-dn", 1), ("bbcu-m", 4)])
def test_sign_flip_share_between_keras_and_lce(name, scale):
    """Reported, not hidden. In bbcu-m the probed tensors have several shapes, so a mix-up of
    the converter's reordered outputs would fail here rather than pass as a large share."""
    model = network(name, scale)
    share, _ = sign_flips(model, sample_image(12, 16)[None])
    print(f"{name}: {share:.3%} signs flipped")
    assert 0.0 <= share < 0.01


def test_first_flip_names_where_signs_first_differ_from_the_reference():
    model = NetworkConfig("bbcu-dn", depth=3)
    model = randomize_weights(build_model(model, (12, 16), batch_size=1), seed=13)
    x = sample_image(12, 16)[None]
    assert sign_flips(model, x, emulate(model))[1] is None  # LCE's arithmetic, and no flip here
    convs = [layer.name for layer in model.layers if type(layer).__name__ == "BinaryConv2D"]
    # a reference whose second binary conv has the opposite weights: the third conv's
    # inputs are the first to differ in sign, and its own inputs do not
    reference = keras.models.clone_model(model)
    reference.set_weights(model.get_weights())
    second = reference.get_layer(convs[1])
    second.set_weights([-w for w in second.get_weights()])
    _, first = sign_flips(model, x, reference)
    assert first.layer == convs[2] and 0 < first.flipped <= first.size == 12 * 16 * 64
    assert first.nearest_zero >= 0 and first.layer in str(first)


def test_shipped_model_converts_with_margin():
    """bbcu-m x2 at 24x32 was the worst shipped conversion (49.8 dB, a cascade of sign flips from
    LCE's output transform) until its convs' constants were made exact (``exact``)."""
    model = model_card.load(model_card.WEIGHTS_DIR / "bbcu-m_x2.json", (24, 32), batch_size=1)
    artifact = export(model, "tflite", keras_references(model, probes((24, 32), 3)), sign_flips=False)
    assert artifact.worst_psnr_db >= 60.0, {k: a.psnr_db for k, a in artifact.checks.items()}


def test_unknown_spatial_size_is_refused():
    model = build_model(NetworkConfig("bbcu-dn", depth=1))
    with pytest.raises(ConversionError, match="must be fixed"):
        convert(model)
    fixed = with_fixed_shape(model, (8, 8))
    assert fixed.input_shape == (1, 8, 8, 3)
    np.testing.assert_array_equal(fixed.get_weights()[0], model.get_weights()[0])


def test_lowering_check_catches_what_lce_only_logs():
    """Converted with no fixed size, LCE cannot lower the +1-padded binary conv: it leaves a
    float ``Conv2D`` custom op that no runtime implements. The census check must refuse it."""
    model = unit_model(padding="one", size=(None, None))
    census = op_census(lce.convert_keras_model(model))
    assert census["LceBconv2d"] == 0 and census["Conv2D"] == 1
    with pytest.raises(ConversionError, match="1 binary convolutions but 0 LceBconv2d.*Conv2D"):
        check_lowering(model, census)


def test_lowering_check_counts_float_convolutions():
    x = keras.Input((8, 8, 4), batch_size=1)
    model = keras.Model(x, keras.layers.Conv2D(4, 3, padding="same")(PARTS["B"]()(x)))
    flatbuffer, census = convert_checked(model)
    assert census["CONV_2D"] == 1 and census["LceBconv2d"] == 1
    census["CONV_2D"] -= 1
    with pytest.raises(ConversionError, match="CONV_2D"):
        check_lowering(model, census)


@pytest.mark.parametrize("padding,bias", [("one", False), ("one", True), ("zero", False)])
def test_lce_transform_emulation_is_the_flatbuffer_bit_for_bit(padding, bias, rng):
    # A unit whose binary conv LCE folds alpha, the conv's bias and RPReLU's input shift into:
    # Keras rounds (K - 2a) * alpha + b + s its own way; the emulation, LCE's way, exactly;
    # with zero padding, also LCE's correction of the borders after the transform.
    # Eager: predict's graph lets grappler reorder the residual sum, which the flatbuffer does not.
    model = randomize_weights(unit_model(padding=padding, channels=16, size=(8, 8), bias=bias), seed=5)
    flatbuffer, _ = convert_checked(model)
    x = rng.normal(size=(4, 8, 8, 16)).astype(np.float32)
    got = run_tflite(flatbuffer, x)
    assert np.array_equal(emulate(model)(x, training=False).numpy(), got)
    assert not np.array_equal(model(x, training=False).numpy(), got)  # else this would show nothing


@pytest.mark.parametrize("padding,bias", [("one", False), ("one", True), ("zero", False)])
def test_shifts_on_alpha_grid_make_keras_the_flatbuffer_bit_for_bit(padding, bias, rng):
    # The same units with b and s on alpha's grid (as model cards load them): LCE's transform
    # and Keras's sums are then exact, and the two agree bit for bit. Eager, as above.
    model = randomize_weights(unit_model(padding=padding, channels=16, size=(8, 8), bias=bias), seed=5)
    assert exact.check(model) == ["u_bconv"]
    exact.snap_shifts(model)
    assert exact.check(model) == []
    x = rng.normal(size=(4, 8, 8, 16)).astype(np.float32)
    assert np.array_equal(model(x, training=False).numpy(), run_tflite(convert_checked(model)[0], x))
