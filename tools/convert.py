"""Convert a network to deployable files that provably compute what the Keras model computes.

TFLite: the Larq Compute Engine converter at a fixed input size (float32 in and out); every
binary convolution must become an LceBconv2d and no custom op may be left that LCE cannot run.
ONNX: tf2onnx (opset 17) with dynamic height and width, simplified with onnxsim, binary
weights folded into constants; runs in onnxruntime.
ONNX-bitpacked (x86-64 fast path): the ONNX graph with each binarized convolution as one
BinaryConv3x3 node (domain lce_models.fastpath) carrying bit-packed weights, run in onnxruntime
by this package's C kernel (lce_models/runtimes/bitpacked/csrc, registered as a custom-op
library); written as <model>.bitpacked.onnx.

Each artifact is run beside the Keras model on a photograph and on random input; only if all
agree (PSNR >= 50 dB against Keras) are the files written, atomically, with a JSON report
(<model>_x<scale>_<H>x<W>.report.json: one per network and size, other formats of it kept);
a .tflite gets a sidecar .json beside it (scale, input size, receptive radius: what an app needs
to tile an image with it, as android_demo does). A .tflite's report and table give its memory
plan: the arena TFLite's planner lays out for its tensors plus the model (see docs/deploy.md).
--max-memory SIZE picks the input size instead: the largest of --input-size's aspect whose
plan fits SIZE (for a board with little memory), found by two to four trial conversions.
Exit status 1 if a check fails, 2 for a usage mistake (bad flag, unknown model, missing or
corrupt weights). Latencies are not measured here: see tools/benchmark.py.
"""

import sys
from pathlib import Path

from lce_models import cli
from lce_models.models import NETWORKS
from lce_models.runtimes import loader

from converters import fit, memory, tflite
from converters.export import FORMATS, MIN_PSNR_DB, export, keras_references, probes
from converters.report import ConversionReport
from converters.tflite import ConversionError


def parse_args(argv):
    p = cli.parser(__doc__, epilog_prefix=f"networks: {', '.join(NETWORKS)}. ")
    p.add_argument("--to", choices=[*FORMATS, "all"], default="tflite", help="artifact format (default tflite)")
    p.add_argument("--model", default="bbcu-l",
                   help="network name (shipped weights if any, else freshly initialised) or a "
                        "model card .json beside its weights (default bbcu-l)")
    cli.add_network_flags(p, "--scale", "--variant", "--bam-option", "--unit-option", "--padding", "--channels")
    p.add_argument("--input-size", type=cli.size, default=(180, 320), metavar="HxW",
                   help="LR input size; fixed for TFLite, used for verification (default 180x320)")
    p.add_argument("--out", default="out", help="folder for the artifacts and their reports (default out)")
    p.add_argument("--image", help="photograph to verify on (default: a Set14 image)")
    p.add_argument("--threads", type=int, default=2, help="interpreter threads (default 2)")
    p.add_argument("--max-memory", type=cli.memory_size, metavar="SIZE",
                   help="pick the largest input size of --input-size's aspect whose .tflite memory plan (tensor "
                        "arena + model) fits SIZE, such as 1G or 700M, and convert at it")
    args = p.parse_args(argv)
    if args.max_memory is not None and args.to not in ("tflite", "all"):
        p.error("--max-memory sizes a .tflite: use it with --to tflite or --to all")
    return args


def fitted_size(model, args):
    """The largest input size of ``args.input_size``'s aspect whose plan fits ``--max-memory``,
    and the .tflite converted at it while sizing (``export``'s ``converted``)."""
    with cli.Stages(f"{model.name}: sizing for --max-memory") as stage:
        fitter = fit.Fitter(model, args.input_size, stage)
        found = fitter.largest(args.max_memory)
    if found is None:
        raise cli.UserError(f"--max-memory {cli.amount(args.max_memory)} is less than the smallest input needs "
                            f"(at least {cli.amount(fitter.least_needed())})")
    (h, w), plan = found
    print(f"--max-memory {cli.amount(args.max_memory)}: input size {h}x{w}, planned at "
          f"{cli.amount(plan.total_bytes)} (the next size up needs more)")
    return (h, w), fitter.files[h]


@cli.main
def main(argv=None):
    args = parse_args(argv)
    if Path(args.out).exists() and not Path(args.out).is_dir():  # before minutes of conversion
        raise cli.UserError(f"--out {args.out} is a file, not a folder")
    model, source = loader.keras_model(args.model, args.scale, cli.network_fields(args), args.input_size,
                                       batch_size=1, strict=True)
    sized = None
    if args.max_memory is not None:
        args.input_size, sized = fitted_size(model, args)
        model = tflite.with_fixed_shape(model, args.input_size)
    memory.refuse_beyond_memory(model, args.input_size)  # before it runs
    references = keras_references(model, probes(args.input_size, model.config.channels, args.image))
    artifacts = {}
    for fmt in FORMATS if args.to == "all" else (args.to,):
        try:
            with cli.Stages(f"{model.name} to {fmt}") as stage:
                artifacts[fmt] = export(model, fmt, references, args.threads, stage=stage,
                                        converted=sized if fmt == "tflite" else None)
        except ConversionError as e:
            cli.log(f"FAILED ({fmt}): {e}; nothing written")
            return 1
    report = ConversionReport(model, source, args.input_size, artifacts)
    print(report.table())
    failed = [fmt for fmt, a in artifacts.items() if not a.verified]
    if failed:
        cli.log(f"FAILED: {', '.join(failed)} output further than {MIN_PSNR_DB} dB PSNR from Keras; nothing written")
        return 1
    for path in report.write(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
