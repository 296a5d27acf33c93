"""The quality tables (tools/results.py) and the shipped weights: a model's Keras, LCE and ONNX
runs agree on benchmark images, and every shipped model clears its quality floor."""

import json

from lce_models.data.degradations import Degradation
from lce_models.data.images import DATA_ROOT
from lce_models.evaluation.protocol import baseline, evaluate, keras_restorer
from lce_models.models import NetworkConfig, build_model, model_card
from lce_models.models.bconv import ALPHA_BITS

import pytest
from conftest import randomize_weights
from PIL import Image
from test_tools import tool

from converters import cache, quality

SET5 = DATA_ROOT / "test" / "Set5"
#: A shipped SR model is at least 2.0 dB above bicubic on Set5 (Y PSNR), unless FLOORS says more.
FLOOR_DB = 2.0
#: The quality some shipped models are held to: (set, PSNR floor in dB) at the level they were
#: trained for (Set5 x2 Y; CBSD68 sigma 25 RGB; Classic5 q10 gray).
FLOORS = {"bbcu-l_x2": ("Set5", 37.0), "bbcu-dn_x1": ("CBSD68", 29.5), "bbcu-car_x1": ("Classic5", 29.0)}

pytestmark = pytest.mark.skipif(not SET5.is_dir(), reason="shared data absent")


def crops(tmp_path, scale=4):
    """HR:LR folders of two 96x128 crops of Set5 (one LR size: one LCE conversion)."""
    hr_dir, lr_dir = tmp_path / "HR", tmp_path / "LR"
    hr_dir.mkdir(), lr_dir.mkdir()
    for name in ("baby.png", "bird.png"):
        hr = Image.open(SET5 / "HR" / name).convert("RGB").crop((0, 0, 128, 96))
        hr.save(hr_dir / name)
        hr.resize((128 // scale, 96 // scale), Image.BICUBIC).save(lr_dir / name)
    return f"{hr_dir}:{lr_dir}"


def test_the_table_of_a_card(tmp_path, capsys):
    model = randomize_weights(build_model(NetworkConfig("bbcu-l", 4, depth=1, n_feats=16)), 3)
    card = model_card.save(model, tmp_path / "m.json", training={"steps": 7, "hours": 0.5})
    pairs = crops(tmp_path)
    results_tool = tool("results")
    assert results_tool(["--models", str(card), "--sets", pairs, "--json", str(tmp_path / "r.json"),
                         "--markdown", str(tmp_path / "r.md")]) == 0
    results = json.loads((tmp_path / "r.json").read_text())["tables"]["sr x4"]["models"]["bbcu-l x4"]["results"]
    assert set(results) == set(quality.RUNTIMES)
    keras = next(iter(results["Keras"].values()))["psnr"]
    for runtime in quality.RUNTIMES:
        assert abs(next(iter(results[runtime].values()))["psnr"] - keras) <= quality.AGREEMENT_DB
    capsys.readouterr()
    assert results_tool(["--models", str(card), "--sets", pairs, "--json", str(tmp_path / "r.json"), "--reuse"]) == 0
    err = capsys.readouterr().err
    assert "figures are reused" in err and "converting" not in err
    assert json.loads((tmp_path / "r.json").read_text())["tables"]["sr x4"]["models"]["bbcu-l x4"]["results"] == results
    # figures of binary convs that rounded alpha otherwise are measured again
    earlier = json.loads((tmp_path / "r.json").read_text())
    (tmp_path / "r.json").write_text(json.dumps({**earlier, "alpha_bits": ALPHA_BITS + 1}))
    assert results_tool(["--models", str(card), "--sets", pairs, "--json", str(tmp_path / "r.json"), "--reuse"]) == 0
    assert "figures are reused" not in capsys.readouterr().err
    table = (tmp_path / "r.md").read_text()
    assert "| bbcu-l x4 | 7 steps, 0.5 h | Keras |" in table and "|  |  | LCE .tflite |" in table
    assert table.count("\n") == 8  # header, rule, bicubic, three runtimes, paper, gap


def test_a_disagreement_is_reported():
    results = {"Keras": {"Set5": {"psnr": 30.0}}, "LCE .tflite": {"Set5": {"psnr": 30.02}},
               ".onnx": {"Set5": {"psnr": 30.005}}}
    assert quality.disagreements(results) == [("Set5", "LCE .tflite", pytest.approx(0.02))]


def test_a_denoiser_gets_a_table_of_its_own(tmp_path, capsys):
    model = randomize_weights(build_model(NetworkConfig("bbcu-dn", depth=1, n_feats=16)), 5)
    card = model_card.save(model, tmp_path / "dn.json", training={"steps": 3, "hours": 0.1, "level": 15})
    clean = tmp_path / "clean"
    clean.mkdir()
    for name in ("baby.png", "bird.png"):
        Image.open(SET5 / "HR" / name).convert("RGB").crop((0, 0, 64, 48)).save(clean / name)
    assert tool("results")(["--models", str(card), "--sets", str(clean), "--json", str(tmp_path / "r.json")]) == 0
    table = json.loads((tmp_path / "r.json").read_text())["tables"]["denoise sigma 15"]
    noisy = evaluate(baseline("denoise"), str(clean), Degradation("denoise", 15))["psnr"]
    assert table["baseline"][str(clean)]["psnr"] == pytest.approx(noisy)
    assert set(table["models"]["bbcu-dn"]["results"]) == set(quality.RUNTIMES)
    assert "| noisy input | - | - |" in capsys.readouterr().out


def test_a_bad_model_is_one_line(capsys):
    assert tool("results")(["--models", "bbcu-x"]) == 2
    assert capsys.readouterr().err.strip() == "error: 'bbcu-x' is neither a network name nor a model card .json"


SHIPPED = model_card.shipped_cards()


@pytest.mark.parametrize("card", SHIPPED, ids=[c.stem for c in SHIPPED])
def test_a_shipped_model_clears_its_floor_and_its_card(card):
    model = model_card.load(card)
    degradation = quality.degradation_of(model.config, model.card)
    if degradation.task == "sr":  # Keras on Set5's small images
        set_name, floor = FLOORS.get(card.stem, ("Set5", None))
        psnr = evaluate(keras_restorer(model), set_name, degradation)["psnr"]
        bicubic = baseline(degradation.task, degradation.multiple)
        floor = floor or evaluate(bicubic, set_name, degradation)["psnr"] + FLOOR_DB
    else:  # whole sets of large images: the fast exact runtime (Keras where there is none)
        set_name, floor = FLOORS[card.stem]
        fast = cache.fast_runtime(str(card), threads=2)
        restore = keras_restorer(model) if fast is None else lambda x: fast(x[None])[0].clip(0, 1)
        psnr = evaluate(restore, set_name, degradation, model.config.channels)["psnr"]
    assert psnr >= floor
    if "validation" in model.card:  # a Keras run's card: its figure
        assert psnr == pytest.approx(model.card["validation"]["psnr"], abs=0.01)


def test_the_shipped_weights_fit_the_budget():
    # nine models of 2.9 to 6.6 MB each; the tree travels to a GPU machine (64 MiB with what it carries)
    assert sum(f.stat().st_size for f in model_card.WEIGHTS_DIR.iterdir()) < 48e6


def test_the_comparison_figure(tmp_path, capsys):
    model = randomize_weights(build_model(NetworkConfig("bbcu-l", 4, depth=1, n_feats=16)), 4)
    card = model_card.save(model, tmp_path / "m.json")
    out = tmp_path / "fig.png"
    compare = tool("compare")
    assert compare(["--models", str(card), "--crop", "Set5/bird@8,16,40", "--crop", "Set5/baby@100,200,48",
                    "--zoom", "3", "-o", str(out)]) == 0
    assert "bicubic" in (printed := capsys.readouterr().out) and " dB, m " in printed
    # Two rows of three panels (bicubic, the model, HR) of 48 * 3 pixels, captions, 4-pixel gaps.
    assert Image.open(out).size == (3 * 144 + 2 * 4, 2 * (144 + 20) + 4)
    for crop, message in (("Set5/bird@8,16", "expected SET/IMAGE@Y,X,SIZE"), ("Set5/bird@250,0,40", "leaves the"),
                          ("Set5/nobody@0,0,40", "no image 'nobody'")):
        assert compare(["--models", str(card), "--crop", crop, "-o", str(tmp_path / "x.png")]) == 2
        assert message in capsys.readouterr().err, crop
    assert not (tmp_path / "x.png").exists()
