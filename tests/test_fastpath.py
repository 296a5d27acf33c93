"""The x86-64 fast path in onnxruntime (converters/fastpath): every binarized convolution of
the exported graph becomes one BinaryConv3x3 run by the C kernel, and the whole network still
computes what Keras computes."""

import json

from lce_models.data.images import sample_image
from lce_models.evaluation.metrics import agreement
from lce_models.models import NetworkConfig, build_model, model_card
from lce_models.runtimes import bitpacked, receptive_field
from lce_models.runtimes.bitpacked import session as bitpacked_session

import numpy as np
import onnx
import pytest
from conftest import randomize_weights
from onnx import helper
from PIL import Image
from test_tools import tool

from converters import fastpath
from converters import onnx as onnx_export


def test_custom_op_is_the_kernel(rng):
    """One BinaryConv3x3 node in onnxruntime equals the NumPy specification, bit for bit, with
    and without its optional bias and threshold, in each instruction set this CPU runs."""
    from onnx import TensorProto, numpy_helper

    c, o = 70, 17
    alpha = rng.uniform(0.01, 1, o).astype(np.float32)
    kernel = (np.where(rng.normal(size=(o, c, 3, 3)) < 0, -1, 1) * alpha[:, None, None, None]).astype(np.float32)
    weights = bitpacked.PackedWeights(kernel)
    bias, threshold = rng.normal(size=o).astype(np.float32), rng.normal(size=c).astype(np.float32)
    x = rng.normal(size=(2, c, 9, 11)).astype(np.float32)
    constants = [numpy_helper.from_array(weights.bits.view(np.int64), "bits"),
                 numpy_helper.from_array(weights.alpha, "alpha"),
                 numpy_helper.from_array(weights.ones, "ones"), numpy_helper.from_array(bias, "bias"),
                 numpy_helper.from_array(threshold, "threshold")]
    cases = {(): (None, None), ("bias",): (bias, None), ("", "threshold"): (None, threshold),
             ("bias", "threshold"): (bias, threshold)}
    for pad, isa in [(pad, isa) for pad in bitpacked.PADS for isa in bitpacked.available_isas()]:
        for optional, (b, t) in cases.items():
            node = helper.make_node("BinaryConv3x3", ["x", "bits", "alpha", "ones", *optional], ["y"],
                                    domain=bitpacked_session.DOMAIN, pad_zero=int(pad == "zero"))
            graph = helper.make_graph(
                [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, c, None, None])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, o, None, None])], constants)
            proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                            helper.make_opsetid(bitpacked_session.DOMAIN, 1)])
            session = bitpacked_session.session(proto.SerializeToString(), 2, isa=isa)
            np.testing.assert_array_equal(session.run(None, {"x": x})[0],
                                          bitpacked.reference_conv3x3(x, kernel, pad, b, t),
                                          err_msg=f"{pad} {optional} {isa}")
    bitpacked_session.session(proto.SerializeToString())  # the best instruction set again for later sessions


@pytest.mark.parametrize("r", [1, 2])
def test_custom_op_runs_a_whole_unit(r, rng):
    """A BinaryConv3x3 with a unit's epilogue (slope, shift, residual, activation; shuffle) in
    onnxruntime equals the NumPy specification bit for bit, in each instruction set."""
    from onnx import TensorProto, numpy_helper

    c, o = 24, 24 * r * r
    kernel = (np.where(rng.normal(size=(o, c, 3, 3)) < 0, -1, 1) * 0.3).astype(np.float32)
    weights = bitpacked.PackedWeights(kernel)
    values = {"bias": rng.normal(size=o), "threshold": rng.normal(size=c), "slope": rng.normal(size=o),
              "shift": rng.normal(size=o), "activation": rng.normal(size=c)}
    constants = [numpy_helper.from_array(weights.bits.view(np.int64), "bits"),
                 numpy_helper.from_array(weights.alpha, "alpha"), numpy_helper.from_array(weights.ones, "ones")]
    constants += [numpy_helper.from_array(np.float32(v), k) for k, v in values.items()]
    node = helper.make_node("BinaryConv3x3",
                            ["x", "bits", "alpha", "ones", "bias", "threshold", "slope", "shift", "res", "activation"],
                            ["y"], domain=bitpacked_session.DOMAIN, pad_zero=1, nhwc=1, shuffle=r)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, None, None, c]) for n in ("x", "res")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, None, c])], constants)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid(bitpacked_session.DOMAIN, 1)])
    x, res = (rng.normal(size=(2, 5, 9, c)).astype(np.float32) for _ in range(2))
    expected = bitpacked.reference_unit(x, kernel, "zero", residual=res, shuffle=r,
                                        **{k: np.float32(v) for k, v in values.items()})
    for isa in bitpacked.available_isas():
        session = bitpacked_session.session(proto.SerializeToString(), 2, isa=isa)
        np.testing.assert_array_equal(session.run(None, {"x": x, "res": res})[0], expected, err_msg=isa)
    bitpacked_session.session(proto.SerializeToString())  # the best instruction set again for later sessions


@pytest.mark.parametrize("name,padding", [("bbcu-l", "zero"), ("bbcu-m", "one")])
def test_whole_network_against_keras(name, padding):
    """Shipped-size graphs (random weights, each padding): every binary conv rewritten, the
    output within 50 dB of Keras's on a photograph."""
    model = randomize_weights(build_model(NetworkConfig(name, 4, padding=padding)), seed=13)
    proto = fastpath.rewrite_checked(model, onnx_export.convert(model))
    census = fastpath.op_census(proto)
    assert census["BinaryConv3x3"] == {"bbcu-l": 32, "bbcu-m": 35}[name] and census["Sign"] == 0
    # every unit is one op: RSign's shift, RPReLU (tf2onnx's five-op PReLU, its output shift),
    # the residual and the upsamplers' broadcast add and shuffle all went into its
    # BinaryConv3x3; BBCU-M's LeakyRelu after its binary HR unit is a PRelu (the head's stays,
    # fused into its conv) and went into the HR unit's op too
    units = [n for n in proto.graph.node if n.op_type == "BinaryConv3x3"]
    assert all(len(n.input) >= 9 and n.input[8] for n in units)
    assert sum(len(n.input) == 10 for n in units) == {"bbcu-l": 0, "bbcu-m": 1}[name]
    assert sum(helper.get_attribute_value(next(a for a in n.attribute if a.name == "shuffle")) == 2
               for n in units) == {"bbcu-l": 0, "bbcu-m": 2}[name]
    assert census["PRelu"] == 0
    assert census["LeakyRelu"] == {"bbcu-l": 4, "bbcu-m": 1}[name] and census["Neg"] == census["Relu"] == 0
    names = [node.name for node in proto.graph.node]
    assert not any("rsign_shift" in n for n in names)
    # RPReLU's output shift left the residual stream: its running offset is added back once,
    # where the body ends; no unit's float op is left in the graph
    assert sum(n.endswith("_restored") for n in names) == 1 and census["Add"] == 2
    assert not any(n.endswith(("_copies", "add_prelu_shift")) for n in names)
    # BBCU-M's last conv (3 outputs, fed from the NHWC region) is a Gemm and a sum of shifted
    # taps; BBCU-L's follows a float conv in NCHW and stays a Conv
    assert census["Gemm"] == {"bbcu-l": 0, "bbcu-m": 1}[name] and census["Conv"] == {"bbcu-l": 5, "bbcu-m": 1}[name]
    # BBCU-M's upsamplers add their nearest-upsampled input in their op: only the bilinear
    # global residual is still a Resize; the binary part runs in NHWC, where BBCU-M's shuffles
    # are in the units (BBCU-L's follow float convs and stay NCHW DepthToSpace)
    assert census["Resize"] == 1 and census["DepthToSpace"] == {"bbcu-l": 2, "bbcu-m": 0}[name]
    assert census["Reshape"] == {"bbcu-l": 0, "bbcu-m": 2}[name]  # the last conv's, as a Gemm
    nhwc = [n for n in proto.graph.node if n.op_type == "BinaryConv3x3"]
    assert all(helper.get_attribute_value(next(a for a in n.attribute if a.name == "nhwc")) == 1 for n in nhwc)
    # the convolutions hidden in the fused ops still count for the tiles' overlap
    assert receptive_field.of_onnx(onnx.ModelProto.FromString(proto.SerializeToString())) == \
        receptive_field.of_keras(model) > 30
    x = sample_image(24, 32, 3)[None]
    assert agreement(model(x).numpy(), bitpacked_session.runner(proto.SerializeToString(), 2)(x)).psnr_db >= 50


@pytest.mark.parametrize("name", ["bbcu-dn", "bbcu-car", "bbcu-att"])
def test_the_other_bbcu_networks(name):
    """The denoiser and the JPEG network (biased binary convs, 1 channel) run as whole units,
    each unit one op with its residual; BBCU-ATT's units keep their float attention outside
    the op; every one within 50 dB of Keras."""
    config = NetworkConfig(name, 4 if name == "bbcu-att" else None, depth=3).resolved()
    model = randomize_weights(build_model(config), seed=7)
    proto = fastpath.rewrite_checked(model, onnx_export.convert(model))
    units = [n for n in proto.graph.node if n.op_type == "BinaryConv3x3"]
    fused = [n for n in units if len(n.input) >= 9 and n.input[8]]
    # an SR body's depth counts blocks of two units
    assert len(units) == config.depth * (2 if name == "bbcu-att" else 1)
    assert len(fused) == (0 if name == "bbcu-att" else len(units)), [n.input[6:] for n in units]
    x = sample_image(24, 32, config.channels)[None]
    assert agreement(model(x).numpy(), bitpacked_session.runner(proto.SerializeToString(), 2)(x)).psnr_db >= 50


def test_folded_output_shifts_keep_the_output(rng):
    """RPReLU's output shifts, moved out of the residual stream into the next sign's threshold,
    the upsampler's shift and one Add back: with shifts large enough to flip many signs if
    any of them landed in the wrong place, the graph still computes Keras's output."""
    model = randomize_weights(build_model(NetworkConfig("bbcu-m", 4, depth=3, padding="one")), seed=5)
    for var in model.weights:
        if "shift_out" in var.name:
            var.assign(rng.normal(0.0, 20.0, var.shape).astype(np.float32))
    proto = fastpath.rewrite_checked(model, onnx_export.convert(model))
    x = np.stack([sample_image(24, 32, 3), sample_image(24, 32, 3)[::-1]])  # a batch of two
    assert agreement(model(x).numpy(), bitpacked_session.runner(proto.SerializeToString(), 2)(x)).psnr_db >= 50


@pytest.mark.parametrize("name", ["bbcu-l", "bbcu-m"])
def test_shipped_model_through_the_tool(name, tmp_path, capsys):
    card = model_card.shipped(NetworkConfig(name, 4).resolved())
    argv = ["--model", str(card), "--to", "onnx-bitpacked", "--input-size", "24x32", "--out", str(tmp_path)]
    assert tool("convert")(argv) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / f"{name}_x4_24x32.report.json").read_text())["artifacts"]["onnx-bitpacked"]
    assert report["verification"]["photo"]["psnr_db"] >= 50
    model = tmp_path / f"{name}_x4.bitpacked.onnx"
    # the fast path as tools/upscale.py's backend, through the same file
    image = tmp_path / "in.png"
    Image.fromarray((sample_image(20, 28, 3) * 255).round().astype(np.uint8)).save(image)
    assert tool("upscale")([str(image), "--model", str(model), "-o", str(tmp_path / "out.png")]) == 0
    assert Image.open(tmp_path / "out.png").size == (112, 80)
