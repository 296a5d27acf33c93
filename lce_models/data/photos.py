"""Real-world image files in and out: what a camera or an editor writes, made model-ready.

``read`` applies the EXIF orientation (a phone photo is stored sideways with a rotate tag),
keeps grayscale as one channel, splits off alpha (RGBA, LA, palette with transparency) so it
can be upscaled on its own, and converts 16-bit files to 8 bits explicitly (scaled, not
clipped). ``write`` saves atomically in the format of the file extension.
"""

from dataclasses import dataclass, field
from pathlib import Path

from lce_models.files import atomic_path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Extensions ``write`` knows, by Pillow format name.
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF",
           ".tiff": "TIFF", ".webp": "WEBP"}
#: EXIF tag of the orientation (1: as stored; 2-8: mirror and/or rotate to display).
ORIENTATION = 0x0112


def unreadable(path, error):
    """The one-line message for an image file that Pillow cannot read."""
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"{path}: not a readable image ({reason})"


class PhotoError(Exception):
    """A file that cannot be read or written as an image: one line saying why."""


@dataclass
class Photo:
    pixels: np.ndarray  # uint8 (H, W, 3) RGB or (H, W, 1) gray
    alpha: np.ndarray | None = None  # uint8 (H, W), or None
    notes: list = field(default_factory=list)  # conversions applied, for the user

    @property
    def gray(self):
        return self.pixels.shape[2] == 1


def eight_bit(img):
    """16-bit (and 32-bit integer) gray to 8 bits by scaling the full 16-bit range, where a
    bare ``convert`` would clip everything above 255 to white."""
    wide = np.asarray(img, dtype=np.float64)
    return Image.fromarray(np.round(np.clip(wide, 0, 65535) * 255.0 / 65535.0).astype(np.uint8))


def read(path):
    """A ``Photo`` of an image file; ``PhotoError`` if missing or not a readable image."""
    path = Path(path)
    if not path.is_file():
        raise PhotoError(f"{path}: no such file")
    notes = []
    try:
        with Image.open(path) as img:
            orientation = img.getexif().get(ORIENTATION, 1)
            img = ImageOps.exif_transpose(img)
            if orientation != 1:
                notes.append(f"EXIF orientation {orientation} applied")
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                notes.append(f"16-bit {img.mode} scaled to 8 bits")
                img = eight_bit(img)
            elif img.mode == "P":
                img = img.convert("RGBA" if "transparency" in img.info else "RGB")
            elif img.mode == "PA":
                img = img.convert("RGBA")
            elif img.mode in ("CMYK", "YCbCr", "LAB", "HSV", "1", "F", "RGBX"):
                notes.append(f"{img.mode} converted to RGB" if img.mode not in ("1", "F") else
                             f"{img.mode} converted to gray")
                img = img.convert("L" if img.mode in ("1", "F") else "RGB")
            alpha = None
            if img.mode in ("RGBA", "LA", "La", "RGBa"):
                alpha = np.asarray(img.getchannel("A"))
                img = img.convert("L" if img.mode in ("LA", "La") else "RGB")
            pixels = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise PhotoError(unreadable(path, e)) from None
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    return Photo(pixels, alpha, notes)


def write(path, img):
    """Save a PIL image atomically, in the format of ``path``'s extension; notes of what the
    format cannot hold (JPEG and alpha)."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise PhotoError(f"{path}: unknown image extension; use one of {', '.join(sorted(FORMATS))}")
    notes = []
    if fmt == "JPEG" and img.mode in ("RGBA", "LA"):
        img = img.convert(img.mode[:-1])
        notes.append("alpha dropped: JPEG has none")
    # PNG at zlib level 1: a 7680x4320 output took 8.4 s at Pillow's default level 6, 1.8 s at 1
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {"compress_level": 1} if fmt == "PNG" else {}
    with atomic_path(path) as tmp:
        img.save(tmp, format=fmt, **options)
    return notes
