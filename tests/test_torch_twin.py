"""The PyTorch bridge (lce_models.torch_twin, tools/import_torch.py, tools/train_torch.py):
twins compute what the Keras networks compute, checkpoints laid out as the reference code
saves them import, and the result converts for LCE."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from lce_models.data.images import DATA_ROOT, sample_image
from lce_models.evaluation.metrics import agreement
from lce_models.models import NetworkConfig, build_model
from lce_models.models.bconv import ALPHA_BITS, rounded_alpha
from lce_models.torch_twin import checkpoint, mapping, modules, runs, sampler, training, verify
from lce_models.training.plan import TrainingPlan

from test_tools import tool  # noqa: E402
from test_units import alphas  # noqa: E402

from converters.tflite import convert_checked
from converters.verify import run_tflite

ROOT = Path(__file__).resolve().parent.parent
SET5_HR = DATA_ROOT / "test" / "Set5" / "HR"


def randomize_twin(twin, seed=0):
    """Move every parameter off its initial value: shifts off zero (so signs are not all
    those of the input), slopes off 0.25, kernels by a tenth of their spread."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in twin.parameters():
            spread = float(p.std()) if p.numel() > 1 and p.ndim == 4 else 0.1
            p.add_(torch.randn(p.shape, generator=g) * spread)
    return twin


def small(name, scale=None, padding="zero"):
    return mapping.check_config(NetworkConfig(name, scale, depth=2, padding=padding))


def test_sign_gradients_by_hand():
    x = torch.tensor([-1.5, -1.0, -0.5, 0.0, 0.25, 1.0, 2.0], requires_grad=True)
    y = modules.ApproxSign.apply(x)
    y.sum().backward()
    assert y.tolist() == [-1, -1, -1, 1, 1, 1, 1]  # sign(0) = +1, as larq and LCE
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 2.0, 1.5, 0.0, 0.0]  # 2 - 2|x| on [-1, 1]
    x.grad = None
    modules.SteSign.apply(x).sum().backward()
    assert x.grad.tolist() == [0, 1, 1, 1, 1, 1, 0]
    w = torch.tensor([[0.5, -2.0], [1.0, -0.5]]).reshape(2, 2, 1, 1).requires_grad_()
    binary = modules.magnitude_aware_sign(w)
    assert binary.flatten().tolist() == [1.25, -1.25, 0.75, -0.75]  # mean|W| per output channel
    binary.sum().backward()
    assert w.grad.flatten().tolist() == [1.25, 0.0, 0.75, 0.75]  # alpha times the clipped STE


def test_twin_rounds_alpha_as_the_keras_conv(rng):
    alpha = alphas(rng)
    assert modules.ALPHA_BITS == ALPHA_BITS
    np.testing.assert_array_equal(modules.rounded_alpha(torch.from_numpy(alpha)).numpy(), rounded_alpha(alpha).numpy())


@pytest.mark.parametrize("name", sorted(modules.NETWORKS))
def test_twin_defaults_are_the_networks(name):
    resolved = NetworkConfig(name).resolved()
    defaults = modules.NETWORKS[name]
    assert {k: getattr(resolved, k) for k in ("scale", "channels", "n_feats", "depth", "k")} == \
        {k: defaults[k] for k in ("scale", "channels", "n_feats", "depth", "k")}


# (network, scale, padding, binary units at depth 2: 2 blocks of 2; bbcu-m adds its upsampler
# stages and conv_hr; the DnCNNs have depth units)
ROUND_TRIPS = [("bbcu-l", 2, "zero", 4), ("bbcu-l", 4, "zero", 4), ("bbcu-m", 3, "zero", 6), ("bbcu-m", 4, "one", 7),
               ("bbcu-dn", None, "zero", 2), ("bbcu-car", None, "one", 2)]


@pytest.mark.parametrize("name,scale,padding,units", ROUND_TRIPS)
def test_round_trip_twin_checkpoint_keras_lce(name, scale, padding, units, tmp_path):
    """Random-init twin -> checkpoint file -> Keras -> LCE flatbuffer, each step checked."""
    config = small(name, scale, padding)
    torch.manual_seed(3)
    twin = randomize_twin(modules.build(config.to_dict())).eval()
    path = checkpoint.write(tmp_path / "net.pth", twin.state_dict())
    state, key, _ = checkpoint.read(path)
    assert key == "params"
    model = mapping.state_dict_to_keras(state, build_model(config, (12, 16), batch_size=1), config)
    figures = verify.verify(model, twin, config)
    assert figures["units"] == units
    assert figures["units_max_abs_diff"] <= verify.UNIT_TOLERANCE, figures
    assert figures["network"]["psnr_db"] >= verify.NETWORK_PSNR_DB, figures
    flatbuffer, census = convert_checked(model)
    x = sample_image(12, 16, config.channels)[None]
    assert agreement(model(x, training=False).numpy(), run_tflite(flatbuffer, x)).psnr_db >= 50.0
    assert census["LceBconv2d"] > 0


def reference_bbcu_sr_tensors(binary_upsampler, scale=4, blocks=2, c=64):
    """Names and shapes of a BasicSR checkpoint of the reference's BBCUL / BBCUM
    (``bbcul_arch.py``, ``bbcum_arch.py``, ``quant_convs_bbcu.py``), written out from
    those files, not from the twin."""
    def float_conv(name, out, inp):
        return {f"{name}.weight": (out, inp, 3, 3), f"{name}.bias": (out,)}

    def binary(prefix, inp, out):
        return {f"{prefix}.move0.bias": (1, inp, 1, 1), f"{prefix}.binary_conv.weight": (out, inp, 3, 3),
                f"{prefix}.relu.pr_bias0.bias": (1, out, 1, 1), f"{prefix}.relu.pr_prelu.weight": (out,),
                f"{prefix}.relu.pr_bias1.bias": (1, out, 1, 1)}

    tensors = float_conv("conv_first", c, 3)
    for b in range(blocks):
        for u in range(2):
            tensors |= binary(f"body.{b}.body.{u}", c, c)
    factors = (2, 2) if scale == 4 else (scale,)
    for i, r in enumerate(factors, 1):
        tensors |= binary(f"upconv{i}", c, c * r * r) if binary_upsampler else float_conv(f"upconv{i}", c * r * r, c)
    tensors |= binary("conv_hr", c, c) if binary_upsampler else float_conv("conv_hr", c, c)
    return tensors | float_conv("conv_last", 3, c)


def reference_dncnn_tensors(units=2, c=64, channels=3, bias=False):
    """A KAIR state dict of the reference's binary DnCNN (``network_dncnn_bin.py``, bias
    False; ``network_dncnn3_bin.py``, the JPEG one, bias True on every conv; ``B.sequential``
    flattens the head's conv + ReLU: model.0, model.1)."""
    tensors = {"model.0.weight": (c, channels, 3, 3), f"model.{units + 2}.weight": (channels, c, 3, 3)}
    if bias:
        tensors |= {"model.0.bias": (c,), f"model.{units + 2}.bias": (channels,)}
    for u in range(units):
        p = f"model.{u + 2}"
        tensors |= {f"{p}.move0.bias": (1, c, 1, 1), f"{p}.binary_conv.weight": (c, c, 3, 3),
                    f"{p}.relu.pr_bias0.bias": (1, c, 1, 1), f"{p}.relu.pr_prelu.weight": (c,),
                    f"{p}.relu.pr_bias1.bias": (1, c, 1, 1)} | ({f"{p}.binary_conv.bias": (c,)} if bias else {})
    return tensors


def random_state(tensors, seed):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=g) * 0.05 for k, shape in tensors.items()}


@pytest.mark.parametrize("name,scale", [("bbcu-l", 4), ("bbcu-m", 4), ("bbcu-m", 2)])
def test_basicsr_checkpoint_of_the_reference_imports_with_its_ema(name, scale, tmp_path):
    tensors = reference_bbcu_sr_tensors(name == "bbcu-m", scale)
    params, ema = random_state(tensors, 1), random_state(tensors, 2)
    torch.save({"params": params, "params_ema": ema}, tmp_path / "net_g_300000.pth")
    state, key, _ = checkpoint.read(tmp_path / "net_g_300000.pth")
    assert key == "params_ema" and np.array_equal(state["conv_first.weight"], ema["conv_first.weight"].numpy())
    config = small(name, scale)
    model = mapping.state_dict_to_keras(state, build_model(config), config)
    twin = modules.build(config.to_dict())
    twin.load_state_dict(ema)  # the twin's own names are the reference's
    figures = verify.verify(model, twin, config)
    assert figures["ok"], figures
    params_only, key, _ = checkpoint.read(tmp_path / "net_g_300000.pth", key="params")
    assert key == "params" and np.array_equal(params_only["conv_first.weight"], params["conv_first.weight"].numpy())


@pytest.mark.parametrize("name,channels,bias", [("bbcu-dn", 3, False), ("bbcu-car", 1, True)])
def test_kair_state_dict_of_the_reference_dncnn_imports(name, channels, bias, tmp_path):
    state = random_state(reference_dncnn_tensors(channels=channels, bias=bias), 4)
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "dncnn.pth")  # DataParallel's names
    loaded, key, _ = checkpoint.read(tmp_path / "dncnn.pth")
    assert key is None and set(loaded) == set(state)
    config = small(name)
    model = mapping.state_dict_to_keras(loaded, build_model(config), config)
    twin = modules.build(config.to_dict())
    twin.load_state_dict(state)
    assert verify.verify(model, twin, config)["ok"]


def test_import_tool_end_to_end_then_convert(tmp_path, capsys):
    """A full-depth BBCU-L x4 checkpoint through tools/import_torch.py and tools/convert.py."""
    torch.manual_seed(5)
    twin = randomize_twin(modules.build(NetworkConfig("bbcu-l").resolved().to_dict()))
    checkpoint.write(tmp_path / "net.pth", twin.state_dict(),
                     training={"device": "cpu: test", "steps": 0, "hours": 0.25})
    assert tool("import_torch")([str(tmp_path / "net.pth"), "--out", str(tmp_path / "imported")]) == 0
    assert "units: 32" in capsys.readouterr().out
    card = json.loads((tmp_path / "imported" / "bbcu-l_x4.json").read_text())
    assert card["imported_from"]["key"] == "params" and card["training"]["device"] == "cpu: test"
    assert card["verification"]["network"]["psnr_db"] >= 50
    # shipped as it is: the card keeps its training record, hours included
    assert tool("ship")([str(tmp_path / "imported" / "bbcu-l_x4.json"), "--dest", str(tmp_path / "weights")]) == 0
    assert "step 0, 0.25 h of training" in capsys.readouterr().out
    shipped = json.loads((tmp_path / "weights" / "bbcu-l_x4.json").read_text())
    assert shipped["training"] == card["training"] and (tmp_path / "weights" / "bbcu-l_x4_weights.h5").is_file()
    argv = ["--model", str(tmp_path / "imported" / "bbcu-l_x4.json"), "--input-size", "16x16",
            "--out", str(tmp_path / "out")]
    assert tool("convert")(argv) == 0
    assert "LceBconv2d 32" in capsys.readouterr().out


@pytest.mark.parametrize("change,message", [
    (lambda s: s.pop("conv_last.bias"), "missing conv_last.bias"),
    (lambda s: s.update({"body.16.body.0.move0.bias": torch.zeros(1, 64, 1, 1)}),
     "unexpected body.16.body.0.move0.bias"),
    (lambda s: s.update({"upconv1.weight": torch.zeros(64, 64, 3, 3)}),
     "mis-shaped upconv1.weight (64, 64, 3, 3) (expected (256, 64, 3, 3))"),
])
def test_import_tool_names_what_does_not_fit_and_writes_nothing(change, message, tmp_path, capsys):
    state = modules.build(NetworkConfig("bbcu-l").resolved().to_dict()).state_dict()
    change(state)
    torch.save(state, tmp_path / "bad.pth")
    assert tool("import_torch")([str(tmp_path / "bad.pth"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv,message", [
    (["/nonexistent.pth"], "checkpoint not found"),
    ([str(ROOT / "README.md")], "cannot read"),
    (["x.pth", "--model", "bsrn"], "bsrn has no PyTorch twin"),
])
def test_import_tool_user_mistakes(argv, message, capsys):
    assert tool("import_torch")(argv) == 2
    assert message in capsys.readouterr().err


def test_checkpoint_refuses_pickled_objects(tmp_path):
    torch.save({"params": {"w": torch.zeros(1)}, "obj": Path("x")}, tmp_path / "evil.pth")
    with pytest.raises(checkpoint.CheckpointError, match="cannot read"):
        checkpoint.read(tmp_path / "evil.pth")


TRAIN = ["--model", "bbcu-m", "--scale", "2", "--depth", "1", "--batch-size", "2", "--patch", "8",
         "--milestones", "2", "--save-every", "2", "--no-progress", "--train", "Set5_HR"]


def run_without_tensorflow(argv, cwd, tool_name="train_torch"):
    """A tool in a Python that cannot import TensorFlow, as on a PyTorch-only GPU box."""
    code = ("import runpy, sys\n"
            "for m in ('tensorflow', 'tf_keras', 'larq', 'larq_compute_engine'): sys.modules[m] = None\n"
            f"sys.argv = ['{tool_name}.py'] + {argv!r}\n"
            f"runpy.run_path({str(ROOT / 'tools' / f'{tool_name}.py')!r}, run_name='__main__')\n")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)


def test_train_torch_runs_without_tensorflow_resumes_exactly_and_imports(tmp_path):
    argv = [a if a != "Set5_HR" else str(SET5_HR) for a in TRAIN]
    once = run_without_tensorflow(argv + ["--steps", "4", "--out", str(tmp_path / "once")], tmp_path)
    assert once.returncode == 0, once.stderr
    first = run_without_tensorflow(argv + ["--steps", "2", "--out", str(tmp_path / "twice")], tmp_path)
    again = run_without_tensorflow(argv + ["--steps", "4", "--out", str(tmp_path / "twice")], tmp_path)
    assert first.returncode == 0 and again.returncode == 0, again.stderr
    a, _, whole = checkpoint.read(tmp_path / "once" / "net_g_latest.pth")
    b, _, _ = checkpoint.read(tmp_path / "twice" / "net_g_latest.pth")
    assert all(np.array_equal(a[k], b[k]) for k in a)  # same patches, same optimizer state
    assert whole["training"]["steps"] == 4 and whole["training"]["device"].startswith("cpu")
    log = [json.loads(line) for line in (tmp_path / "once" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [2, 4] and log[1]["lr"] == pytest.approx(5e-5)
    config = mapping.check_config(NetworkConfig("bbcu-m", 2, depth=1))
    model = mapping.state_dict_to_keras(a, build_model(config), config)
    twin = modules.build(config.to_dict())
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in a.items()})
    assert verify.verify(model, twin, config)["ok"]
    refused = run_without_tensorflow(argv + ["--steps", "4", "--patch", "6", "--out", str(tmp_path / "once")], tmp_path)
    assert refused.returncode == 2 and "holds another run" in refused.stderr


def test_patch_sampler_pairs():
    pairs = sampler.PatchSampler([SET5_HR], 3, 8, "sr", 3, seed=1)
    assert pairs.pixels.dtype == torch.uint8 and pairs.pixels.numel() == sum(  # every image, decoded once
        np.asarray(Image.open(p).convert("RGB")).size for p in sorted(SET5_HR.iterdir()))
    degraded, clean = pairs.batch(0, 2)
    assert degraded.shape == (2, 3, 8, 8) and clean.shape == (2, 3, 24, 24)
    assert torch.equal(pairs.batch(0, 2)[1], clean)  # a pure function of (seed, index)
    assert not torch.equal(pairs.batch(1, 2)[1], clean)
    # the LR patch is the bicubic shrink of the HR one, on the 8-bit grid
    assert torch.equal(torch.round(degraded * 255), degraded * 255)
    assert abs(float(degraded.mean() - clean.mean())) < 0.02
    noisy, clean = sampler.PatchSampler([SET5_HR], 3, 8, "denoise", 25, seed=1).batch(0, 4)
    assert float((noisy - clean).std()) == pytest.approx(25 / 255, rel=0.1)
    jpeg, clean = sampler.PatchSampler([SET5_HR], 1, 16, "jpeg", 10, seed=1).batch(0, 2)
    assert jpeg.shape == clean.shape == (2, 1, 16, 16) and not torch.equal(jpeg, clean)


def test_patch_crops_are_pieces_of_the_images_turned_and_flipped():
    pairs = sampler.PatchSampler([SET5_HR], 3, 6, "denoise", 0, seed=3)
    images = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(SET5_HR.iterdir())]
    crops, _ = pairs.crops(0, 4)
    for crop in crops.numpy():
        views = [np.rot90(c, k) for c in (crop, crop[:, ::-1]) for k in range(4)]  # undo any turn and flip
        assert any((np.lib.stride_tricks.sliding_window_view(image, crop.shape) == view).all(axis=(-3, -2, -1)).any()
                   for image in images for view in views)


def tiny_plan(steps):
    return TrainingPlan(steps=steps, batch_size=2, patch=8, milestones=(), save_every=100, data=(str(SET5_HR),))


def test_a_time_budget_stops_with_a_checkpoint_that_resumes_exactly(tmp_path):
    network, task = runs.network_dict("bbcu-m", 2, depth=1, n_feats=8)
    # a budget that the first step already passes: one step, then a checkpoint
    training.train(tmp_path / "cut", network, task, 2, tiny_plan(3), progress=False, minutes=1e-6)
    _, _, cut = checkpoint.read(tmp_path / "cut" / "net_g_latest.pth")
    assert (cut["training"]["steps"], cut["training"]["images_seen"]) == (1, 2) and "hours" in cut["training"]
    training.train(tmp_path / "cut", network, task, 2, tiny_plan(3), progress=False)
    training.train(tmp_path / "whole", network, task, 2, tiny_plan(3), progress=False)
    a, _, resumed = checkpoint.read(tmp_path / "cut" / "net_g_latest.pth")
    b, _, _ = checkpoint.read(tmp_path / "whole" / "net_g_latest.pth")
    assert resumed["training"]["steps"] == 3 and all(np.array_equal(a[k], b[k]) for k in a)
    log = [json.loads(line) for line in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [1, 3] and log[0]["images_per_s"] == pytest.approx(2 * log[0]["steps_per_s"])


def test_bfloat16_channels_last_steps_train(tmp_path):
    network, task = runs.network_dict("bbcu-dn", 25, depth=2, n_feats=8)
    speed = training.Speed(bfloat16=True, channels_last=True)
    training.train(tmp_path, network, task, 25, tiny_plan(2), progress=False, speed=speed)
    params, _, whole = checkpoint.read(tmp_path / "net_g_latest.pth")
    assert whole["training"]["bfloat16"] and whole["training"]["channels_last"]
    assert all(np.isfinite(v).all() and v.dtype == np.float32 for v in params.values())  # float32 master weights


def test_gpu_train_runs_its_jobs_in_turn_and_resumes_them(tmp_path):
    argv = ["--jobs", "bbcu-m_x2,bbcu-car_q10", "--train", str(SET5_HR), "--depth", "1", "--n-feats", "8",
            "--patch", "8", "--batch-size", "2", "--steps", "3", "--save-every", "2", "--no-progress",
            "--minutes", "5", "--out", str(tmp_path / "gpu")]
    first = run_without_tensorflow(argv, tmp_path, "gpu_train")
    assert first.returncode == 0, first.stderr
    rows = {line.split()[0]: line.split() for line in first.stdout.splitlines() if line.startswith("bbcu-")}
    assert rows["bbcu-m_x2"][1:3] == ["3", "6"] and rows["bbcu-car_q10"][1:3] == ["3", "6"]
    assert f"python tools/import_torch.py {tmp_path / 'gpu'}/bbcu-m_x2/net_g_latest.pth --model bbcu-m --scale 2" \
           in first.stdout and "python tools/ship.py imported/bbcu-car_x1.json" in first.stdout
    again = run_without_tensorflow([*argv, "--steps", "5"], tmp_path, "gpu_train")  # the next window goes on
    assert again.returncode == 0, again.stderr
    _, _, whole = checkpoint.read(tmp_path / "gpu" / "bbcu-car_q10" / "net_g_latest.pth")
    assert whole["training"]["steps"] == 5 and whole["training"]["task"] == "jpeg"
    wrong = run_without_tensorflow([*argv, "--jobs", "bbcu-x_x9"], tmp_path, "gpu_train")
    assert wrong.returncode == 2 and "unknown job 'bbcu-x_x9'" in wrong.stderr
    # side by side: each job in a process of its own, resuming its folder
    both = run_without_tensorflow([*argv, "--steps", "7", "--side-by-side"], tmp_path, "gpu_train")
    assert both.returncode == 0, both.stderr
    assert both.stdout.count(": stopped after") == 2
    rows = {line.split()[0]: line.split() for line in both.stdout.splitlines() if line.startswith("bbcu-")}
    assert rows["bbcu-m_x2"][1:3] == ["7", "14"] and rows["bbcu-car_q10"][1:3] == ["7", "14"]
    # a job that fails in its process is said at once, the others go on, and the tool ends with one line
    (tmp_path / "gpu" / "bbcu-dn_s25").mkdir()
    (tmp_path / "gpu" / "bbcu-dn_s25" / "run.json").write_text("{}")
    mixed = run_without_tensorflow([*argv, "--jobs", "bbcu-dn_s25,bbcu-m_x2", "--steps", "9", "--side-by-side"],
                                   tmp_path, "gpu_train")
    assert mixed.returncode == 2 and "Traceback" not in mixed.stderr
    assert "error: bbcu-dn_s25:" in mixed.stderr and "holds another run" in mixed.stderr.splitlines()[-1]
    assert "bbcu-m_x2: stopped after" in mixed.stdout
    assert checkpoint.read(tmp_path / "gpu" / "bbcu-m_x2" / "net_g_latest.pth")[2]["training"]["steps"] == 9
