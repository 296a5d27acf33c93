"""tools/upscale.py and what it stands on: real-world files, tiles of a fixed-shape flatbuffer,
channels and alpha, atomic outputs, one-line errors."""

import subprocess
import sys
from pathlib import Path

from lce_models.data import photos
from lce_models.data.images import sample_image
from lce_models.evaluation.protocol import keras_restorer
from lce_models.models import NetworkConfig, build_model, model_card
from lce_models.models.model_card import save
from lce_models.runtimes.base import Runtime
from lce_models.runtimes.keras_model import keras_runtime
from lce_models.runtimes.tflite import tflite_runtime
from lce_models.upscaling import photo as upscaling

import numpy as np
import pytest
from conftest import randomize_weights
from PIL import Image
from test_tools import tool

from converters.tflite import convert_checked, with_fixed_shape

ROOT = Path(__file__).resolve().parent.parent


def nearest(scale, channels=3):
    """A Runtime of exact nearest-neighbour enlargement (receptive radius 0)."""
    run = lambda x: x.repeat(scale, axis=1).repeat(scale, axis=2)  # noqa: E731
    return Runtime(run, (None, None), channels, scale, "nearest", 0)


def test_read_applies_exif_orientation_and_notes_it(tmp_path):
    pixels = np.zeros((4, 6, 3), np.uint8)
    pixels[0, 0] = 255  # top-left marker
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[photos.ORIENTATION] = 6  # stored sideways: display rotated 90 degrees clockwise
    img.save(tmp_path / "p.png", exif=exif)
    photo = photos.read(tmp_path / "p.png")
    assert photo.pixels.shape == (6, 4, 3) and photo.pixels[0, -1, 0] == 255
    assert photo.notes == ["EXIF orientation 6 applied"]
    img.save(tmp_path / "plain.png")
    assert photos.read(tmp_path / "plain.png").notes == []


def test_read_gray_alpha_sixteen_bit_and_palette(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (5, 7), np.uint8)).save(tmp_path / "g.png")
    assert photos.read(tmp_path / "g.png").gray
    rgba = rng.integers(0, 256, (5, 7, 4), np.uint8)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    photo = photos.read(tmp_path / "a.png")
    np.testing.assert_array_equal(photo.alpha, rgba[..., 3])
    np.testing.assert_array_equal(photo.pixels, rgba[..., :3])
    wide = np.array([[0, 257, 65535]], np.uint16)
    Image.fromarray(wide).save(tmp_path / "w.png")  # a 16-bit gray PNG
    photo = photos.read(tmp_path / "w.png")
    assert photo.pixels[..., 0].tolist() == [[0, 1, 255]] and "8 bits" in photo.notes[0]
    pal = Image.fromarray(rng.integers(0, 4, (3, 3), np.uint8), "P")
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    pal.save(tmp_path / "p.png", transparency=0)
    photo = photos.read(tmp_path / "p.png")
    assert photo.pixels.shape == (3, 3, 3) and photo.alpha is not None


def test_read_errors_are_one_line(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG not really")
    for path, message in [(tmp_path / "bad.png", "not a readable image"), (tmp_path / "no.png", "no such file")]:
        with pytest.raises(photos.PhotoError, match=message) as e:
            photos.read(path)
        assert "\n" not in str(e.value)


def test_channels_and_alpha_of_the_output():
    rng = np.random.default_rng(1)
    gray = photos.Photo(rng.integers(0, 256, (9, 11, 1), np.uint8))
    out = upscaling.upscale(gray, nearest(2), tile=(4, 5), overlap=1)
    assert out.mode == "L" and out.size == (22, 18)
    np.testing.assert_array_equal(np.asarray(out), gray.pixels[..., 0].repeat(2, 0).repeat(2, 1))

    rgb = rng.integers(0, 256, (9, 11, 3), np.uint8)
    alpha = rng.integers(0, 256, (9, 11), np.uint8)
    out = upscaling.upscale(photos.Photo(rgb, alpha), nearest(3), tile=(5, 5), overlap=1)
    assert out.mode == "RGBA" and out.size == (33, 27)
    np.testing.assert_array_equal(np.asarray(out)[..., :3], rgb.repeat(3, 0).repeat(3, 1))
    expected_alpha = Image.fromarray(alpha).resize((33, 27), Image.BICUBIC)
    np.testing.assert_array_equal(np.asarray(out)[..., 3], np.asarray(expected_alpha))

    # a gray model on a colour photo: luma through the model, chroma enlarged apart
    out = upscaling.upscale(photos.Photo(rgb), nearest(1, channels=1))
    assert out.mode == "RGB" and np.abs(np.asarray(out).astype(int) - rgb).max() <= 3


def test_tiled_flatbuffer_equals_whole_image_inference():
    """A fixed-shape .tflite run on 32x40 tiles against the same network converted at the whole
    image's size: equal (within 1e-3) with the default overlap, the receptive radius."""
    model = randomize_weights(build_model(NetworkConfig("bbcu-l", 4, n_feats=16, depth=2)), seed=4)
    image = sample_image(56, 90)
    tiles = tflite_runtime(convert_checked(with_fixed_shape(model, (32, 40)))[0])
    whole = tflite_runtime(convert_checked(with_fixed_shape(model, (56, 90)))[0])
    assert tiles.receptive_radius == 9
    out = np.asarray(upscaling.upscale(photos.Photo(np.round(image * 255).astype(np.uint8)), tiles))
    reference = np.clip(whole(np.round(image * 255)[None] / 255.0)[0], 0, 1)
    diff = np.abs(out / 255.0 - reference)
    assert diff.max() <= 0.5 / 255 + 1e-3  # 8-bit output: half a level of rounding, then 1e-3
    # with too little context the seams show, so the check above can fail
    seams = np.asarray(upscaling.upscale(photos.Photo(np.round(image * 255).astype(np.uint8)), tiles, overlap=1))
    assert np.abs(seams / 255.0 - reference).max() > 0.5 / 255 + 1e-3
    # and a Keras model card tiled at 24x24 agrees with Keras on the whole image
    keras_rt = keras_runtime(model)
    out = np.asarray(upscaling.upscale(photos.Photo(np.round(image * 255).astype(np.uint8)), keras_rt, tile=(24, 24)))
    assert np.abs(out / 255.0 - keras_restorer(model)(np.round(image * 255) / 255.0)).max() <= 0.5 / 255 + 1e-3


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    model = randomize_weights(build_model(NetworkConfig("bbcu-m", 2, depth=1)), seed=2)
    return save(model, tmp_path_factory.mktemp("card") / "m.json")


def test_a_folder_with_a_corrupt_file(tmp_path, card, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(np.full((10, 12, 3), 90, np.uint8)).save(folder / "ok.png")
    Image.fromarray(np.full((7, 5), 200, np.uint8)).save(folder / "gray.jpg")
    (folder / "broken.png").write_bytes(b"garbage")
    out = tmp_path / "out"
    assert tool("upscale")([str(folder), "--model", str(card), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "broken.png: not a readable image" in err and "1 of 3 images failed" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["gray.png", "ok.png"]  # no temporary left
    assert Image.open(out / "ok.png").size == (24, 20) and Image.open(out / "gray.png").mode == "L"

    assert tool("upscale")([str(folder / "ok.png"), "--model", str(card), "-o", str(tmp_path / "one.jpg")]) == 0
    assert Image.open(tmp_path / "one.jpg").format == "JPEG"


@pytest.mark.parametrize("argv,message", [
    (["--model", "nope.tflite"], "model file not found"),
    (["--model", "srresnet-bam"], "no trained weights ship for srresnet-bam x4"),
    (["--ext", "gif"], "unknown --ext gif"),
    (["-o", "x.png", "a.png", "b.png"], "names one file but 3 inputs"),
])
def test_user_mistakes(argv, message, tmp_path, capsys):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "in.png")
    assert tool("upscale")([str(tmp_path / "in.png")] + argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_flatbuffer_and_too_small_tiles(tmp_path, card, capsys):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "in.png")
    (tmp_path / "bad.tflite").write_bytes(b"not a flatbuffer")
    assert tool("upscale")([str(tmp_path / "in.png"), "--model", str(tmp_path / "bad.tflite")]) == 2
    assert "does not load as tflite" in capsys.readouterr().err
    argv = [str(tmp_path / "in.png"), "--model", str(card), "--tile", "8x8", "--overlap", "4"]
    assert tool("upscale")(argv) == 2
    assert "leaves nothing inside an overlap of 4" in capsys.readouterr().err


@pytest.mark.skipif(model_card.shipped(NetworkConfig("bbcu-l", 4).resolved()) is None, reason="no shipped bbcu-l x4")
def test_a_shipped_network_by_name(tmp_path):
    Image.fromarray(np.full((20, 24, 3), 128, np.uint8)).save(tmp_path / "in.png")
    assert tool("upscale")([str(tmp_path / "in.png"), "--model", "bbcu-l", "-o", str(tmp_path / "out.png")]) == 0
    out = np.asarray(Image.open(tmp_path / "out.png"))
    # A flat grey stays a flat grey (within a few levels) when the trained model enlarges it.
    assert out.shape == (80, 96, 3) and np.abs(out.astype(int) - 128).max() <= 4


def test_the_inputs_are_never_overwritten(tmp_path, card, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(np.full((10, 12, 3), 90, np.uint8)).save(folder / "a.png")
    before = (folder / "a.png").read_bytes()
    for out in (folder, folder / "a.png"):
        assert tool("upscale")([str(folder), "--model", str(card), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"-o would overwrite the input {folder / 'a.png'}" in err and "Traceback" not in err
    assert (folder / "a.png").read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["a.png"]


def test_an_output_that_cannot_be_written_fails_that_image_only(tmp_path, card, capsys):
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((10, 12, 3), 90, np.uint8)).save(tmp_path / name)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the output folder should be")
    argv = [str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--model", str(card), "-o", str(blocked)]
    assert tool("upscale")(argv) == 1
    err = capsys.readouterr().err
    assert f"error: {blocked / 'a.png'}: cannot write it" in err and f"{blocked / 'b.png'}" in err
    assert "2 of 2 images failed" in err and "Traceback" not in err


def test_a_truncated_tflite_is_refused_before_the_interpreter_reads_it(tmp_path, card):
    """A cut flatbuffer once crashed LCE's interpreter (a segmentation fault): every cut is now
    one line and exit status 2. Run in a child process, so that a crash fails this test alone."""
    model = model_card.load(card)
    whole = tmp_path / "whole.tflite"
    whole.write_bytes(convert_checked(with_fixed_shape(model, (16, 16)))[0])
    Image.fromarray(np.full((10, 12, 3), 90, np.uint8)).save(tmp_path / "in.png")
    size = whole.stat().st_size
    cuts = sorted({8, 64, size // 4, size // 2, 3 * size // 4, size - 64, size - 1})
    script = (
        "import sys; sys.path.insert(0, 'tools'); import upscale\n"
        f"data = open({str(whole)!r}, 'rb').read()\n"
        f"for cut in {cuts}:\n"
        f"    open({str(tmp_path / 'cut.tflite')!r}, 'wb').write(data[:cut])\n"
        f"    print(cut, upscale.main([{str(tmp_path / 'in.png')!r}, '--model', {str(tmp_path / 'cut.tflite')!r},"
        f" '-o', {str(tmp_path / 'out.png')!r}]), flush=True)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line.split() for line in done.stdout.splitlines()] == [[str(c), "2"] for c in cuts]
    assert done.stderr.count("does not load as tflite") == len(cuts) and "Traceback" not in done.stderr
    assert not (tmp_path / "out.png").exists()
