"""A network name or model card runs its bit-packed ONNX graph on x86-64: converted and verified
once, kept beside the card under the hash of its weights and of the converter, with tiles as
large as a memory budget allows (converters/cache.py, lce_models/upscaling/budget.py)."""

import subprocess
import sys
from pathlib import Path

from lce_models.data.images import sample_image
from lce_models.errors import UserError
from lce_models.evaluation.metrics import agreement
from lce_models.models import NetworkConfig, build_model
from lce_models.models.model_card import save
from lce_models.runtimes import receptive_field
from lce_models.upscaling import budget

import numpy as np
import pytest
from conftest import randomize_weights
from PIL import Image

from converters import cache

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not cache.available(), reason="the fast path runs on x86-64 with its kernel built")


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    model = randomize_weights(build_model(NetworkConfig("bbcu-m", 2, depth=1)), seed=2)
    return save(model, tmp_path_factory.mktemp("card") / "m.json")


def test_converted_once_then_renewed_with_new_weights(tmp_path, capfd):
    """(The conversion runs in a child process: its lines are read at the file descriptor.)"""
    model = randomize_weights(build_model(NetworkConfig("bbcu-m", 2, depth=1, padding="zero")), seed=3)
    card = save(model, tmp_path / "m.json")
    rt = cache.fast_runtime(str(card))
    assert "converting" in capfd.readouterr().err
    kept = sorted(p.name for p in tmp_path.glob("m.*.bitpacked.*"))
    assert len(kept) == 2 and kept[1].endswith(".bitpacked.onnx")  # the graph and its .json
    assert rt.receptive_radius == receptive_field.of_keras(model) and rt.bytes_per_pixel > 0
    assert rt.engine.startswith("fast path")
    x = sample_image(20, 28, 3)[None]
    assert agreement(model(x).numpy(), rt(x)).psnr_db >= 50
    cache.fast_runtime(str(card))
    assert "converting" not in capfd.readouterr().err  # loaded, not converted again
    save(randomize_weights(model, seed=4), card)  # new weights under the same card
    cache.fast_runtime(str(card))
    assert "converting" in capfd.readouterr().err
    renewed = sorted(p.name for p in tmp_path.glob("m.*.bitpacked.*"))
    assert len(renewed) == 2 and set(renewed).isdisjoint(kept)  # the stale pair is gone
    (tmp_path / renewed[1]).write_bytes(b"damaged")  # a damaged cached graph is made again
    assert cache.fast_runtime(str(card))(x).shape == (1, 40, 56, 3)
    assert "converting" in capfd.readouterr().err


def test_keras_where_the_fast_path_does_not_apply(tmp_path):
    """A float network has no binary convolution, a converted file is run as it is: None, and
    nothing is written."""
    card = save(build_model(NetworkConfig("srresnet-fp", 2, depth=1)), tmp_path / "f.json")
    assert cache.fast_runtime(str(card)) is None
    assert cache.fast_runtime(str(tmp_path / "model.tflite")) is None
    assert not list(tmp_path.glob("*.bitpacked.*"))


def test_the_largest_tile_within_the_budget():
    image, scale, channels, per_pixel, resident = (3000, 4000), 4, 3, 10_000, 500 * 2**20
    need = lambda tile: budget.needed_bytes(tile, image, scale, channels, per_pixel, resident)  # noqa: E731
    tile = budget.tile_for_budget(2 * 2**30, image, scale, channels, per_pixel, 36, resident)
    assert tile[0] == tile[1] and tile[0] % budget.STEP == 0
    assert need(tile) <= budget.HEADROOM * 2 * 2**30 < need((tile[0] + budget.STEP,) * 2)
    assert budget.tile_for_budget(2**40, (100, 80), 4, 3, per_pixel, 36, resident) == (100, 80)  # the whole image
    with pytest.raises(UserError, match="raise it"):
        budget.tile_for_budget(600 * 2**20, image, scale, channels, per_pixel, 36, resident)


def test_upscale_stays_within_max_memory(tmp_path, card):
    """The whole tool, in a child process, with a budget that forces tiles: its peak resident
    memory stays under --max-memory (the graph converted beforehand, as a second use finds it)."""
    cache.fast_runtime(str(card))
    Image.fromarray(np.asarray(sample_image(450, 600, 3) * 255, np.uint8)).save(tmp_path / "in.png")
    limit = 1000
    child = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); print(r.stdout + r.stderr)")
    argv = [sys.executable, str(ROOT / "tools" / "upscale.py"), str(tmp_path / "in.png"), "--model", str(card),
            "--max-memory", f"{limit}M", "-o", str(tmp_path / "out.png")]
    out = subprocess.run([sys.executable, "-c", child, *argv], capture_output=True, text=True, check=True).stdout
    code, peak_kib = map(int, out.split("\n", 1)[0].split())
    assert code == 0, out
    tiles = out.split("tiles of ")[1].split()[0]
    assert "fast path" in out and tiles != "600x450"  # the budget made it tile
    assert peak_kib / 1024 <= limit, f"peak {peak_kib / 1024:.0f} MiB with {tiles} tiles"
    assert Image.open(tmp_path / "out.png").size == (1200, 900)
