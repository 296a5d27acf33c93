"""The largest input size of a given aspect whose ``.tflite`` fits a memory budget, judged by
TFLite's own memory plan (``lce_models.runtimes.arena``) of files converted at trial sizes.

Every tensor of these fully convolutional networks grows with the input's pixel count, so the
plan is its fixed part (the model) plus a per-pixel part: one trial conversion (at the given
size, or a smaller one of its aspect) gives the slope, the budget then names a height, and
conversions at that height and the next one confirm it: the chosen size's plan fits and the next size's does not.
"""

import math
import time

from lce_models.runtimes.arena import memory_plan

from converters import tflite

#: Greatest height of the trial conversion that measures the per-pixel slope (its size is the
#: given one where smaller: tools/convert.py's --input-size).
TRIAL_HEIGHT = 64


def size_of(height, aspect):
    """(H, W) of ``aspect`` (H, W) at ``height``; W rounded, at least 1."""
    return height, max(1, round(height * aspect[1] / aspect[0]))


class Fitter:
    """Plans of ``model`` (a network of ``lce_models``) converted at heights of one aspect;
    ``stage`` is told of each trial conversion (``cli.Stages``)."""

    def __init__(self, model, aspect, stage=lambda name: None):
        self.model, self.aspect, self.stage = model, tuple(aspect), stage
        self.plans, self.files = {}, {}
        self.trial_height = min(self.aspect[0], TRIAL_HEIGHT)

    def plan(self, height):
        """The ``MemoryPlan`` of the ``.tflite`` at ``height``."""
        if height not in self.plans:
            h, w = size_of(height, self.aspect)
            self.stage(f"planning memory at {h}x{w}")
            start = time.perf_counter()
            data, census = tflite.convert_checked(tflite.with_fixed_shape(self.model, (h, w)))
            self.files[height] = data, census, time.perf_counter() - start
            self.plans[height] = memory_plan(data)
        return self.plans[height]

    def fits(self, height, budget):
        return self.plan(height).total_bytes <= budget

    def least_needed(self):
        """The least that any size needs, of what is known: the plan at height 1 if made, else
        the model alone."""
        return self.plans[1].total_bytes if 1 in self.plans else self.plan(self.trial_height).model_bytes

    def largest(self, budget):
        """The largest (H, W) whose plan's total fits ``budget`` bytes and its plan, or None when
        not even one pixel high fits. ``files[H]`` keeps each trial's (flatbuffer, op census,
        conversion seconds)."""
        trial = self.plan(self.trial_height)
        if budget < trial.model_bytes:  # the model alone: no size fits
            return None
        pixels = math.prod(size_of(self.trial_height, self.aspect))
        per_pixel = (trial.total_bytes - trial.model_bytes) / pixels
        room = (budget - trial.model_bytes) / per_pixel
        height = max(1, math.isqrt(max(0, int(room * self.aspect[0] / self.aspect[1]))))
        while height > 1 and not self.fits(height, budget):
            height -= 1
        if not self.fits(height, budget):
            return None
        while self.fits(height + 1, budget):
            height += 1
        return size_of(height, self.aspect), self.plan(height)
