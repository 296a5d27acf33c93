"""Golden vectors shared with the Android app's JVM module (``android_demo/tilecore``).

Each case is a small RGB image, the tile plan ``lce_models.upscaling.tiling`` makes for it, the image
that ``lce_models.upscaling.photo.upscale`` (the code path of ``tools/upscale.py``) stitches from a
stub per-tile model, and Pillow's bicubic upscale (the app's baseline). The stub is a 3x3
maximum clamped inside the tile, then nearest-neighbour x scale: exact in float, and it
depends on each tile's borders, so a wrong plan, padding or crop changes the output.
``tests/test_golden_tiling.py`` checks this Python against the file, the JVM tests check the
Java against it. Rewrite the file with ``python tests/golden_tiling.py``.
"""

from pathlib import Path

from lce_models.data.photos import Photo
from lce_models.runtimes.base import Runtime
from lce_models.upscaling import photo as upscaling
from lce_models.upscaling import tiling

import numpy as np
from PIL import Image

PATH = Path(__file__).parent / "fixtures" / "tiling_golden.txt"
#: name, image (H, W), tile (H, W), overlap, scale
CASES = [
    ("tiles", (29, 45), (16, 20), 3, 2),
    ("short", (9, 30), (16, 20), 3, 2),
    ("pixel", (1, 1), (4, 4), 1, 3),
    ("whole", (20, 16), (20, 16), 3, 3),
]


def stub(batch, scale):
    """3x3 maximum inside each tile (edges clamped), then nearest-neighbour x ``scale``."""
    padded = np.pad(batch, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = batch.shape[1:3]
    peak = np.max([padded[:, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)], axis=0)
    return peak.repeat(scale, axis=1).repeat(scale, axis=2)


def argb(pixels):
    """Opaque ARGB ints (Android's ``Bitmap.getPixels``) of a uint8 (H, W, 3) image."""
    p = pixels.astype(np.uint32)
    return (0xFF000000 | p[..., 0] << 16 | p[..., 1] << 8 | p[..., 2]).ravel()


def case(size, tile, overlap, scale, seed):
    """The golden record of one case: a dict of ints and int arrays."""
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), np.uint8)
    pixels[0, 0], pixels[-1, -1] = 0, 255  # the extremes, through the rounding both ways
    runtime = Runtime(lambda b: stub(b, scale), tile, 3, scale, "stub", overlap)
    out = upscaling.upscale(Photo(pixels), runtime, overlap=overlap)
    padded = [max(s, t) for s, t in zip(size, tile)]
    plan = [t for row in tiling.plan(*padded, tile, overlap) for t in row]
    bicubic = Image.fromarray(pixels).resize((size[1] * scale, size[0] * scale), Image.BICUBIC)
    return {
        "image": size, "tile": (*tile, overlap, scale), "input": argb(pixels),
        "plan": [(t.top, t.left, *t.keep) for t in plan],
        "output": argb(np.asarray(out)), "bicubic": argb(np.asarray(bicubic)),
    }


def text():
    """The golden file: whitespace-separated tokens, one record per line, ARGB in hex."""
    lines = [f"# written by tests/golden_tiling.py: {__doc__.splitlines()[0]}"]
    for seed, (name, *params) in enumerate(CASES):
        c = case(*params, seed)
        lines += [f"case {name}", "image {} {}".format(*c["image"]),
                  "tile {} {} overlap {} scale {}".format(*c["tile"]),
                  "input " + " ".join(f"{v:08x}" for v in c["input"]), f"plan {len(c['plan'])}"]
        lines += ["  " + " ".join(map(str, t)) for t in c["plan"]]
        lines += ["output " + " ".join(f"{v:08x}" for v in c["output"]),
                  "bicubic " + " ".join(f"{v:08x}" for v in c["bicubic"]), "end"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    PATH.write_text(text())
    print(f"wrote {PATH}")
