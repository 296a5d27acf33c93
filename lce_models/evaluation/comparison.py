"""Side-by-side crops of SR results, the figure papers show beside their tables.

A crop is ``SET/IMAGE@Y,X,SIZE`` in HR pixels (e.g. ``Set14/ppt3@240,30,120``). Every
method enlarges the whole LR image (so borders play no part) and the crop is cut from its
result; each panel is labelled with the method and the crop's Y PSNR against HR.
"""

from dataclasses import dataclass

from lce_models.data.degradations import Degradation
from lce_models.evaluation.metrics import psnr
from lce_models.evaluation.protocol import load_set

import numpy as np
from PIL import Image, ImageDraw, ImageFont


@dataclass(frozen=True)
class Crop:
    set_name: str
    image: str
    y: int
    x: int
    size: int

    @classmethod
    def parse(cls, text):
        try:
            where, box = text.split("@")
            set_name, image = where.rsplit("/", 1)
            y, x, size = (int(v) for v in box.split(","))
        except ValueError:
            raise ValueError(f"expected SET/IMAGE@Y,X,SIZE such as Set14/ppt3@240,30,120, got {text!r}") from None
        if min(y, x) < 0 or size < 8:
            raise ValueError(f"{text}: the crop must lie in the image and be at least 8 pixels")
        return cls(set_name, image, y, x, size)

    def __str__(self):
        return f"{self.set_name}/{self.image}@{self.y},{self.x},{self.size}"

    def pair(self, scale):
        """(LR image, HR image) of the crop's test image."""
        for name, lr, hr in load_set(self.set_name, Degradation("sr", scale)):
            if name == self.image:
                if self.y + self.size > hr.shape[0] or self.x + self.size > hr.shape[1]:
                    raise ValueError(f"{self}: the crop leaves the {hr.shape[1]}x{hr.shape[0]} image")
                return lr, hr
        raise ValueError(f"{self}: no image {self.image!r} in {self.set_name}")

    def cut(self, image):
        return image[self.y:self.y + self.size, self.x:self.x + self.size]


def panels(crop, methods, scale):
    """[(label, crop of the result)] for each (name, restorer) of ``methods``, then HR."""
    lr, hr = crop.pair(scale)
    truth = crop.cut(hr)
    out = []
    for name, restore in methods:
        piece = crop.cut(np.clip(restore(lr), 0.0, 1.0))
        out.append((f"{name}  {psnr(piece, truth, 0, 'y'):.2f} dB", piece))
    return out + [("HR", truth)]


def figure(rows, zoom=2, caption_height=20):
    """One image of rows of labelled panels (``panels`` output), each enlarged ``zoom`` times
    without interpolation so that pixels stay visible."""
    font = ImageFont.load_default(size=13)
    side = max(piece.shape[0] for row in rows for _, piece in row) * zoom
    columns = max(len(row) for row in rows)
    gap = 4
    sheet = Image.new("RGB", (columns * (side + gap) - gap, len(rows) * (side + caption_height + gap) - gap), "white")
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(rows):
        top = r * (side + caption_height + gap)
        for c, (label, piece) in enumerate(row):
            left = c * (side + gap)
            tile = Image.fromarray(np.round(piece * 255).astype(np.uint8)).resize((side, side), Image.NEAREST)
            draw.text((left + 2, top + 3), label, fill="black", font=font)
            sheet.paste(tile, (left, top + caption_height))
    return sheet
