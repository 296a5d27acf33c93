"""Bit accumulation (BSRN): the weight and activation equations against numpy, the ablations,
freezing, conversion of an HPB block, and the paper's Table 3 totals."""

from lce_models.data.images import sample_image
from lce_models.evaluation.metrics import agreement
from lce_models.models import NetworkConfig, build_model, model_card
from lce_models.models.bam import HPB, LB, VARIANTS, ActivationAccumulator, BAMConv2D, BAMOptions, Group
from lce_models.models.complexity import PAPER_INPUT, count
from lce_models.models.freezing import freeze
from lce_models.models.registry import ConfigurationError

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from conftest import randomize_weights
from test_units import np_rounded

from converters.tflite import convert_checked
from converters.verify import run_tflite


def sign(x):
    return np.where(x >= 0, 1.0, -1.0)


def lb_model(options=BAMOptions(), channels=8, size=(6, 7), padding="zero"):
    x = keras.Input((*size, channels), batch_size=1)
    return keras.Model(x, LB(options, padding, name="lb")(x, Group()))


def np_standardize(k):
    mean = k.mean(axis=(0, 1, 2), keepdims=True)
    return (k - mean) / np.sqrt(k.var(axis=(0, 1, 2), keepdims=True) + 1e-12)


def np_bam_kernels(convs, o):
    """Paper Eq. 3-6 in numpy for one LB block (3x3, 1x1, 1x1), with our documented choices."""
    latents = [c.kernel.numpy().astype(np.float64) for c in convs]
    signs, kernels = [], []
    for n, w in enumerate(latents):
        if o.weights == "none" or n == 0:
            s = w
        else:
            fit = (lambda t: t[1:2, 1:2]) if o.reduce == "center" else (lambda t: t.mean((0, 1), keepdims=True))
            earlier = latents[:n] if o.weight_terms == "latent" else signs
            terms = [fit(t) if t.shape[0] != w.shape[0] else t for t in earlier]
            terms.append(w if o.weight_terms == "latent" else sign(w))
            if o.weights == "solved":
                a = np.stack([
                    np.linalg.lstsq(np.stack([t[..., j].ravel() for t in terms], 1), w[..., j].ravel(), rcond=None)[0]
                    for j in range(w.shape[-1])
                ], 1)
            elif o.weights == "learned":
                a = convs[n].coefficients.numpy()
            else:
                a = np.ones((len(terms), w.shape[-1]))
            s = sum(a[i] * t for i, t in enumerate(terms))
        b = sign(np_standardize(s) if o.weight_norm == "standardize" else s)
        signs.append(b)
        kernels.append(b * np.abs(w).mean(axis=(0, 1, 2)))
    return kernels


OPTION_CASES = [
    BAMOptions(),
    BAMOptions(weights="learned"),
    BAMOptions(weights="ones"),
    BAMOptions(weights="none"),
    BAMOptions(reduce="mean"),
    BAMOptions(weight_norm="none"),
    BAMOptions(weight_terms="latent", weights="ones"),
]


@pytest.mark.parametrize("options", OPTION_CASES, ids=str)
def test_accumulated_weights_match_numpy(options):
    model = randomize_weights(lb_model(options), seed=5)
    convs = [layer for layer in model.layers if isinstance(layer, BAMConv2D)]
    assert [c.kernel.shape[:2] for c in convs] == [(3, 3), (1, 1), (1, 1)]
    for got, want in zip(convs, np_bam_kernels(convs, options)):
        np.testing.assert_allclose(got.quantized_kernel().numpy(), want, rtol=1e-5, atol=1e-7)


def test_solved_coefficients_are_the_least_squares_fit():
    """Eq. 6: no other combination of the same terms is closer to W_n."""
    model = randomize_weights(lb_model(), seed=6)
    conv = model.get_layer("lb_conv1x1b_bconv")
    terms = [conv.sources[0].binary_sign()[1:2, 1:2], conv.sources[1].binary_sign(), tf.sign(conv.kernel)]
    from lce_models.models.bam import solve_coefficients

    a = solve_coefficients(conv.kernel, terms).numpy()
    residual = lambda c: np.sum((conv.kernel.numpy() - sum(c[i] * t.numpy() for i, t in enumerate(terms))) ** 2)  # noqa: E731
    best = residual(a)
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert residual(a + rng.normal(0, 1e-3, a.shape)) > best


def test_latent_terms_make_solved_coefficients_degenerate():
    """Why the default accumulates 1-bit terms: with float terms Eq. 6 returns a = e_n."""
    model = randomize_weights(lb_model(BAMOptions(weight_terms="latent")), seed=7)
    conv = model.get_layer("lb_conv1x1b_bconv")
    from lce_models.models.bam import solve_coefficients

    terms = [s.kernel[1:2, 1:2] if s.kernel.shape[0] == 3 else s.kernel for s in conv.sources] + [conv.kernel]
    np.testing.assert_allclose(solve_coefficients(conv.kernel, terms).numpy(), np.eye(3)[:, [2]] * np.ones((1, 8)),
                               atol=1e-4)


def test_activation_accumulation_matches_eq_10(rng):
    a = [rng.normal(size=(2, 4, 5, 6)).astype(np.float32) for _ in range(3)]
    layer = ActivationAccumulator("learned")
    layer(a)
    layer.set_weights([np.array([0.5, -2.0, 1.5], np.float32)])
    want = sum(s * x.mean(-1, keepdims=True) * x for s, x in zip([0.5, -2.0, 1.5], a))
    np.testing.assert_allclose(layer(a).numpy(), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ActivationAccumulator("ones")(a).numpy(), sum(a), rtol=1e-6)


def np_conv(x, kernel, pad_value):
    k = kernel.shape[0]
    p = k // 2
    xp = np.pad(x, ((p, p), (p, p), (0, 0)), constant_values=pad_value)
    h, w, _ = x.shape
    return sum(xp[dy : dy + h, dx : dx + w] @ kernel[dy, dx] for dy in range(k) for dx in range(k))


@pytest.mark.parametrize("padding", ["zero", "one"])
def test_lb_block_forward_matches_numpy(padding, rng):
    """x + BinConv(Sign(BN(sum_i b_i A_i))) three times, long- and short-range groups."""
    model = randomize_weights(lb_model(padding=padding), seed=8)
    x = rng.normal(size=(1, 6, 7, 8)).astype(np.float32)
    inputs, a = [], x[0]
    for suffix, group in (("conv3x3", ()), ("conv1x1a", (0,)), ("conv1x1b", (0, 1))):
        inputs.append(a)
        terms = [inputs[i] for i in group] + [a]
        scales = model.get_layer(f"lb_{suffix}_accumulate").get_weights()[0]
        acc = sum(s * t.mean(-1, keepdims=True) * t for s, t in zip(scales, terms))
        gamma, beta, mean, var = model.get_layer(f"lb_{suffix}_bn").get_weights()
        z = (acc - mean) / np.sqrt(var + 1e-5) * gamma + beta
        kernel = model.get_layer(f"lb_{suffix}_bconv").quantized_kernel().numpy()
        kernel = sign(kernel) * np_rounded(np.abs(kernel).max(axis=(0, 1, 2)))  # the conv rounds alpha
        a = a + np_conv(sign(z), kernel, 0.0 if padding == "zero" else 1.0)
    np.testing.assert_allclose(model(x, training=False).numpy()[0], a, rtol=1e-4, atol=1e-4)


def test_gradients_reach_the_earlier_convolutions_of_a_group():
    model = lb_model()
    first, last = model.get_layer("lb_conv3x3_bconv"), model.get_layer("lb_conv1x1b_bconv")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(last.quantized_kernel() * tf.random.normal(last.kernel.shape))
    grads = tape.gradient(loss, [first.kernel, last.kernel])
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_ablations_select_what_table_4_removes():
    def built(variant):
        return build_model(NetworkConfig("bsrn", 2, depth=1, variant=variant))

    def layers(model, cls):
        return [layer for layer in model.layers if isinstance(layer, cls)]

    assert all(c.sources == () for c in layers(built("w2"), BAMConv2D))
    assert [len(c.sources) for c in layers(built("bam"), BAMConv2D)] == [0, 1, 2, 1, 1, 2]
    assert not layers(built("a2"), ActivationAccumulator)
    a1 = layers(built("a1"), ActivationAccumulator)
    assert a1 and all(acc.mode == "ones" and not acc.weights for acc in a1)
    assert all(c.coefficients.shape[0] == len(c.sources) + 1 for c in layers(built("bam-learned"), BAMConv2D))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_freezing_keeps_the_outputs(variant, rng):
    model = randomize_weights(build_model(NetworkConfig("bsrn", 3, depth=2, variant=variant)), seed=9)
    frozen = freeze(model)
    assert not any(isinstance(layer, BAMConv2D) for layer in frozen.layers)
    assert frozen.config == model.config
    x = rng.random((1, 7, 9, 3), np.float32)
    want = model(x).numpy()  # eager, as validation during training calls it
    np.testing.assert_allclose(model(x, training=False).numpy(), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(frozen(x, training=False).numpy(), want, rtol=1e-5, atol=1e-4)
    assert freeze(frozen) is frozen  # nothing left to freeze
    for conv in (layer for layer in model.layers if isinstance(layer, BAMConv2D)):
        # the frozen kernel's mean|W| gives back the same rounded alpha
        np.testing.assert_array_equal(frozen.get_layer(conv.name).alpha(), conv.alpha())


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_hpb_block_converts_every_binary_conv_and_matches_keras(variant, rng):
    """The conversion guarantee for one block: 6 LceBconv2d, within 1e-4 on random inputs."""
    x = keras.Input((8, 8, 16), batch_size=1)
    model = keras.Model(x, HPB(2, VARIANTS[variant], name="hpb")(x))
    model = randomize_weights(model, seed=10)
    flatbuffer, census = convert_checked(model)
    assert census["LceBconv2d"] == 6 and census["CONV_2D"] == 0
    inputs = rng.normal(size=(3, 8, 8, 16)).astype(np.float32)
    assert agreement(model(inputs, training=False).numpy(), run_tflite(flatbuffer, inputs)).max_abs_diff <= 1e-4


# Xin et al., ECCV 2020, Table 3: Params (K) and MACs (G) for a 1280x720 output (x4).
TABLE_3 = [("bsrn", 1216, 85.0), ("srresnet-bam", 1547, 127.9)]


@pytest.mark.parametrize("name,kparams,gmacs", TABLE_3)
def test_complexity_reproduces_paper_table_3(name, kparams, gmacs):
    c = count(build_model(NetworkConfig(name, 4), PAPER_INPUT, batch_size=1))
    assert c.trainable_params / 1e3 == pytest.approx(kparams, rel=0.005)
    assert c.macs / 1e9 == pytest.approx(gmacs, rel=0.005)


def test_vdsr_bam_counts_as_vdsr():
    """Table 3's VDSR_BAM figures are not at hand; its topology is checked against VDSR's own
    (Kim et al., CVPR 2016, on luma): 665K conv parameters and 612.6G multiply-accumulates for
    a 1280x720 output (the figures of the CARN paper's Table 2), binary weights at full count."""
    c = count(build_model(NetworkConfig("vdsr-bam", 4, channels=1), PAPER_INPUT, batch_size=1))
    biases = 64 + 1  # of the two float convs (the binary ones have none)
    assert round((c.float_conv_params - biases + c.binary_params) / 1e3) == 665
    assert round(c.macs / 1e9, 1) == 612.6


@pytest.mark.parametrize(
    "config,message",
    [
        (NetworkConfig("bsrn", variant="v4"), "unknown BAM variant"),
        (NetworkConfig("bsrn", bam_options={"reduce": "max"}), "BAM reduce must be one of"),
        (NetworkConfig("bsrn", bam_options={"colour": "red"}), "bam_options"),
        (NetworkConfig("bbcu-l", bam_options={"reduce": "mean"}), "no bit accumulation"),
        (NetworkConfig("srresnet-bam", padding="reflect"), "unknown padding"),
        (NetworkConfig("bsrn", global_residual="nearest"), "global_residual must be one of"),
        (NetworkConfig("bbcu-l", global_residual="none"), "always adds the bilinear"),
        (NetworkConfig("vdsr-bam", global_residual="bilinear"), "always adds the bicubic"),
        (NetworkConfig("bbcu-dn", global_residual="bilinear"), "no global_residual"),
    ],
)
def test_bad_bam_configurations_are_one_clear_error(config, message):
    with pytest.raises(ConfigurationError, match=message):
        config.resolved()


def test_model_card_round_trip_keeps_the_options(tmp_path, rng):
    config = NetworkConfig("srresnet-bam", 2, depth=1, variant="bam-learned", bam_options={"reduce": "mean"})
    model = randomize_weights(build_model(config), seed=12)
    loaded = model_card.load(model_card.save(model, tmp_path / "m.json"))
    assert loaded.config == model.config and loaded.config.bam_options["reduce"] == "mean"
    x = rng.random((1, 5, 6, 3), np.float32)
    np.testing.assert_array_equal(loaded(x, training=False).numpy(), model(x, training=False).numpy())


def test_configuration_resolves_the_options():
    c = NetworkConfig("bsrn", variant="a1", bam_options={"reduce": "mean"}).resolved()
    assert (c.n_feats, c.depth, c.k) == (48, 20, 130.0)
    assert NetworkConfig("bsrn", k=1).resolved().k == 1.0  # the paper's network
    assert NetworkConfig("srresnet-bam").resolved().k == 1.0
    assert c.bam_options == {**BAMOptions(activations="ones", reduce="mean").to_dict()}
    assert c.global_residual == "bilinear"


@pytest.mark.parametrize("name", ["bsrn", "srresnet-bam"])
@pytest.mark.parametrize("residual", ["bilinear", "none"])
def test_global_residual_adds_the_bilinear_upscale(name, residual, rng):
    """With the last conv zeroed the network's output is exactly its global residual: the
    bilinear x2 upscale of the input, or nothing (the papers' EDSR-style network)."""
    model = build_model(NetworkConfig(name, 2, depth=1, global_residual=residual))
    last = model.get_layer("last_conv")
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])
    x = rng.random((1, 5, 6, 3), np.float32)
    expected = tf.image.resize(x, (10, 12), "bilinear") if residual == "bilinear" else np.zeros((1, 10, 12, 3))
    np.testing.assert_allclose(model(x, training=False).numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("name,binary_convs", [("bsrn", 120), ("srresnet-bam", 32), ("vdsr-bam", 18)])
def test_whole_network_converts_and_agrees_on_a_real_image(name, binary_convs):
    """The whole-network conversion guarantee, at full depth, through ``convert_checked`` (which
    freezes). For bsrn it holds with its default k = 130; with the paper's k = 1 rounding-level
    sign flips cascade over the 120 binary steps (README, "Sign flips cascade")."""
    model = randomize_weights(build_model(NetworkConfig(name, 4), (12, 16), batch_size=1), seed=13)
    flatbuffer, census = convert_checked(model)
    assert census["LceBconv2d"] == binary_convs
    x = sample_image(12, 16, 3)[None]
    assert agreement(model(x, training=False).numpy(), run_tflite(flatbuffer, x)).psnr_db >= 50.0
