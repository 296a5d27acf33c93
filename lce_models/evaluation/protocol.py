"""Benchmark evaluation as the papers do it.

=========  =========================================  ================================  =======
task       test pairs                                 metric (``metrics.py``)           border
=========  =========================================  ================================  =======
sr         HR and MATLAB-made LR (``x<s>/LR``)        Y (BT.601), 8-bit                 s
denoise    clean + Gaussian noise, fixed seed         RGB (gray for 1-channel models)   0
jpeg       clean, JPEG-compressed at quality q        gray (RGB for 3-channel models)   0
=========  =========================================  ================================  =======

A set is a name under the shared ``test/`` folder, a folder of that layout (``HR/`` and, for
SR, ``x<s>/LR/``), a plain folder of clean images (denoise/jpeg), or ``HR_DIR:LR_DIR``.
A restorer is any function from a degraded (H, W, C) [0, 1] image to the restored one.
"""

from pathlib import Path

from lce_models.data.images import DATA_ROOT, image_files, open_image, to_array
from lce_models.data.photos import unreadable
from lce_models.errors import UserError
from lce_models.evaluation.metrics import psnr, ssim

import numpy as np
import tensorflow as tf
from PIL import Image
from tqdm import tqdm

#: Seed of the test noise: image ``i`` of a set gets noise seed (NOISE_SEED, i).
NOISE_SEED = 2023
#: The sets a task is measured on when none are named, as the papers report them.
DEFAULT_SETS = {"sr": "Set5,Set14,B100", "denoise": "CBSD68", "jpeg": "Classic5"}
#: The name of a task's baseline row: what a restorer has to beat.
BASELINES = {"sr": "bicubic", "denoise": "noisy input", "jpeg": "JPEG input"}


def bicubic(scale):
    """The SR baseline: Pillow's bicubic enlargement (within 0.01 dB of MATLAB's on the
    shared sets, per the data README)."""

    def upscale(lr):
        pixels = lr[..., 0] if lr.shape[-1] == 1 else lr
        img = Image.fromarray(np.round(pixels * 255).astype(np.uint8))
        return to_array(img.resize((img.width * scale, img.height * scale), Image.BICUBIC))

    return upscale


def identity(degraded):
    """The baseline row of denoising and JPEG tables: the degraded input itself."""
    return degraded


def baseline(task, scale=1):
    """The baseline restorer of ``task``: bicubic enlargement by ``scale`` for SR, else the
    degraded input itself."""
    return bicubic(scale) if task == "sr" else identity


def keras_restorer(model):
    """A Keras model built for any input size, as a restorer (output clipped to [0, 1])."""
    return lambda x: np.clip(model(x[None], training=False).numpy()[0], 0.0, 1.0)


def _folder(spec, sub=None):
    path = Path(spec)
    if not path.is_dir():
        path = DATA_ROOT / "test" / spec
    if sub is not None and (path / sub).is_dir():
        path = path / sub
    if not path.is_dir():
        raise FileNotFoundError(f"no test set {spec!r}: neither a folder nor a set under {DATA_ROOT / 'test'}")
    return path


def set_folders(set_spec, degradation):
    """(clean folder, LR folder or None) of a test set; a clear error when it is not there."""
    if degradation.task != "sr":
        return _folder(set_spec, "HR"), None
    s = degradation.multiple
    if ":" in set_spec:
        hr_dir, lr_dir = (Path(p) for p in set_spec.split(":", 1))
    else:
        root = _folder(set_spec)
        hr_dir, lr_dir = root / "HR", root / f"x{s}" / "LR"
    for folder in (hr_dir, lr_dir):
        if not folder.is_dir():
            raise FileNotFoundError(f"test set {set_spec!r} has no folder {folder} for x{s}")
    return hr_dir, lr_dir


class SetError(UserError, ValueError):
    """A test set whose files do not make pairs the protocol can score (one line, naming the
    first file that does not fit)."""


def _unreadable(path, error):
    return SetError(unreadable(path, error))


def _size(path):
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError) as e:  # Pillow's errors for a damaged or foreign file
        raise _unreadable(path, e) from None


def check_pairs(clean_dir, lr_dir, s):
    """``SetError`` unless every clean image has an LR image of exactly its size / ``s``
    (after cropping it to a multiple of ``s``, MATLAB's modcrop): a smaller or larger LR would
    be scored against a crop it was not made from."""
    for path in image_files(clean_dir):
        lr_path = lr_dir / path.name
        if not lr_path.is_file():
            raise FileNotFoundError(f"{path.name} has no LR image in {lr_dir}")
        (w, h), (lw, lh) = _size(path), _size(lr_path)
        if (lw, lh) != (w // s, h // s):
            raise SetError(f"{lr_path} is {lw}x{lh}, not {w // s}x{h // s} ({path.name}, {w}x{h}, / {s}): "
                               "the set is refused")


def _read(path, channels):
    try:
        return to_array(open_image(path, channels))
    except (OSError, ValueError) as e:
        raise _unreadable(path, e) from None


def load_set(set_spec, degradation, channels=3):
    """(name, degraded, clean) of a test set for ``degradation`` (``degradations.Degradation``);
    SR pairs are checked first (``check_pairs``)."""
    clean_dir, lr_dir = set_folders(set_spec, degradation)
    s = degradation.multiple
    if lr_dir is not None:
        check_pairs(clean_dir, lr_dir, s)
    for i, path in enumerate(image_files(clean_dir)):
        clean = _read(path, channels)
        if lr_dir is None:
            degraded = degradation(tf.constant(clean), tf.constant([NOISE_SEED, i], tf.int64))
            yield path.stem, np.asarray(degraded, np.float32), clean
            continue
        lr = _read(lr_dir / path.name, channels)
        yield path.stem, lr, clean[: lr.shape[0] * s, : lr.shape[1] * s]


def metric_space(task, channels):
    if task == "sr":
        return "y"
    return "rgb" if channels == 3 else "gray"


def evaluate(restore, set_spec, degradation, channels=3, progress=False):
    """Per-image and mean PSNR / SSIM of ``restore`` on a test set, in the task's convention."""
    space = metric_space(degradation.task, channels)
    border = degradation.multiple if degradation.task == "sr" else 0
    images = {}
    pairs = load_set(set_spec, degradation, channels)
    for name, degraded, clean in tqdm(pairs, desc=str(set_spec), disable=not progress, leave=False):
        out = restore(degraded)
        if out.shape != clean.shape:
            raise ValueError(f"{name}: restored image is {out.shape}, expected {clean.shape}")
        images[name] = {"psnr": psnr(out, clean, border, space), "ssim": ssim(out, clean, border, space)}
    return {
        "psnr": float(np.mean([v["psnr"] for v in images.values()])),
        "ssim": float(np.mean([v["ssim"] for v in images.values()])),
        "metric": f"{space.upper() if space == 'y' else space}, border {border}",
        "images": images,
    }
