"""TFLite's memory plan of a flatbuffer, read from the stock interpreter with LCE's ops standing
in, and the search for the largest input size whose plan fits a budget."""

import math

from lce_models.runtimes.arena import ArenaError, MemoryPlan, memory_plan

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from test_units import unit_model

from converters import fit
from converters.export import export
from converters.report import memory_row
from converters.tflite import convert_checked


def float_conv_flatbuffer(size, channels_in, channels_out):
    x = keras.Input((*size, channels_in), batch_size=1)
    model = keras.Model(x, keras.layers.Conv2D(channels_out, 3, padding="same")(x))
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def test_float_conv_plan_is_its_three_live_tensors():
    """Input, output and the float im2col scratch of a 3x3 conv are alive at once: TFLite's
    planner can share nothing, so the arena is their sum (each a multiple of its 64-byte
    alignment here)."""
    h, w, cin, cout = 8, 10, 4, 6
    plan = memory_plan(float_conv_flatbuffer((h, w), cin, cout))
    im2col = h * w * 9 * cin * 4
    assert plan.scratch_bytes == im2col
    assert plan.arena_bytes == h * w * cin * 4 + h * w * cout * 4 + im2col
    assert plan.persistent_bytes == 0 and plan.total_bytes == plan.arena_bytes + plan.model_bytes


def test_binary_conv_plan_has_lce_im2col_scratch():
    """LceBconv2d's optimized kernel prepares an int32 im2col of the bit-packed input
    (bconv2d.cc): 64 channels pack into 2 words, times the 3x3 window."""
    h, w = 8, 10
    flatbuffer, census = convert_checked(unit_model(channels=64, size=(h, w), padding="one"))
    assert census["LceBconv2d"] == 1
    plan = memory_plan(flatbuffer)
    assert plan.scratch_bytes == h * w * 2 * 9 * 4
    activation = h * w * 64 * 4  # the unit's float input and output at least
    assert plan.arena_bytes >= 2 * activation + plan.scratch_bytes
    assert plan.model_bytes == len(flatbuffer)


def test_a_damaged_file_is_refused():
    with pytest.raises(ValueError):
        memory_plan(b"TFL3" + bytes(60))


def test_unknown_custom_ops_are_refused(monkeypatch):
    monkeypatch.setattr("lce_models.runtimes.arena.LCE_CUSTOM_OPS", frozenset())
    flatbuffer, _ = convert_checked(unit_model(channels=32, size=(4, 4), padding="one"))
    with pytest.raises(ArenaError, match="LceBconv2d"):
        memory_plan(flatbuffer)


class LinearPlans(fit.Fitter):
    """A fitter whose plan is a model of ``model_bytes`` plus ``per_pixel`` bytes a pixel, with
    some rounding, as real plans have: no conversion runs."""

    def __init__(self, aspect, model_bytes, per_pixel):
        super().__init__(None, aspect)
        self.model_bytes, self.per_pixel = model_bytes, per_pixel

    def plan(self, height):
        self.plans[height] = None  # counts the trials
        arena = math.ceil(math.prod(fit.size_of(height, self.aspect)) * self.per_pixel / 64) * 64
        return MemoryPlan(arena, 0, self.model_bytes, 0)


@pytest.mark.parametrize("aspect", [(9, 16), (2, 3), (1, 1), (3, 1)])
@pytest.mark.parametrize("budget", [10**6, 3 * 10**8, 2**32])
def test_largest_size_fits_and_the_next_does_not(aspect, budget):
    fitter = LinearPlans(aspect, 1_600_000, 45_260.3)
    found = fitter.largest(budget)
    if budget < fitter.plan(1).total_bytes:
        assert found is None
        return
    (h, w), plan = found
    assert (h, w) == fit.size_of(h, aspect) and plan.total_bytes <= budget
    assert fitter.plan(h + 1).total_bytes > budget
    assert len(fitter.plans) <= 5  # the trial, the estimate, the next size, at most a step or two more


def test_the_trial_is_the_given_size_up_to_a_limit():
    assert LinearPlans((16, 24), 1, 1).trial_height == 16
    assert LinearPlans((180, 320), 1, 1).trial_height == fit.TRIAL_HEIGHT



def test_a_tensorflow_without_the_resolver_symbol_is_refused(monkeypatch):
    monkeypatch.setattr("lce_models.runtimes.arena._ADD_CUSTOM", "no_such_symbol")
    with pytest.raises(ArenaError, match="AddCustom"):
        memory_plan(float_conv_flatbuffer((4, 4), 1, 1))


def test_a_conversion_whose_plan_cannot_be_read_still_succeeds_and_says_why(monkeypatch):
    monkeypatch.setattr("lce_models.runtimes.arena._ADD_CUSTOM", "no_such_symbol")
    model = unit_model(channels=32, size=(4, 4), padding="one")
    x = np.zeros((1, 4, 4, 32), np.float32)
    artifact = export(model, "tflite", {"zeros": (x, model(x, training=False).numpy())}, sign_flips=False)
    assert artifact.verified and "AddCustom" in artifact.summary()["memory_plan"]["unavailable"]
    assert memory_row(artifact.memory).startswith("not available: ")


def test_tensor_structs_of_another_layout_are_refused_before_anything_is_written(monkeypatch):
    monkeypatch.setattr("lce_models.runtimes.arena._TENSOR_SIZE", 104)
    with pytest.raises(ArenaError, match="tensor structs are not the ones this reader knows"):
        memory_plan(float_conv_flatbuffer((4, 4), 1, 1))
