"""Training pairs drawn where the twin trains: the images decoded once into one uint8 tensor
on the training device, and every batch cropped, rotated, flipped and degraded there, so that
a GPU waits on no host-side loop (the same code runs on the CPU).

Sample ``i`` of a batch is a pure function of ``(seed, batch index)``, as in
``lce_models.data.pipeline``: a random image of the training folders, a random crop of
``patch * scale`` pixels, a rotation by a random multiple of 90 degrees and a random
left-right flip, then the degradation:

- ``sr``: antialiased bicubic (Keys a = -0.5) shrink by the scale, rounded to 8 bits;
- ``denoise``: + N(0, (sigma / 255)^2), not clipped;
- ``jpeg``: JPEG at quality q (libjpeg, through Pillow), decoded: the one step done on the
  host, as PyTorch has no JPEG encoder of its own.

The draws come from a ``torch.Generator`` on the device seeded by ``(seed, batch index)``, so
the patches are of the same distribution as ``tools/train.py``'s, not the same patches, and a
device's draws differ from another kind's (a CPU run and a GPU run see different patches).
"""

import io

from lce_models.data.images import image_files, open_image

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def batch_generator(seed, index, device):
    """A generator on ``device`` whose state depends on ``(seed, index)`` alone."""
    state = int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0]) >> 1
    return torch.Generator(device=device).manual_seed(state)


class PatchSampler:
    """Random (degraded, clean) training pairs of some image folders, held on ``device``."""

    def __init__(self, folders, channels, patch, task, level, seed=0, device="cpu"):
        self.channels, self.task, self.level, self.seed = channels, task, level, seed
        self.device = torch.device(device)
        self.side = patch * (int(level) if task == "sr" else 1)
        images = []
        for path in (p for folder in folders for p in image_files(folder)):
            pixels = np.asarray(open_image(path, channels))
            if min(pixels.shape[:2]) >= self.side:  # no patch fits a smaller one
                images.append(pixels.reshape(*pixels.shape[:2], channels))
        if not images:
            raise FileNotFoundError(f"no training image of at least {self.side}x{self.side} in "
                                    f"{', '.join(str(f) for f in folders)}")
        sizes = np.array([image.size for image in images])
        # every image's pixels end to end, with where each starts and its height and width
        self.pixels = torch.from_numpy(np.concatenate([image.ravel() for image in images])).to(self.device)
        self.starts = torch.from_numpy(np.concatenate([[0], np.cumsum(sizes)[:-1]])).to(self.device)
        self.heights = torch.tensor([image.shape[0] for image in images], device=self.device)
        self.widths = torch.tensor([image.shape[1] for image in images], device=self.device)

    def crops(self, t, batch_size):
        """The clean uint8 (N, side, side, C) crops of batch ``t`` and its generator."""
        g = batch_generator(self.seed, t, self.device)
        draw = lambda high: (torch.rand(batch_size, generator=g, device=self.device) * high).long()  # noqa: E731
        image = draw(len(self.heights))
        h, w = self.heights[image], self.widths[image]
        top, left = draw(h - self.side + 1), draw(w - self.side + 1)
        rotation, flip = draw(4), draw(2)
        span = torch.arange(self.side, device=self.device)
        rows = (top[:, None] + span)[:, :, None]  # (N, side, 1)
        cols = (left[:, None] + span)[:, None, :]  # (N, 1, side)
        at = (self.starts[image][:, None, None] + (rows * w[:, None, None] + cols) * self.channels)
        channel = torch.arange(self.channels, device=self.device)
        clean = self.pixels[at[..., None] + channel]  # (N, side, side, C)
        for k in range(1, 4):
            turned = rotation == k
            clean[turned] = torch.rot90(clean[turned], k, dims=(1, 2))
        clean = torch.where(flip.bool()[:, None, None, None], clean.flip(2), clean)
        return clean, g

    def batch(self, t, batch_size):
        """Batch ``t`` as float32 NCHW (degraded, clean) on the device."""
        crops, g = self.crops(t, batch_size)
        clean = crops.permute(0, 3, 1, 2).float() / 255.0
        return self.degrade(crops, clean, g), clean

    def degrade(self, crops, clean, g):
        if self.task == "sr":
            small = F.interpolate(clean, scale_factor=1 / self.level, mode="bicubic", antialias=True,
                                  align_corners=False)
            return torch.round(small.clamp(0, 1) * 255) / 255
        if self.task == "denoise":
            return clean + torch.randn(clean.shape, generator=g, device=self.device) * (self.level / 255.0)
        return torch.stack([self._jpeg(crop) for crop in crops.cpu().numpy()]).to(self.device)

    def _jpeg(self, crop):
        buffer = io.BytesIO()
        Image.fromarray(crop.squeeze(-1) if self.channels == 1 else crop).save(buffer, "JPEG",
                                                                               quality=int(self.level))
        decoded = np.asarray(Image.open(buffer), np.float32).reshape(crop.shape) / 255.0
        return torch.from_numpy(decoded).permute(2, 0, 1)
