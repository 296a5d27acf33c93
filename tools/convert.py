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
agree (PSNR >= 50 dB against Keras) are the files written, atomically, with report.json;
a .tflite gets a sidecar .json beside it (scale, input size, receptive radius: what an app needs
to tile an image with it, as android_demo does).
Exit status 1 if a check fails, 2 for a usage mistake (bad flag, unknown model, missing or
corrupt weights). Latencies are not measured here: see tools/benchmark.py.
"""

import sys
from pathlib import Path

from lce_models import cli
from lce_models.models import NETWORKS
from lce_models.runtimes import loader

from converters import memory
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
    p.add_argument("--out", default="out", help="folder for the artifacts and report.json (default out)")
    p.add_argument("--image", help="photograph to verify on (default: a Set14 image)")
    p.add_argument("--threads", type=int, default=2, help="interpreter threads (default 2)")
    return p.parse_args(argv)


@cli.main
def main(argv=None):
    args = parse_args(argv)
    if Path(args.out).exists() and not Path(args.out).is_dir():  # before minutes of conversion
        raise cli.UserError(f"--out {args.out} is a file, not a folder")
    model, source = loader.keras_model(args.model, args.scale, cli.network_fields(args), args.input_size,
                                       batch_size=1, strict=True)
    memory.refuse_beyond_memory(model, args.input_size)  # before it runs
    references = keras_references(model, probes(args.input_size, model.config.channels, args.image))
    artifacts = {}
    for fmt in FORMATS if args.to == "all" else (args.to,):
        try:
            with cli.Stages(f"{model.name} to {fmt}") as stage:
                artifacts[fmt] = export(model, fmt, references, args.threads, stage=stage)
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
