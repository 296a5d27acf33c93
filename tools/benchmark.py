"""Time converted flatbuffers, or training, on this machine, for notes (never for asserts).

Converts each requested padding variant of a network at a fixed input size and reports the
median wall time of the LCE interpreter over several runs. With --train-steps N it times N
training steps instead (tools/train.py's loop, a throw-away run folder, 291 training images)
and reports steps/s after the first step, which traces the graph. The machine and the kernels are
named in the output: on x86-64, LCE's binary kernels are its portable reference code, far
slower than its ARM64 kernels, so these figures say nothing about a phone or a Raspberry Pi;
ARM64 figures come only from ``lce_benchmark_model`` run on such a device.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

from lce_models import NETWORKS, NetworkConfig, build_model, cli
from lce_models.units import PADDINGS

from converters.tflite import convert_checked  # noqa: E402
from lce_models.data import training_folders  # noqa: E402
from lce_models.degradations import Degradation  # noqa: E402
from lce_models.training import TrainingPlan, train  # noqa: E402
from larq_compute_engine.tflite.python.interpreter import Interpreter  # noqa: E402


def median_seconds(flatbuffer, x, threads, runs):
    interpreter = Interpreter(flatbuffer, num_threads=threads)
    interpreter.predict(x)  # warm-up: allocation and packing of weights
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.predict(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@cli.main
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="bbcu-l", help=f"one of {', '.join(NETWORKS)}")
    p.add_argument("--scale", type=int)
    p.add_argument("--paddings", default="zero,one", help="comma-separated: zero, one")
    p.add_argument("--input-size", type=cli.size, default=(180, 320), metavar="HxW")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--train-steps", type=int, help="time this many training steps instead")
    p.add_argument("--batch-size", type=int, default=16, help="with --train-steps")
    p.add_argument("--patch", type=int, default=48, help="LR patch, with --train-steps")
    args = p.parse_args(argv)
    if args.train_steps:
        return training_throughput(args)
    paddings = args.paddings.split(",")
    for padding in paddings:
        if padding not in PADDINGS:
            raise cli.UserError(f"unknown padding {padding!r}; choose from {', '.join(PADDINGS)}")
    h, w = args.input_size
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {args.threads} threads; "
          f"kernels: LCE interpreter (x86-64: portable reference kernels, not ARM64 figures)")
    print("| network | padding | input | ops | median latency (s) |")
    print("| --- | --- | --- | --- | --- |")
    for padding in paddings:
        config = NetworkConfig(args.model, args.scale, padding=padding).resolved()
        model = build_model(config, (h, w), batch_size=1)
        flatbuffer, census = convert_checked(model)
        x = np.random.default_rng(0).random((1, h, w, config.channels), np.float32)
        seconds = median_seconds(flatbuffer, x, args.threads, args.runs)
        ops = ", ".join(f"{op} {n}" for op, n in census.most_common(4))
        print(f"| {config.name} x{config.scale} | {padding} | {h}x{w} | {ops} | {seconds:.3f} |",
              flush=True)
    return 0


def training_throughput(args):
    """Steps/s of tools/train.py's loop at --batch-size and --patch, per padding."""
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPU cores, "
          f"TensorFlow on the CPU")
    print("| network | padding | batch | LR patch | steps timed | steps/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    plan = TrainingPlan(steps=args.train_steps + 1, batch_size=args.batch_size, patch=args.patch,
                        validate_every=10**9, save_every=10**9, data=training_folders("T91,BSD200"))
    for padding in args.paddings.split(","):
        config = NetworkConfig(args.model, args.scale, padding=padding).resolved()
        task = NETWORKS[config.name].task
        level = {"sr": config.scale, "denoise": 25, "jpeg": 10}[task]
        with tempfile.TemporaryDirectory() as run_dir:
            summary = train(run_dir, config, Degradation(task, level), plan, progress=False)
        print(f"| {config.name} x{config.scale} | {padding} | {args.batch_size} | {args.patch} | "
              f"{args.train_steps} | {summary['steps_per_second']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
