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
/data/local/tmp. Their reports are parsed into the same table and JSON.

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
  python tools/benchmark.py --suite --quality eval_bbcu-l.json --json suite.json
  python tools/benchmark.py --kernel --threads 1,2
  python tools/benchmark.py out/bbcu-m_x4.bitpacked.onnx --threads 2 --profile
  python tools/benchmark.py bbcu-l --scale 4 --train-steps 20
"""

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from lce_models import NETWORKS, NetworkConfig, build_model, cli, model_card

from converters import benchmark, remote, runtime  # noqa: E402
from converters import fastpath  # noqa: E402
from converters import onnx as onnx_export  # noqa: E402
from converters.tflite import ConversionError, convert_checked, input_size, with_fixed_shape  # noqa: E402
from lce_models.data import training_folders  # noqa: E402
from lce_models.degradations import Degradation  # noqa: E402
from lce_models.files import atomic_path, atomic_write  # noqa: E402
from lce_models.training import TrainingPlan, train  # noqa: E402

#: The zoo of --suite: (network, backend of its .tflite) at x4.
SUITE = (("bbcu-l", "lce"), ("bbcu-m", "lce"), ("bsrn", "lce"), ("srresnet-fp", "xnnpack"))
#: The BBCU networks, which the suite also runs on the x86-64 fast path (converters/fastpath.py).
FAST_PATH = ("bbcu-l", "bbcu-m", "bbcu-dn")
FAST_LABEL = "fast path (onnxruntime + bit-packed binary convs)"
#: The float network the fast path's targets are set against (issue 12).
FLOAT_REFERENCE = "srresnet-fp x4"


def log(message):
    print(message, file=sys.stderr, flush=True)


def int_list(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers such as 1,2,4, got {text!r}") from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError("thread counts must be >= 1")
    return values


def keras_model(spec, args, padding="zero"):
    """The Keras model of a network name (shipped weights, else fresh) or a model card."""
    if Path(spec).suffix == ".json":
        return model_card.load(spec), Path(spec).stem
    scale = args.scale if NETWORKS.get(spec) and NETWORKS[spec].task == "sr" else None
    config = NetworkConfig(spec, scale, padding=padding).resolved()
    card = model_card.shipped(config)
    if card is not None:
        return model_card.load(card), f"{config.name}_x{config.scale}"
    log(f"{config.name} x{config.scale}: no shipped weights for this configuration, timing a freshly initialised model "
        "(latency does not depend on the weights)")
    return build_model(config), f"{config.name}_x{config.scale}"


def converted(spec, args, formats=("tflite",)):
    """(label, files) of a network name or model card converted at --input-size into --out."""
    model, stem = keras_model(spec, args, args.padding)
    h, w = args.input_size
    fixed = with_fixed_shape(model, (h, w))
    files = []
    for fmt in formats:
        log(f"converting {stem} to {fmt} at {h}x{w} ...")
        if fmt == "tflite":
            try:
                data = convert_checked(fixed)[0]
            except ConversionError as e:
                raise cli.UserError(f"{spec}: {e}") from None
            path = Path(args.out) / f"{stem}_{args.padding}_{h}x{w}.tflite"
        elif fmt == "onnx":
            data = onnx_export.serialize(onnx_export.convert(fixed))
            path = Path(args.out) / f"{stem}.onnx"
        else:  # the x86-64 fast path
            data = fastpath.rewrite_checked(fixed, onnx_export.convert(fixed)).SerializeToString()
            path = Path(args.out) / f"{stem}.bitpacked.onnx"
        files.append(atomic_write(path, data))
    return stem.replace("_x", " x"), files


def read_flatbuffer(path):
    """(bytes, (H, W), whether it needs LCE's ops) of a .tflite; one line for a bad file."""
    data = path.read_bytes()
    try:
        return data, input_size(data), runtime.is_binary_flatbuffer(data)
    except Exception:  # the flatbuffer reader raises whatever it meets in a bad file
        raise cli.UserError(f"{path} does not load as tflite: not a flatbuffer") from None


def local_backends(path, kernels, xnnpack=False):
    """(label, make_runtime(threads)) of every local backend a model file runs on."""
    if path.suffix == ".onnx":
        data = path.read_bytes()
        label = FAST_LABEL if path.name.endswith(".bitpacked.onnx") else "onnxruntime CPU"
        return [(label, lambda t: runtime.onnx_runtime(data, t))]
    data, _, binary = read_flatbuffer(path)
    if binary:
        backends = [(f"LCE interpreter, {k} kernels", lambda t, k=k: runtime.tflite_runtime(data, t, k))
                    for k in kernels]
        if xnnpack:  # the same kernels with the float ops under XNNPACK
            backends += [(f"LCE interpreter, {k} kernels + XNNPACK",
                          lambda t, k=k: runtime.tflite_runtime(data, t, k, xnnpack=True)) for k in kernels]
        return backends
    return [("TFLite + XNNPACK", lambda t: runtime.xnnpack_runtime(data, t)),
            ("LCE interpreter", lambda t: runtime.tflite_runtime(data, t))]


def measure_local(path, backends, args, name=None):
    rows = []
    for label, make in backends:
        for threads in args.threads:
            try:
                row = benchmark.measure(name or path.name, label, lambda: make(threads), threads,
                                        args.runs, args.warmup, args.input_size)
            except ValueError as e:
                raise cli.UserError(f"{path}: {e}") from None
            except RuntimeError as e:  # runtimes' own errors on a file they cannot load
                raise cli.UserError(f"{path} does not load: {str(e).splitlines()[0]}") from None
            log(f"  {row.model}, {label}, {threads} threads: median {row.median_ms:.1f} ms")
            rows.append(row)
    return rows


def model_files(args):
    files = []
    for spec in args.models:
        path = Path(spec)
        if path.suffix in runtime.FORMATS:
            if not path.is_file():
                raise cli.UserError(f"model file not found: {path}")
            files.append(path)
        else:
            files += converted(spec, args)[1]
    return files


def quality(paths):
    """Set5 Y-PSNR of each network, and of bicubic, from evaluate.py JSON files."""
    psnr = {}
    for path in paths:
        try:
            results = json.loads(Path(path).read_text())["results"]
        except (OSError, ValueError, KeyError) as e:
            raise cli.UserError(f"--quality {path}: not an evaluate.py JSON file ({e})") from None
        for label, row in results.items():
            network = row.get("network") or ("bicubic" if label == "bicubic" else None)
            set5 = row["sets"].get("Set5", {}).get("x4")
            if network and set5:
                psnr[network] = set5["psnr"]
    return psnr


def suite(args):
    rows, psnr = [], quality(args.quality or [])
    for name, backend in SUITE:
        fast = name in FAST_PATH
        label, (tfl, onx, *bitpacked) = converted(name, args, ("tflite", "onnx") + (("onnx-bitpacked",) if fast else ()))
        data = tfl.read_bytes()
        if backend == "lce":
            engines = local_backends(tfl, args.kernels, args.xnnpack)
        else:
            engines = [("TFLite + XNNPACK", lambda t: runtime.xnnpack_runtime(data, t))]
        rows += measure_local(tfl, engines, args, label)
        rows += measure_local(onx, local_backends(onx, ()), args, label)
        for path in bitpacked:
            rows += measure_local(path, local_backends(path, ()), args, label)
    for row in rows:
        row.psnr_db = psnr.get(row.model.split()[0])
    plot = Path(args.plot or Path(args.out) / "quality_latency.png")
    if any(r.model.split()[0] in psnr for r in rows):
        quality_plot(rows, psnr, plot, max(args.threads))
        log(f"wrote {plot}")
    else:
        log("no --quality results name these networks: no plot (run tools/evaluate.py --json first)")
    return rows


def lce_references(kernels):
    return [(f"vs LCE {k}", None, f"LCE interpreter, {k} kernels") for k in kernels]


def suite_speedups(rows, args):
    """How many times faster the fast path runs than each other backend of the suite."""
    return benchmark.speedups(rows, (FAST_LABEL,), lce_references(args.kernels) + [
        ("vs onnxruntime (same network)", None, "onnxruntime CPU"),
        (f"vs {FLOAT_REFERENCE} TFLite+XNNPACK", FLOAT_REFERENCE, "TFLite + XNNPACK"),
        (f"vs {FLOAT_REFERENCE} onnxruntime", FLOAT_REFERENCE, "onnxruntime CPU")])


def kernel(args):
    """One binary 3x3 conv, --channels to --channels at --input-size: LCE (each --kernels), the
    fast path's op in onnxruntime (a one-layer NHWC graph), the bare kernel per instruction
    set (binarize + pack an NHWC input, then convolve). Returns (rows, the
    speedup table, lines on MACs/s/core against the popcount limit, records for JSON)."""
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from converters import bitpacked
    from lce_models.units import binary_conv

    h, w = args.input_size
    c = args.channels
    inputs = keras.Input((h, w, c), batch_size=1)
    model = keras.Model(inputs, binary_conv(c, args.padding, name="bconv")(inputs))
    name = f"binary conv 3x3 {c}->{c}"
    log(f"converting {name} at {h}x{w} ({args.padding} padding) to tflite and to the fast path ...")
    try:
        tfl = atomic_write(Path(args.out) / f"bconv{c}_{args.padding}_{h}x{w}.tflite", convert_checked(model)[0])
    except ConversionError as e:
        raise cli.UserError(str(e)) from None
    fast = atomic_write(Path(args.out) / f"bconv{c}_{args.padding}_{h}x{w}.bitpacked.onnx",
                        fastpath.rewrite_checked(model, onnx_export.convert(model)).SerializeToString())
    rows = measure_local(tfl, local_backends(tfl, args.kernels), args, name)
    rows += measure_local(fast, local_backends(fast, ()), args, name)
    x = np.random.default_rng(0).random((1, h, w, c), np.float32) - 0.5  # NHWC, as the fast-path graph runs
    layer = model.get_layer("bconv")
    binary = layer.kernel_quantizer(tf.constant(layer.kernel.numpy())).numpy()  # +-alpha, (3, 3, C, O)
    weights = bitpacked.PackedWeights(np.transpose(binary, (3, 2, 0, 1)))
    out = np.empty((1, h, w, c), np.float32)
    macs = h * w * c * c * 9
    lines, records = [], []
    for isa in bitpacked.available_isas():
        peak = bitpacked.popcount_peak(isa)
        for threads in args.threads:
            stats = benchmark.summary_ms(benchmark.time_runs(
                lambda v: bitpacked.conv3x3(v, weights, args.padding, threads, isa, out=out, nhwc=True), x, args.runs,
                args.warmup))
            rows.append(benchmark.Measurement.local(name, f"bare kernel, {isa}", threads, f"{h}x{w}", stats))
            rate = macs / (stats["median_ms"] / 1000) / threads
            lines.append(f"- bare kernel, {isa}, {threads} threads: {rate / 1e9:.0f} G binary MACs/s/core = "
                         f"{100 * rate / peak:.0f}% of this core's popcount limit with {isa}, {peak / 1e9:.0f} G/s "
                         "(xor + popcount + add on registers, measured here)")
            records.append({"isa": isa, "threads": threads, "binary_macs_per_s_per_core": rate,
                            "popcount_limit_per_core": peak})
            log(lines[-1][2:])
    best = f"bare kernel, {bitpacked.available_isas()[-1]}"
    table, speedups = benchmark.speedups(rows, (FAST_LABEL, best), lce_references(args.kernels))
    return rows, table, lines, {"kernel": records, "speedups": speedups}


def profiles(files, args):
    """(lines, records) of onnxruntime's time per op type of each .onnx file and thread count."""
    lines, records = [], []
    for path in files:
        if path.suffix != ".onnx":
            continue
        for threads in args.threads:
            per_op = benchmark.onnx_profile(path.read_bytes(), threads, args.runs, args.warmup, args.input_size)
            total = sum(per_op.values())
            lines.append(f"onnxruntime profile of {path.name}, {threads} threads, ms per op type (each node's "
                         f"fastest run; {total:.0f} ms in all):")
            lines.append(", ".join(f"{op} {ms:.0f}" for op, ms in per_op.items() if ms >= 0.5))
            records.append({"model": path.name, "threads": threads, "ms_per_op_type": per_op})
    return lines, records


def quality_plot(rows, psnr, path, threads):
    """Set5 PSNR against median latency, one marker per backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    colours = dict(zip(sorted({r.model for r in rows}), plt.get_cmap("tab10").colors))
    markers = {"default": "o", "indirect-bgemm": "D", "reference": "v", "XNNPACK": "s", "onnxruntime": "^"}
    for row in rows:
        network = row.model.split()[0]
        if network not in psnr or row.threads != threads:
            continue
        marker = next((m for key, m in markers.items() if key in row.backend), "x")
        ax.scatter(row.median_ms, psnr[network], color=colours[row.model], marker=marker, s=60,
                   label=f"{row.model}: {row.backend}")
    if "bicubic" in psnr:
        ax.axhline(psnr["bicubic"], color="gray", linestyle="--", linewidth=1, label="bicubic")
    missing = sorted({r.model for r in rows if r.model.split()[0] not in psnr})
    if missing:
        ax.text(0.01, 0.01, "no quality figure given: " + ", ".join(missing), transform=ax.transAxes, fontsize=7)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.margins(x=0.2, y=0.15)
    ax.set_xscale("log")
    ax.set_xlabel(f"median latency (ms), {rows[0].input_size} LR input, {threads} threads")
    ax.set_ylabel("Set5 x4 Y-PSNR (dB)")
    ax.set_title(f"Quality vs latency on {benchmark.machine()}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def remote_rows(files, args):
    if args.ssh:
        transport = remote.Ssh(args.ssh, args.port, args.identity, args.ssh_option or ())
    else:
        transport = remote.Adb(args.adb or None)
    rows = []
    for path in files:
        if path.suffix != ".tflite":
            raise cli.UserError(f"{path}: only .tflite files run on a device")
        _, size, _ = read_flatbuffer(path)  # a bad file fails here, before the device is asked
        for threads in args.threads:
            row = remote.benchmark(transport, path, threads, args.runs, args.warmup, args.remote_binary,
                                   args.remote_dir, "x".join(map(str, size)))
            log(f"  {path.name} on {transport.name}, {threads} threads: {row.median_ms:.1f} ms")
            rows.append(row)
    return rows


def training_throughput(args):
    """Steps/s of tools/train.py's loop at --batch-size and --patch, per padding."""
    print(f"machine: {benchmark.machine()}, TensorFlow on the CPU")
    print("| network | padding | batch | LR patch | steps timed | steps/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    plan = TrainingPlan(steps=args.train_steps + 1, batch_size=args.batch_size, patch=args.patch,
                        validate_every=10**9, save_every=10**9, data=training_folders("T91,BSD200"))
    for spec in args.models:
        for padding in args.padding.split(","):
            config = NetworkConfig(spec, args.scale, padding=padding).resolved()
            task = NETWORKS[config.name].task
            level = {"sr": config.scale, "denoise": 25, "jpeg": 10}[task]
            with tempfile.TemporaryDirectory() as run_dir:
                summary = train(run_dir, config, Degradation(task, level), plan, progress=False)
            print(f"| {config.name} x{config.scale} | {padding} | {args.batch_size} | {args.patch} | "
                  f"{args.train_steps} | {summary['steps_per_second']:.3f} |", flush=True)
    return 0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", metavar="MODEL", help=".tflite, .onnx, model card .json or network name")
    cores = os.cpu_count() or 1
    p.add_argument("--threads", type=int_list, default=sorted({1, cores}),
                   help=f"comma-separated thread counts (default 1,{cores}: 1 and every core here)")
    p.add_argument("--kernels", default="default,indirect-bgemm",
                   help=f"LceBconv2d kernels of binary .tflite files, from {', '.join(runtime.KERNELS)} "
                        "(default default,indirect-bgemm)")
    p.add_argument("--xnnpack", action="store_true",
                   help="also time binary .tflite files with their float ops under XNNPACK")
    p.add_argument("--runs", type=int, default=10, help="timed runs (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    p.add_argument("--input-size", type=cli.size, default=(180, 320), metavar="HxW",
                   help="LR input of converted networks and of .onnx files (default 180x320)")
    p.add_argument("--scale", type=int, help="SR scale of a network name (default 4)")
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
    p.add_argument("--suite", action="store_true", help="benchmark the model zoo side by side")
    p.add_argument("--kernel", action="store_true",
                   help="time one binary 3x3 conv on LCE, the fast path and its bare kernel")
    p.add_argument("--channels", type=int, default=64, help="channels in and out, with --kernel (default 64)")
    p.add_argument("--profile", action="store_true", help="also print onnxruntime's time per op type of .onnx MODELs")
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
    args.kernels = args.kernels.split(",")
    unknown = [k for k in args.kernels if k not in runtime.KERNELS]
    if unknown:
        p.error(f"unknown kernels {', '.join(unknown)}; choose from {', '.join(runtime.KERNELS)}")
    return args


@cli.main
def main(argv=None):
    args = parse_args(argv)
    if args.train_steps:
        return training_throughput(args)
    extra, lines, records = "", [], {}
    try:
        if args.kernel:
            rows, extra, lines, records = kernel(args)
        elif args.suite:
            rows = suite(args)
            extra, speedups = suite_speedups(rows, args)
            records = {"speedups": speedups}
        elif args.ssh or args.adb is not None:
            rows = remote_rows(model_files(args), args)
        else:
            files = model_files(args)
            rows = [r for path in files
                    for r in measure_local(path, local_backends(path, args.kernels, args.xnnpack), args)]
            if args.profile:
                lines, records["profiles"] = profiles(files, args)
    except remote.RemoteError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    local = not (args.ssh or args.adb is not None)
    print(f"machine: {benchmark.machine()}" + ("; LCE's binary kernels here are its portable reference "
          "code, not ARM64 figures" if local and platform.machine() == "x86_64" else ""))
    print(benchmark.table(rows))
    if extra:
        print(f"\nHow many times faster the fast path runs (other median / fast-path median):\n{extra}")
    if lines:
        print("\n" + "\n".join(lines))
    notes = sorted({r.note for r in rows if r.note})
    if notes:
        print("\n" + "\n".join(f"- {n}" for n in notes))
    if args.json:
        atomic_write(args.json, json.dumps({"machine": benchmark.machine(), "rows": [r.as_dict() for r in rows],
                                            **records}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
