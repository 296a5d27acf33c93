"""Image files: where the shared benchmark data lives, and reading images as float arrays."""

import os
from pathlib import Path

from lce_models.data.photos import eight_bit, unreadable
from lce_models.errors import UserError

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
#: ``../shared/data`` beside the repository root; ``LCE_MODELS_DATA`` overrides it.
DATA_ROOT = Path(os.environ.get("LCE_MODELS_DATA", REPO_ROOT.parent / "shared" / "data"))
#: The photograph used to check conversions when the user names none.
DEFAULT_SAMPLE = DATA_ROOT / "test" / "Set14" / "HR" / "baboon.png"


class ImageFileError(UserError, ValueError):
    """An image file that cannot be read (one line)."""


def open_image(path, channels=3):
    """Open an image file as an 8-bit PIL image with 3 (RGB) or 1 (luma) channels.

    Grayscale and palette files are replicated to RGB, alpha is dropped, 16-bit files are
    scaled to 8 bits (not clipped, as a bare ``convert`` would), RGB becomes ITU-R 601 luma.
    """
    with Image.open(path) as img:
        if img.mode.startswith("I"):
            img = eight_bit(img)
        return img.convert("RGB" if channels == 3 else "L")


def to_array(img):
    """PIL image -> float32 (H, W, C) in [0, 1]."""
    array = np.asarray(img, dtype=np.float32) / 255.0
    return array if array.ndim == 3 else array[..., None]


def sample_image(height, width, channels=3, path=None):
    """A real photograph of exactly (height, width, channels) in [0, 1]: the centre crop of
    ``path`` (default a Set14 image), enlarged first with bicubic if it is too small."""
    path = Path(path) if path else DEFAULT_SAMPLE
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    try:
        img = open_image(path, channels)  # converted, so read whole
    except (OSError, ValueError) as e:  # Pillow's errors for a damaged or foreign file
        raise ImageFileError(unreadable(path, e)) from None
    w, h = img.size
    if h < height or w < width:
        f = max(height / h, width / w)
        img = img.resize((max(width, round(w * f)), max(height, round(h * f))), Image.BICUBIC)
        w, h = img.size
    left, top = (w - width) // 2, (h - height) // 2
    return to_array(img.crop((left, top, left + width, top + height)))


def image_files(folder):
    """The image files (PNG, JPEG, BMP) of a folder, sorted; a clear error if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no PNG/JPEG/BMP images in {folder}")
    return files


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def training_folders(names):
    """Comma-separated folders, or set names under the shared ``train/`` folder, as paths."""
    folders = []
    for name in names.split(","):
        path = Path(name) if Path(name).is_dir() else DATA_ROOT / "train" / name
        if not path.is_dir():
            raise FileNotFoundError(f"training folder {name!r} is neither a folder nor a set "
                                    f"under {DATA_ROOT / 'train'}")
        folders.append(path)
    return tuple(folders)
