"""Restoring a whole photo with a model runtime: channels matched, tiles stitched, alpha kept.

A 3-channel model gets gray photos replicated to RGB and its output turned back to gray; a
1-channel model gets the luma (Y of YCbCr) of colour photos, with Cb/Cr enlarged by bicubic,
the usual way gray SR/denoising networks meet colour pictures. Alpha never goes through the
network (it is not image content): it is enlarged with bicubic. The output is assembled band
by band into one 8-bit image, so no float copy of the whole output is ever held.
"""

from lce_models.upscaling import tiling

import numpy as np
from PIL import Image


def _to_image(bands, size, channels):
    out = Image.new("RGB" if channels == 3 else "L", size)
    for top, band in bands:
        np.rint(np.multiply(band, 255.0, out=band), out=band)  # in place: no float copy of a band
        pixels = band.astype(np.uint8)
        out.paste(Image.fromarray(pixels if channels == 3 else pixels[..., 0]), (0, top))
    return out


def tile_size(runtime, image_size, tile):
    """The tile a runtime runs: its fixed input size, else ``tile`` clipped to the image."""
    if runtime.input_size[0] is not None:
        return tuple(runtime.input_size)
    return min(tile[0], image_size[0]), min(tile[1], image_size[1])


def upscale(photo, runtime, tile=(256, 256), overlap=None, progress=None):
    """The restored PIL image of a ``photos.Photo``. ``overlap`` None: the runtime's receptive
    radius (tiles then reproduce whole-image inference); ``progress(n)`` as in ``tiling.bands``."""
    h, w = photo.pixels.shape[:2]
    s = runtime.scale
    overlap = runtime.receptive_radius if overlap is None else overlap
    tile = tile_size(runtime, (h, w), tile)
    if runtime.channels == 3:
        pixels = np.repeat(photo.pixels, 3, axis=2) if photo.gray else photo.pixels
    elif photo.gray:
        pixels = photo.pixels
    else:
        ycbcr = Image.fromarray(photo.pixels).convert("YCbCr")
        pixels = np.asarray(ycbcr.getchannel("Y"))[..., None]
    out = _to_image(tiling.bands(pixels, runtime, tile, overlap, s, progress), (w * s, h * s),
                    runtime.channels)
    if runtime.channels == 3 and photo.gray:
        out = out.convert("L")
    elif runtime.channels == 1 and not photo.gray:
        cb, cr = (ycbcr.getchannel(c).resize(out.size, Image.BICUBIC) for c in ("Cb", "Cr"))
        out = Image.merge("YCbCr", (out, cb, cr)).convert("RGB")
    if photo.alpha is not None:
        out.putalpha(Image.fromarray(photo.alpha).resize(out.size, Image.BICUBIC))
    return out


def tiles(photo, runtime, tile=(256, 256), overlap=None):
    """How many tiles ``upscale`` runs for this photo."""
    h, w = photo.pixels.shape[:2]
    overlap = runtime.receptive_radius if overlap is None else overlap
    return tiling.count(h, w, tile_size(runtime, (h, w), tile), overlap)
