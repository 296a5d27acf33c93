"""What every runtime is: a callable on NHWC float32 batches that knows its shapes."""

from dataclasses import dataclass

import numpy as np


@dataclass
class Runtime:
    run: object  # (N, H, W, C) float32 -> (N, sH, sW, C)
    input_size: tuple  # (H, W), or (None, None) when any size runs
    channels: int
    scale: int
    engine: str
    receptive_radius: int
    #: memory its activations need per input pixel, where known (picks tiles within a budget)
    bytes_per_pixel: float | None = None

    def __call__(self, x):
        return self.run(np.asarray(x, np.float32))
