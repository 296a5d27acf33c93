"""Training throughput: steps per second of the Keras trainer's loop, per network and padding."""

import tempfile

from lce_models.data.degradations import Degradation
from lce_models.data.images import training_folders
from lce_models.models import NETWORKS
from lce_models.runtimes.loader import network_config
from lce_models.training.plan import TrainingPlan
from lce_models.training.trainer import train

from converters.benchmarking.measure import machine


def training_throughput(specs, steps, batch_size, patch, scale=None, paddings=("zero",)):
    """Yields a Markdown table, a line at a time: steps/s of the Keras trainer's loop for each
    network of ``specs`` and each padding, ``steps`` timed after one (graph tracing) step."""
    yield f"machine: {machine()}, TensorFlow on the CPU"
    yield "| network | padding | batch | LR patch | steps timed | steps/s |"
    yield "| --- | --- | --- | --- | --- | --- |"
    plan = TrainingPlan(steps=steps + 1, batch_size=batch_size, patch=patch,
                        validate_every=10**9, save_every=10**9, data=training_folders("T91,BSD200"))
    for spec in specs:
        for padding in paddings:
            config = network_config(spec, scale, padding=padding)
            task = NETWORKS[config.name].task
            level = {"sr": config.scale, "denoise": 25, "jpeg": 10}[task]
            with tempfile.TemporaryDirectory() as run_dir:
                summary = train(run_dir, config, Degradation(task, level), plan, progress=False)
            yield (f"| {config.name} x{config.scale} | {padding} | {batch_size} | {patch} | {steps} | "
                   f"{summary['steps_per_second']:.3f} |")
