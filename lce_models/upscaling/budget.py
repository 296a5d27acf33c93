"""Tiles sized to a memory budget: the largest square tile whose run fits beside what the
process already holds, the 8-bit output image and one band of float output rows, within
``HEADROOM`` of the budget.

The runtime's activations are estimated per input pixel (``Runtime.bytes_per_pixel``: the
largest few layer outputs at once, float32); the rest is counted exactly. Larger tiles run
faster (less shared context computed twice, fewer calls), so the largest that fits is taken.
"""

from pathlib import Path

from lce_models.errors import UserError
from lce_models.upscaling import tiling

#: Float copies of a band alive at once: the band itself and its 8-bit copy (a quarter), with
#: room for the tile's output being copied in.
BAND_COPIES = 1.5
#: Tile sides are multiples of this (and the whole image side when smaller).
STEP = 16
#: The share of the budget the estimate may fill: the rest is for what it does not count
#: (allocator slack, the PNG encoder). A 4000x3000 photo x4 at 2 GiB without it peaked 20 KiB
#: under the budget.
HEADROOM = 0.9


def resident_bytes():
    """This process's resident memory now (Linux), or 0 where ``/proc`` does not tell."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def needed_bytes(tile, image_size, scale, channels, bytes_per_pixel, resident):
    """What the process holds at its peak while upscaling an image of ``image_size`` (H, W) with
    ``tile`` (th, tw) tiles, counting ``resident`` bytes already held."""
    h, w = image_size
    output = h * scale * w * scale * channels
    band = tile[0] * scale * w * scale * channels * 4 * BAND_COPIES
    return resident + output + band + bytes_per_pixel * tile[0] * tile[1]


def tile_for_budget(budget, image_size, scale, channels, bytes_per_pixel, overlap, resident=None):
    """The largest square tile (clipped to the image) whose run keeps the process within
    ``budget`` bytes; a ``UserError`` naming what the smallest useful tile needs when none does."""
    resident = resident_bytes() if resident is None else resident
    h, w = image_size
    smallest = min(2 * overlap + STEP, max(h, w))
    sides = range(max(h, w), smallest - 1, -1)
    for side in (s for s in sides if s == max(h, w) or s % STEP == 0):
        tile = (min(side, h), min(side, w))
        if min(tile) <= 2 * overlap and (tile[0] < h or tile[1] < w):
            break
        if needed_bytes(tile, image_size, scale, channels, bytes_per_pixel, resident) <= HEADROOM * budget:
            return tile
    tile = (min(smallest, h), min(smallest, w))
    need = needed_bytes(tile, image_size, scale, channels, bytes_per_pixel, resident) / HEADROOM
    raise UserError(f"a {w}x{h} image needs about {need / 2**30:.2f} GiB here even with {tile[1]}x{tile[0]} tiles, "
                    f"more than --max-memory {budget / 2**30:.2f} GiB: raise it")


def check_tile(tile, overlap):
    """A ``UserError`` unless ``tile`` keeps something inside ``overlap``."""
    try:
        for length in tile:
            tiling.check(length, overlap)
    except ValueError as e:
        raise UserError(f"{e}: use a larger tile or a smaller --overlap") from None
