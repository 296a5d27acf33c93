"""Image files: where the shared benchmark data lives, and reading images as float arrays."""

import os
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
#: ``../shared/data`` beside the repository root; ``LCE_MODELS_DATA`` overrides it.
DATA_ROOT = Path(os.environ.get("LCE_MODELS_DATA", REPO_ROOT.parent / "shared" / "data"))
#: The photograph used to check conversions when the user names none.
DEFAULT_SAMPLE = DATA_ROOT / "test" / "Set14" / "HR" / "baboon.png"


def open_image(path, channels=3):
    """Open an image file as an 8-bit PIL image with 3 (RGB) or 1 (luma) channels.

    Grayscale and palette files are replicated to RGB, alpha is dropped, 16-bit files are
    scaled to 8 bits (not clipped, as a bare ``convert`` would), RGB becomes ITU-R 601 luma.
    """
    with Image.open(path) as img:
        if img.mode.startswith("I"):
            wide = np.asarray(img, dtype=np.float64)
            img = Image.fromarray(np.round(wide * 255.0 / 65535.0).astype(np.uint8))
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
    img = open_image(path, channels)
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
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no PNG/JPEG/BMP images in {folder}")
    return files


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


class SRPatches:
    """Random (LR, HR) training pairs for x``scale`` SR, drawn from images kept in memory.

    HR patches of ``scale * lr_patch`` pixels are cropped at random, flipped and rotated by a
    multiple of 90 degrees; the LR patch is their Pillow bicubic (antialiased) downscale.
    """

    def __init__(self, folders, scale, lr_patch=48, channels=3, seed=0):
        self.images = [np.asarray(open_image(f, channels)) for d in folders for f in image_files(d)]
        self.scale, self.lr_patch, self.channels = scale, lr_patch, channels
        self.rng = np.random.default_rng(seed)

    def batch(self, size):
        hr_size = self.scale * self.lr_patch
        lrs, hrs = [], []
        while len(hrs) < size:
            image = self.images[self.rng.integers(len(self.images))]
            h, w = image.shape[:2]
            if h < hr_size or w < hr_size:
                continue
            top, left = self.rng.integers(h - hr_size + 1), self.rng.integers(w - hr_size + 1)
            patch = image[top : top + hr_size, left : left + hr_size]
            patch = np.rot90(patch, self.rng.integers(4))
            if self.rng.integers(2):
                patch = patch[:, ::-1]
            hr = to_array(Image.fromarray(np.ascontiguousarray(patch)))
            lrs.append(bicubic_downscale(hr, self.scale))
            hrs.append(hr)
        return np.stack(lrs), np.stack(hrs)


def bicubic_downscale(hr, scale):
    """Shrink a [0, 1] image (sides divisible by ``scale``) with Pillow's antialiased bicubic.

    Bicubic enlargement of these LR images scores within 0.002 dB of the same on the
    MATLAB-made LR of Set5 / Set14 / B100 (tests/test_data.py).
    """
    array = hr[..., 0] if hr.shape[-1] == 1 else hr
    img = Image.fromarray(np.round(array * 255).astype(np.uint8))
    return to_array(img.resize((img.width // scale, img.height // scale), Image.BICUBIC))


def sr_pairs(set_name, scale, channels=3):
    """(name, LR, HR cropped to scale * LR size) of a benchmark set of the shared data."""
    root = DATA_ROOT / "test" / set_name
    for hr_path in image_files(root / "HR"):
        lr = to_array(open_image(root / f"x{scale}" / "LR" / hr_path.name, channels))
        hr = to_array(open_image(hr_path, channels))
        yield hr_path.stem, lr, hr[: lr.shape[0] * scale, : lr.shape[1] * scale]
