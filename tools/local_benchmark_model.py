"""Time a .tflite in LCE's Python interpreter and report it in the TFLite benchmark tool's format.

A stand-in for ``lce_benchmark_model`` where the binary is not at hand but this toolkit is:
on an ARM64 Linux board with larq-compute-engine installed from pip (its interpreter there runs
LCE's optimized ARM kernels), or as the remote command of ``tools/benchmark.py --ssh`` when
testing the SSH path. It takes the binary's flags (--graph, --num_threads, --num_runs,
--warmup_runs) and prints the lines ``converters.benchmarking.remote`` parses, first saying what it is.
"""

import sys
import time

from lce_models import cli
from lce_models.runtimes import loader
from lce_models.runtimes.tflite import KERNELS

import numpy as np

from converters.benchmarking.measure import PeakMemory, time_runs


def timing_line(us):
    """A ``count=`` line as the benchmark tool's ``Stat::OutputToStream`` prints it (no
    percentiles; the mean and deviation as C++ doubles, six significant digits)."""
    us = np.rint(us).astype(np.int64)
    if (us == us[0]).all():
        return f"INFO: count={us.size} curr={us[-1]}" + ("(all same)" if us.size > 1 else "")
    return (f"INFO: count={us.size} first={us[0]} curr={us[-1]} min={us.min()} max={us.max()} "
            f"avg={us.mean():g} std={us.std():g}")


@cli.main
def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--graph", required=True, help="the .tflite to time")
    p.add_argument("--num_threads", type=int, default=1)
    p.add_argument("--num_runs", type=int, default=50)
    p.add_argument("--warmup_runs", type=int, default=1)
    p.add_argument("--kernels", choices=KERNELS, default="default")
    args = p.parse_args(argv)
    print("STARTING! (lce_models' local_benchmark_model.py: LCE's Python interpreter, "
          "not the lce_benchmark_model binary)")
    print(f"Num threads: [{args.num_threads}]\nGraph: [{args.graph}]")
    with PeakMemory() as memory:
        start = time.perf_counter()
        rt = loader.file_runtime(args.graph, args.num_threads, args.kernels)
        init_us = (time.perf_counter() - start) * 1e6
        print(f"INFO: Initialized session in {init_us / 1000:.3f}ms.")
        x = np.random.default_rng(0).random((1, *rt.input_size, rt.channels), np.float32)
        warm = np.asarray(time_runs(rt, x, max(args.warmup_runs, 1), 0)) * 1e6
        print(timing_line(warm) + "\n")
        timed = np.asarray(time_runs(rt, x, args.num_runs, 0)) * 1e6
    print(timing_line(timed) + "\n")
    print(f"INFO: Inference timings in us: Init: {init_us:.0f}, First inference: {warm[0]:.0f}, "
          f"Warmup (avg): {warm.mean():g}, Inference (avg): {timed.mean():g}")
    if memory.mib is not None:
        print(f"INFO: Overall peak memory footprint (MB) via periodic monitoring: {memory.mib * 1.048576:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
