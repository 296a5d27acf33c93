"""Write the app's bundled sample, app/src/main/assets/sample.png: a synthetic test chart
(Siemens star, zone plate, fine text, colour edges) that shows what SR does to aliasing and
edges, drawn here so that no benchmark image is copied into the repository.

Run from the repository root: python android_demo/make_sample.py
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

W, H = 192, 128
OUT = Path(__file__).parent / "app" / "src" / "main" / "assets" / "sample.png"


def chart():
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    img = np.full((H, W, 3), 235.0)
    # Siemens star, 36 spokes, left half.
    cy, cx, r = 64, 56, 54
    angle, radius = np.arctan2(y - cy, x - cx), np.hypot(y - cy, x - cx)
    star = (np.sin(36 * angle) > 0) & (radius < r)
    img[star] = (30, 30, 30)
    # Zone plate, top right: frequency rising towards the corner.
    zy, zx = y[:64, 120:] - 0, x[:64, 120:] - 120
    img[:64, 120:] = (127.5 + 100 * np.cos(np.pi * (zx**2 + zy**2) / 140))[..., None]
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(out)
    for i, colour in enumerate([(200, 30, 30), (30, 160, 60), (30, 60, 200)]):
        d.rectangle((120 + 24 * i, 70, 140 + 24 * i, 90), fill=colour)
    d.text((118, 96), "1-bit SR", fill=(20, 20, 20))
    d.text((118, 110), "LCE x4", fill=(20, 20, 20))
    return out


if __name__ == "__main__":
    chart().save(OUT)
    print(f"wrote {OUT}")
