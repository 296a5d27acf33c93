"""Measure latency and memory of models: here, on a Raspberry Pi over SSH, on a phone over adb.

MODEL is a .tflite, an .onnx, a model card .json or a network name (the last two are converted
to a .tflite at --input-size first, into --out). Locally: a binary .tflite runs in LCE's
interpreter with each --kernels; a float .tflite in stock TFLite with XNNPACK (and in LCE's
interpreter); an .onnx in onnxruntime; each at every --threads count, --warmup untimed runs,
then --runs timed: median, p90, min, and the peak memory above the process before loading.

On x86-64, LCE's binary kernels are its portable reference code, far slower than its ARM64
kernels: local figures say nothing about a phone or a Pi. ARM64 figures come only from the
device: --ssh USER@HOST copies each .tflite there and runs lce_benchmark_model (download it from
LCE's releases; --remote-binary says where it is), --adb [SERIAL] does the same on Android in
/data/local/tmp. Their reports are parsed into the same table and JSON. --device-flag passes a
flag of the binary through as written: --device-flag=--use_xnnpack=true runs the float ops
under XNNPACK (far less memory than TFLite's own float kernels),
--device-flag=--report_peak_memory_footprint=true adds the binary's peak memory.

--suite benchmarks the model zoo side by side at --input-size (BBCU-L, BBCU-M, BSRN x4 on LCE,
the float SRResNet x4 on TFLite+XNNPACK, all four in onnxruntime, BBCU-L and BBCU-M also on the
x86-64 fast path: onnxruntime with bit-packed binary convs), prints how many times faster the
fast path is than each other backend, and, given evaluate.py JSON files (--quality), plots Set5
PSNR against latency. --kernel times one binary 3x3 conv (--channels in and out, at
--input-size): LCE, the fast path's op in onnxruntime and its bare kernel in each instruction
set, and the kernel's binary MACs per second per core against the popcount limit measured here.
--profile adds, for each .onnx MODEL, onnxruntime's time per op type (each node's fastest run).
--train-steps N times training instead.

Examples:
  python tools/benchmark.py out/bbcu-l_x4_180x320.tflite --threads 1,2 --json bench.json
  python tools/benchmark.py out/bbcu-l_x4_180x320.tflite --ssh pi@raspberrypi.local --threads 1,4
  python tools/benchmark.py out/bbcu-l_x4_180x320.tflite --adb --device-flag=--use_xnnpack=true
  python tools/benchmark.py --suite --quality eval_bbcu-l.json --json suite.json
  python tools/benchmark.py --kernel --threads 1,2
  python tools/benchmark.py out/bbcu-m_x4.bitpacked.onnx --threads 2 --profile
  python tools/benchmark.py bbcu-l --scale 4 --train-steps 20
"""

import json
import os
import platform
import sys
from dataclasses import fields

from lce_models import cli
from lce_models.errors import UserError
from lce_models.files import atomic_write
from lce_models.runtimes import bitpacked
from lce_models.runtimes.tflite import KERNELS

from converters.benchmarking import measure, remote
from converters.benchmarking.files import model_files
from converters.benchmarking.kernel import kernel
from converters.benchmarking.local import FAST_LABEL, local_backends, measure_local
from converters.benchmarking.profile import profiles
from converters.benchmarking.suite import suite, suite_speedups
from converters.benchmarking.training import training_throughput


def parse_args(argv):
    p = cli.parser(__doc__)
    p.add_argument("models", nargs="*", metavar="MODEL", help=".tflite, .onnx, model card .json or network name")
    cores = os.cpu_count() or 1
    p.add_argument("--threads", type=cli.int_list, default=sorted({1, cores}),
                   help=f"comma-separated thread counts (default 1,{cores}: 1 and every core here)")
    p.add_argument("--kernels", default="default,indirect-bgemm",
                   help=f"LceBconv2d kernels of binary .tflite files, from {', '.join(KERNELS)} "
                        "(default default,indirect-bgemm)")
    p.add_argument("--xnnpack", action="store_true",
                   help="also time binary .tflite files with their float ops under XNNPACK")
    p.add_argument("--runs", type=int, default=10, help="timed runs (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    p.add_argument("--input-size", type=cli.size, default=(180, 320), metavar="HxW",
                   help="LR input of converted networks and of .onnx files (default 180x320)")
    cli.add_network_flags(p, "--scale")
    p.add_argument("--padding", default="zero",
                   help="binarized-input border of a network name: zero|one (comma list with --train-steps)")
    p.add_argument("--out", default="out/benchmark", help="folder of converted files (default out/benchmark)")
    p.add_argument("--json", help="also write the rows to this JSON file")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--ssh", metavar="USER@HOST", help="run on this ARM64 Linux device (Raspberry Pi)")
    where.add_argument("--adb", nargs="?", const="", metavar="SERIAL", help="run on this Android device")
    p.add_argument("--port", type=int, help="SSH port (default 22)")
    p.add_argument("--identity", help="SSH private key file")
    p.add_argument("--ssh-option", action="append", metavar="OPTION", help="extra ssh -o option (repeatable)")
    p.add_argument("--remote-binary", help="lce_benchmark_model on the device (default "
                   f"{remote.DEFAULT_BINARY['ssh']} over SSH, {remote.DEFAULT_BINARY['adb']} on Android)")
    p.add_argument("--remote-dir", help="where the model is copied on the device (default "
                   f"{remote.DEFAULT_DIR['ssh']} over SSH, {remote.DEFAULT_DIR['adb']} on Android)")
    p.add_argument("--device-flag", action="append", default=[], metavar="FLAG",
                   help="a flag for lce_benchmark_model on the device, as written (repeatable; the = form: "
                        "--device-flag=--use_xnnpack=true)")
    p.add_argument("--suite", action="store_true", help="benchmark the model zoo side by side")
    p.add_argument("--kernel", action="store_true",
                   help="time one binary 3x3 conv on LCE, the fast path and its bare kernel")
    p.add_argument("--channels", type=int, default=64, help="channels in and out, with --kernel (default 64)")
    p.add_argument("--profile", action="store_true", help="also print onnxruntime's time per op type of .onnx MODELs")
    p.add_argument("--isa", choices=bitpacked.ISAS,
                   help="instruction set of the fast path's kernels (default: the best this CPU runs; avx2 on an "
                        "AVX-512 host runs the code AVX2-only CPUs run)")
    p.add_argument("--quality", action="append", metavar="EVAL.json", help="evaluate.py --json output (repeatable)")
    p.add_argument("--plot", help="quality-vs-latency PNG of --suite (default OUT/quality_latency.png)")
    p.add_argument("--train-steps", type=int, help="time this many training steps of MODEL instead")
    p.add_argument("--batch-size", type=int, default=16, help="with --train-steps (default 16)")
    p.add_argument("--patch", type=int, default=48, help="LR patch, with --train-steps (default 48)")
    args = p.parse_intermixed_args(argv)
    if not args.models and not args.suite and not args.kernel:
        p.error("name at least one MODEL, or --suite, or --kernel")
    if args.channels < 1:
        p.error("--channels must be >= 1")
    if min(args.runs, args.warmup + 1) < 1:
        p.error("--runs must be >= 1 and --warmup >= 0")
    if args.device_flag and not (args.ssh or args.adb is not None):
        p.error("--device-flag goes with --ssh or --adb")
    for flag in args.device_flag:
        name = flag.removeprefix("--").split("=", 1)[0]
        if not flag.startswith("--") or not name:
            p.error(f"--device-flag {flag!r}: the binary's flags look like --name=value")
        if name in remote.SET_FLAGS:
            p.error(f"--device-flag {flag}: set by this tool (--threads, --runs, --warmup and the model)")
    args.kernels = args.kernels.split(",")
    unknown = [k for k in args.kernels if k not in KERNELS]
    if unknown:
        p.error(f"unknown kernels {', '.join(unknown)}; choose from {', '.join(KERNELS)}")
    return args


def settings_of(args):
    return measure.Settings(**{f.name: getattr(args, f.name) for f in fields(measure.Settings)})


def device_rows(args, settings):
    if args.ssh:
        transport = remote.Ssh(args.ssh, args.port, args.identity, args.ssh_option or ())
    else:
        transport = remote.Adb(args.adb or None)
    return remote.benchmark_files(transport, model_files(args.models, settings), settings, args.remote_binary,
                                  args.remote_dir, args.device_flag)


@cli.main
def main(argv=None):
    args = parse_args(argv)
    if args.train_steps:
        for line in training_throughput(args.models, args.train_steps, args.batch_size, args.patch, args.scale,
                                        args.padding.split(",")):
            print(line, flush=True)
        return 0
    settings = settings_of(args)
    try:
        bitpacked.choose_isa(args.isa)
    except bitpacked.FastPathError as e:
        raise UserError(str(e)) from None
    extra, lines, records = "", [], {}
    try:
        if args.kernel:
            rows, extra, lines, records = kernel(settings, args.channels)
        elif args.suite:
            rows = suite(settings, args.quality or (), args.plot)
            extra, speedups = suite_speedups(rows, settings)
            records = {"speedups": speedups}
        elif args.ssh or args.adb is not None:
            rows = device_rows(args, settings)
        else:
            files = model_files(args.models, settings)
            rows = [r for path in files
                    for r in measure_local(path, local_backends(path, args.kernels, args.xnnpack), settings)]
            if args.profile:
                lines, records["profiles"] = profiles(files, settings)
    except remote.RemoteError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    local = not (args.ssh or args.adb is not None)
    print(f"machine: {measure.machine()}" + ("; LCE's binary kernels here are its portable reference "
          "code, not ARM64 figures" if local and platform.machine() == "x86_64" else ""))
    print(measure.table(rows))
    if any(r.backend == FAST_LABEL for r in rows):
        records["fast_path_isa"], best = bitpacked.chosen_isa(), bitpacked.available_isas()[-1]
        print(f"\nThe fast path's binary convolutions ran its {records['fast_path_isa']} kernel, "
              + ("the best this CPU has" if records["fast_path_isa"] == best else
                 f"chosen with --isa (this CPU's best is {best})") + f" (of {', '.join(bitpacked.ISAS)}).")
    if extra:
        print(f"\nHow many times faster the fast path runs (other median / fast-path median):\n{extra}")
    if lines:
        print("\n" + "\n".join(lines))
    notes = sorted({r.note for r in rows if r.note})
    if notes:
        print("\n" + "\n".join(f"- {n}" for n in notes))
    if args.json:
        atomic_write(args.json, json.dumps({"machine": measure.machine(), "rows": [r.as_dict() for r in rows],
                                            **records}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
