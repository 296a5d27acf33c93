"""Running a fixed-size model over images of any size: the tile plan, and stitching.

A converted flatbuffer takes one input size. An image is cut into tiles of that size that
overlap, each tile is restored, and each output pixel is taken from exactly one tile: the
boundary between two neighbouring tiles is the middle of their overlap, so every kept pixel
has at least ``overlap`` input pixels of real context on each inner side. Tiles are aligned to
the image edges, so a tile at an edge sees the same border as the whole image does: when
``overlap`` covers the model's receptive radius, the stitched image equals whole-image
inference exactly. An image smaller than a tile is reflect-padded (bottom/right) up to it.

The plan is pure integer arithmetic, reproduced by the Android app's JVM module
(``android_demo``) and checked against the same golden vectors, so the two cannot drift apart.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Span:
    """One tile along one axis: input ``[start, start + length)``, output kept ``[keep_from, keep_to)``
    (both in image coordinates)."""

    start: int
    keep_from: int
    keep_to: int


def check(length, overlap):
    """``ValueError`` unless a tile of ``length`` keeps something inside ``overlap`` each side."""
    if length <= 2 * overlap:
        raise ValueError(f"a tile of {length} pixels leaves nothing inside an overlap of {overlap} "
                         "on each side")


def spans(size, length, overlap):
    """The tiles of length ``length`` along an axis of ``size`` pixels, sharing ``overlap``
    pixels of context on each inner side."""
    if size <= length:
        return [Span(0, 0, size)]
    check(length, overlap)
    last = size - length
    starts = sorted({*range(0, last, length - 2 * overlap), last})
    # Boundaries in the middle of each overlap: at least ``overlap`` context on both sides.
    cuts = [0] + [(a + length + b) // 2 for a, b in zip(starts, starts[1:])] + [size]
    return [Span(s, cuts[i], cuts[i + 1]) for i, s in enumerate(starts)]


@dataclass(frozen=True)
class Tile:
    """A tile of the 2-D plan: its input window's top-left corner and the kept output region,
    in input-image pixels (multiply by the scale for the output)."""

    top: int
    left: int
    keep: tuple  # (top, bottom, left, right), half-open

    def crop(self, scale=1):
        """Index of the kept region inside this tile's (scaled) output."""
        t, b, l, r = self.keep
        return (slice((t - self.top) * scale, (b - self.top) * scale),
                slice((l - self.left) * scale, (r - self.left) * scale))


def plan(height, width, tile, overlap):
    """Row-major list of rows of Tiles covering a ``height`` x ``width`` image."""
    th, tw = tile
    rows, cols = spans(height, th, overlap), spans(width, tw, overlap)
    return [[Tile(r.start, c.start, (r.keep_from, r.keep_to, c.keep_from, c.keep_to)) for c in cols]
            for r in rows]


def pad_to(image, tile):
    """Reflect-pad an (H, W, C) image at the bottom/right up to at least the tile size."""
    h, w = image.shape[:2]
    pad_h, pad_w = max(tile[0] - h, 0), max(tile[1] - w, 0)
    if not (pad_h or pad_w):
        return image
    return np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")


def bands(image, run, tile, overlap, scale=1, progress=None):
    """Restore ``image`` (H, W, C; uint8 or float in [0, 1]) with ``run`` (a function of
    (1, th, tw, C) float32 batches) tile by tile, yielding the output one band of tile rows
    at a time as ``(first output row, float32 band clipped to [0, 1])``. Memory is bounded by a
    band, not the image; ``progress(n)`` is called after every ``n`` tiles done."""
    h, w = image.shape[:2]
    padded = pad_to(image, tile)
    th, tw = tile
    to_float = (lambda a: a.astype(np.float32) / 255.0) if image.dtype == np.uint8 else (
        lambda a: a.astype(np.float32))
    for row in plan(*padded.shape[:2], tile, overlap):
        top, bottom = row[0].keep[:2]
        band = np.empty(((min(bottom, h) - top) * scale, w * scale, image.shape[2]), np.float32)
        for t in row:
            window = to_float(padded[t.top : t.top + th, t.left : t.left + tw])
            out = np.asarray(run(window[None]))[0]
            rows, cols = t.crop(scale)
            kept = out[rows, cols][: band.shape[0], : band.shape[1] - t.keep[2] * scale]
            band[:, t.keep[2] * scale : t.keep[2] * scale + kept.shape[1]] = kept
            if progress:
                progress(1)
        yield top * scale, np.clip(band, 0.0, 1.0, out=band)


def count(height, width, tile, overlap):
    """How many tiles ``bands`` runs for an image of this size."""
    rows = plan(max(height, tile[0]), max(width, tile[1]), tile, overlap)
    return len(rows) * len(rows[0])


def restorer(run, tile, overlap, scale=1):
    """A restorer (image -> whole restored float32 image) running ``run`` on tiles; the tile
    and overlap are checked at once."""
    for length in tile:
        check(length, overlap)
    return lambda image: np.concatenate([b for _, b in bands(image, run, tile, overlap, scale)])
