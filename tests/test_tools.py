"""The command-line tools: user mistakes are one line and exit status 2, never a traceback."""

import importlib.util
import json
import re
from importlib.metadata import version
from pathlib import Path

from lce_models.cli import amount
from lce_models.host import machine
from lce_models.models import NetworkConfig, build_model
from lce_models.models.model_card import save

import numpy as np
import pytest
from conftest import randomize_weights
from PIL import Image

from converters import cache, memory

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def tool(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--model", "edsr"], "unknown network 'edsr'"),
        (["--model", "bbcu-dn", "--scale", "4"], "bbcu-dn supports scale 1, not 4"),
        (["--padding", "reflect"], "unknown padding 'reflect'"),
        (["--model", "bsrn", "--bam-option", "reduce=max"], "bam_options: BAM reduce must be one of"),
        (["--model", "bsrn", "--variant", "v4"], "unknown BAM variant 'v4'"),
        (["--model", "bbcu-att", "--unit-option", "attention=pixel"], "unit_options: unknown attention 'pixel'"),
        (["--image", "/nonexistent.png", "--input-size", "8x8", "--model", "bbcu-dn"], "image not found"),
    ],
)
def test_convert_user_mistakes(argv, message, capsys, tmp_path):
    assert tool("convert")(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {message}" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_convert_checks_out_before_any_work(tmp_path, capsys):
    out = tmp_path / "report.json"
    out.write_text("{}")
    assert tool("convert")(["--model", "bbcu-dn", "--input-size", "8x8", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: --out {out} is a file, not a folder" in err and "converting" not in err
    assert out.read_text() == "{}"


def test_convert_with_a_damaged_image(tmp_path, capsys):
    image = tmp_path / "photo.png"
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(image)
    image.write_bytes(image.read_bytes()[:60])  # truncated
    out = tmp_path / "out"
    assert tool("convert")(["--model", "bbcu-dn", "--input-size", "8x8", "--image", str(image), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: {image}: not a readable image" in err and "Traceback" not in err and not out.exists()


def test_convert_refuses_a_size_beyond_memory_before_running(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**30)  # a machine with 1 GiB free
    out = tmp_path / "out"
    assert tool("convert")(["--model", "bbcu-dn", "--input-size", "2000x3000", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "needs about" in err and "more than the 1.0 GiB available here" in err and "converting" not in err
    assert not out.exists()
    h, w = (int(v) for v in err.split("at most about ")[1].split()[0].split("x"))
    assert abs(h / w - 2 / 3) < 0.01
    fitting = build_model(NetworkConfig("bbcu-dn"), (h, w), batch_size=1)
    assert memory.activation_bytes(fitting) <= 2**30 < memory.activation_bytes(
        build_model(NetworkConfig("bbcu-dn"), (h + 20, w + 30), batch_size=1))


@pytest.mark.parametrize("argv,message", [
    (["--input-size", "180by320"], "expected HxW such as 180x320"),
    (["--max-memory", "lots"], "expected a size such as 2G or 1500M"),
    (["--max-memory", "1G", "--to", "onnx"], "--max-memory sizes a .tflite"),
])
def test_convert_rejects_bad_flags(argv, message, capsys):
    with pytest.raises(SystemExit) as e:  # argparse's own exit for a malformed flag
        tool("convert")(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_convert_says_when_no_size_fits_the_memory(tmp_path, capsys):
    out = tmp_path / "out"
    assert tool("convert")(["--model", "bbcu-dn", "--max-memory", "100K", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error: --max-memory 100 KiB is less than the smallest input needs (at least " in err and not out.exists()


def test_convert_writes_a_verified_flatbuffer_and_report(tmp_path, capsys):
    argv = ["--model", "bbcu-dn", "--input-size", "16x24", "--padding", "one", "--out", str(tmp_path)]
    assert tool("convert")(argv) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "LceBconv2d 18" in out and "wrote" in out
    stages = [line.split(" (at ")[0] for line in captured.err.splitlines() if line.startswith("bbcu-dn_x1 to tflite: ")]
    assert stages[:6] == [f"bbcu-dn_x1 to tflite: {s}" for s in (
        "converting", "reading TFLite's memory plan", "verifying against Keras on the photo input",
        "verifying against Keras on the random input", "counting sign flips against Keras",
        "comparing with Keras computing LCE's output transform")]
    assert stages[6].startswith("bbcu-dn_x1 to tflite: done after ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bbcu-dn_x1_16x24.json", "bbcu-dn_x1_16x24.report.json",
                                                         "bbcu-dn_x1_16x24.tflite"]
    sidecar = json.loads((tmp_path / "bbcu-dn_x1_16x24.json").read_text())
    # DnCNN: 20 3x3 convs, so 20 pixels of context; the app tiles with it
    assert (sidecar["scale"], sidecar["input_size"], sidecar["receptive_radius"]) == (1, [16, 24], 20)
    report = json.loads((tmp_path / "bbcu-dn_x1_16x24.report.json").read_text())
    tfl = report["artifacts"]["tflite"]
    assert report["input_size"] == [16, 24] and report["network"]["padding"] == "one"
    assert tfl["bytes"] == (tmp_path / "bbcu-dn_x1_16x24.tflite").stat().st_size
    assert tfl["op_census"]["LceBconv2d"] == 18
    assert tfl["verification"]["photo"]["psnr_db"] >= 50
    # the diagnostic beside the check: Keras computing LCE's output transform (here, as the check,
    # at float rounding: this untrained one-padding model has no flips to explain)
    assert all(tfl["verification_lce_transform"][k]["psnr_db"] >= 120 for k in ("photo", "random"))
    assert "tflite vs Keras in LCE's arithmetic, random" in out
    assert tfl["first_flip_lce_transform"] is None and re.search(r"tflite first sign flip vs it +none", out)
    assert report["host"] == machine() and report["versions"]["larq-compute-engine"] == version("larq-compute-engine")
    assert report["versions"]["tensorflow"] == version("tensorflow") and report["versions"]["python"]
    plan = tfl["memory_plan"]
    assert plan["total_bytes"] == plan["arena_bytes"] + plan["persistent_bytes"] + plan["model_bytes"]
    assert plan["model_bytes"] == tfl["bytes"] and plan["arena_bytes"] > 16 * 24 * 64 * 4
    assert re.search(rf"tflite memory plan +{re.escape(amount(plan['total_bytes']))} = arena", out)
    # that plan as the budget: the tool picks that size again (and no larger one of its aspect)
    sized = tmp_path / "sized"
    budget = ["--max-memory", str(plan["total_bytes"]), "--input-size", "16x24", "--out", str(sized)]
    assert tool("convert")(["--model", "bbcu-dn", "--padding", "one", *budget]) == 0
    assert f"input size 16x24, planned at {amount(plan['total_bytes'])}" in capsys.readouterr().out
    resized = json.loads((sized / "bbcu-dn_x1_16x24.report.json").read_text())["artifacts"]["tflite"]
    assert resized["memory_plan"] == plan and resized["verification"]["photo"]["psnr_db"] >= 50
    # another format of the same network into the same folder: its report keeps both
    assert tool("convert")([*argv, "--to", "onnx"]) == 0
    both = json.loads((tmp_path / "bbcu-dn_x1_16x24.report.json").read_text())["artifacts"]
    assert sorted(both) == ["onnx", "tflite"] and both["tflite"] == tfl


def test_convert_bbcu_att_with_unit_options(tmp_path, capsys):
    """The unit options' network through the main job: every binary conv an LceBconv2d, the spatial
    attention's float ops counted, Keras and .tflite within 50 dB (else exit 1)."""
    argv = ["--model", "bbcu-att", "--unit-option", "attention=spatial", "--unit-option", "estimator=ede",
            "--unit-option", "balanced=true", "--input-size", "16x24", "--out", str(tmp_path)]
    assert tool("convert")(argv) == 0
    report = json.loads((tmp_path / "bbcu-att_x4_16x24.report.json").read_text())
    assert report["network"]["unit_options"] == {**report["network"]["unit_options"], "attention": "spatial",
                                                 "estimator": "ede", "balanced": True}
    census = report["artifacts"]["tflite"]["op_census"]
    assert census["LceBconv2d"] == 32 and census["REDUCE_MAX"] == 32
    capsys.readouterr()


def test_convert_a_model_card_to_all_formats(tmp_path, capsys):
    model = randomize_weights(build_model(NetworkConfig("bbcu-m", 2, depth=1)), seed=9)
    card = save(model, tmp_path / "card" / "m.json")
    out = tmp_path / "out"
    argv = ["--model", str(card), "--to", "all", "--input-size", "48x64", "--out", str(out)]
    assert tool("convert")(argv) == 0
    report = json.loads((out / "bbcu-m_x2_48x64.report.json").read_text())
    assert report["weights"] == str(card)
    assert set(report["artifacts"]) == {"tflite", "onnx", "onnx-bitpacked"}
    assert report["artifacts"]["onnx"]["verification"]["random"]["max_abs_diff"] < 1e-4
    assert report["artifacts"]["onnx-bitpacked"]["op_census"]["BinaryConv3x3"] == 4  # 1 block of 2, up1, hr
    assert (out / "bbcu-m_x2.onnx").is_file()

    # evaluate reads the card (Keras), the flatbuffer (tiles) and the ONNX files alike
    scores = {}
    for model in (card, out / "bbcu-m_x2_48x64.tflite", out / "bbcu-m_x2.onnx", out / "bbcu-m_x2.bitpacked.onnx"):
        result = tmp_path / "eval.json"
        argv_eval = ["--model", str(model), "--sets", "Set5", "--json", str(result), "--runtime", "keras"]
        assert tool("evaluate")(argv_eval) == 0
        rows = json.loads(result.read_text())["results"]
        scores[model.name.split(".", 1)[1]] = rows[str(model) if model.suffix != ".json" else f"bbcu-m_x2 ({card})"]
    assert "48x64 tiles sharing 6 pixels of context" in scores["tflite"]["runs_as"]  # its radius
    assert "bit-packed" in scores["bitpacked.onnx"]["runs_as"]
    psnr = {k: v["sets"]["Set5"]["x2"]["psnr"] for k, v in scores.items()}
    assert psnr["onnx"] == pytest.approx(psnr["json"], abs=0.01)  # whole images, same maths
    assert psnr["bitpacked.onnx"] == pytest.approx(psnr["json"], abs=0.01)
    assert psnr["tflite"] == pytest.approx(psnr["json"], abs=0.01)  # exact tiles: no seams
    capsys.readouterr()

    (tmp_path / "card" / "m_weights.h5").write_bytes(b"corrupt")
    assert tool("convert")(argv) == 2
    assert "error: cannot load" in capsys.readouterr().err


def test_evaluate_bicubic_and_a_model_card(tmp_path, capsys):
    model = randomize_weights(build_model(NetworkConfig("bbcu-m", 2, depth=1)), seed=3)
    card = save(model, tmp_path / "m.json")
    out = tmp_path / "eval.json"
    psnr = {}
    for runtime in ("keras", "auto"):  # auto: the fast path on x86-64, as exact as Keras
        argv = ["--model", str(card), "--scale", "2", "--sets", "Set5", "--json", str(out), "--runtime", runtime]
        assert tool("evaluate")(argv) == 0
        results = json.loads(out.read_text())["results"]
        assert results["bicubic"]["sets"]["Set5"]["x2"]["psnr"] == pytest.approx(33.64, abs=0.011)
        row = results[f"bbcu-m_x2 ({card})"]
        assert len(row["sets"]["Set5"]["x2"]["images"]) == 5
        psnr[runtime] = row["sets"]["Set5"]["x2"]["psnr"]
        assert ("fast path" in row["runs_as"]) == (runtime == "auto" and cache.available())
    assert psnr["auto"] == pytest.approx(psnr["keras"], abs=0.01)
    assert "| bicubic | 33.6" in capsys.readouterr().out


def test_evaluate_denoising_rows(capsys):
    assert tool("evaluate")(["--model", "bbcu-dn", "--sets", "Set5", "--sigma", "15,50", "--runtime", "keras"]) == 0
    captured = capsys.readouterr()
    header, _, noisy, model = captured.out.splitlines()[:4]
    assert "Set5 sigma 15" in header and "Set5 sigma 50" in header
    assert noisy.startswith("| noisy input | 25.")  # 24.6 dB before clipping to 8 bits
    assert model.startswith("| bbcu-dn (shipped) |")
    # trained at sigma 25, it still cleans sigma 15 noise
    assert float(model.split("|")[2].split("/")[0]) > float(noisy.split("|")[2].split("/")[0]) + 3


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--sets", "Set9"], "no test set 'Set9'"),
        (["--model", "bbcu-l", "--sets", "Set9"], "no test set 'Set9'"),
        (["--model", "bbcu-dn", "--sigma", "abc"], "bad level list"),
        (["--model", "bbcu-car", "--quality", "0"], "q 0 is out of range"),
        (["--model", "/nonexistent.tflite"], "model file not found"),
        (["--model", "/nonexistent.json"], "model card not found"),
    ],
)
def test_evaluate_user_mistakes(argv, message, capsys):
    assert tool("evaluate")(argv) == 2
    err = capsys.readouterr().err
    assert f"error: {message}" in err and "Traceback" not in err


def test_complexity_prints_both_papers_conventions(capsys):
    assert tool("complexity")(["--models", "srresnet-bam,bbcu-m"]) == 0
    rows = {tuple(r.split(" | ")[:2]): r for r in capsys.readouterr().out.splitlines()}
    assert "127.9 G / 1547 K" in rows[("| srresnet-bam", "x4")]
    assert "3.95 G / 51 K" in rows[("| bbcu-m", "x4")]
    assert tool("complexity")(["--models", "edsr"]) == 2
    captured = capsys.readouterr()
    assert "unknown network 'edsr'" in captured.err and captured.out == ""  # no half-printed table
