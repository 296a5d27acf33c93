"""Every tool against a corpus of damaged inputs: a one-line error naming the file, exit status 2
(a model or set that cannot be used) or 1 (an image of a batch failed), no traceback, nothing
written or overwritten."""

from lce_models.models import NetworkConfig, build_model
from lce_models.models.model_card import save

import numpy as np
import pytest
from conftest import randomize_weights
from PIL import Image
from test_tools import tool

from converters.tflite import convert_checked


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("damaged")
    model = randomize_weights(build_model(NetworkConfig("bbcu-m", 2, depth=1), (8, 8), batch_size=1), seed=1)
    flatbuffer = convert_checked(model)[0]
    save(model, root / "card.json")
    Image.fromarray(np.full((12, 10, 3), 90, np.uint8)).save(root / "good.png")
    png = (root / "good.png").read_bytes()
    files = {
        "empty.png": b"", "truncated.png": png[:40],
        "empty.tflite": b"", "truncated.tflite": flatbuffer[: len(flatbuffer) // 2],
        "garbage.tflite": b"not a flatbuffer",
        "empty.onnx": b"", "garbage.onnx": b"\x08\x07not onnx at all",
        "empty.json": b"", "list.json": (root / "card.json").read_text().replace('"network": {', '"network": [{')
                                                                      .replace('},\n  "weights"', '}],\n  "weights"')
                                                                      .encode(),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return root


def one_line_error(capsys, name):
    err = capsys.readouterr().err
    last = [line for line in err.splitlines() if line.strip()][-1]
    assert last.startswith("error: ") and name in last, err
    assert "Traceback" not in err
    return last


MODELS = ["empty.tflite", "truncated.tflite", "garbage.tflite", "empty.onnx", "garbage.onnx", "empty.json", "list.json"]


@pytest.mark.parametrize("name", MODELS)
def test_upscale_and_evaluate_refuse_a_damaged_model(corpus, name, capsys, tmp_path):
    out = tmp_path / "out.png"
    assert tool("upscale")([str(corpus / "good.png"), "--model", str(corpus / name), "-o", str(out)]) == 2
    one_line_error(capsys, name)
    assert tool("evaluate")(["--model", str(corpus / name), "--sets", "Set5"]) == 2
    one_line_error(capsys, name)
    assert not out.exists()


@pytest.mark.parametrize("name", [m for m in MODELS if not m.endswith(".json")])
def test_benchmark_refuses_a_damaged_model(corpus, name, capsys):
    assert tool("benchmark")([str(corpus / name), "--threads", "1", "--runs", "1", "--warmup", "0"]) == 2
    one_line_error(capsys, name)


@pytest.mark.parametrize("name", ["empty.json", "list.json"])
def test_convert_compare_and_results_refuse_a_damaged_card(corpus, name, capsys, tmp_path):
    assert tool("convert")(["--model", str(corpus / name), "--input-size", "8x8", "--out", str(tmp_path / "c")]) == 2
    one_line_error(capsys, name)
    assert tool("compare")(["--models", str(corpus / name), "--scale", "2", "-o", str(tmp_path / "c.png")]) == 2
    one_line_error(capsys, name)
    assert tool("results")(["--models", str(corpus / name), "--sets", "Set5"]) == 2
    one_line_error(capsys, name)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["empty.png", "truncated.png"])
def test_damaged_images(corpus, name, capsys, tmp_path):
    out = tmp_path / "out"
    argv = [str(corpus / "good.png"), str(corpus / name), "--model", str(corpus / "card.json"), "-o", str(out)]
    assert tool("upscale")(argv) == 1
    err = capsys.readouterr().err
    assert f"{name}: not a readable image" in err and "1 of 2 images failed" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["good.png"]
    assert tool("convert")(["--model", str(corpus / "card.json"), "--image", str(corpus / name), "--input-size", "8x8",
                            "--out", str(tmp_path / "c")]) == 2
    one_line_error(capsys, name)
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("name", ["empty.tflite", "truncated.tflite", "garbage.tflite"])
def test_local_benchmark_model_refuses_a_damaged_flatbuffer(corpus, name, capsys):
    assert tool("local_benchmark_model")(["--graph", str(corpus / name), "--num_runs", "1"]) == 2
    one_line_error(capsys, name)


@pytest.mark.parametrize("name", ["empty.json", "list.json"])
def test_ship_refuses_a_damaged_card(corpus, name, capsys, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.json").write_bytes((corpus / name).read_bytes())
    assert tool("ship")([str(run), "--dest", str(tmp_path / "weights")]) == 2
    one_line_error(capsys, "best.json")
    assert not (tmp_path / "weights").exists()


def test_evaluate_refuses_an_lr_of_the_wrong_size(corpus, capsys, tmp_path):
    (tmp_path / "hr").mkdir()
    (tmp_path / "lr").mkdir()
    Image.fromarray(np.full((16, 20, 3), 90, np.uint8)).save(tmp_path / "hr" / "a.png")
    Image.fromarray(np.full((4, 5, 3), 90, np.uint8)).save(tmp_path / "lr" / "a.png")  # HR / 4, not / 2
    argv = ["--model", str(corpus / "card.json"), "--sets", f"{tmp_path / 'hr'}:{tmp_path / 'lr'}"]
    assert tool("evaluate")(argv) == 2
    assert "is 5x4, not 10x8" in one_line_error(capsys, str(tmp_path / "lr" / "a.png"))
