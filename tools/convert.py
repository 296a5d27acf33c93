"""Convert a network to deployable files that provably compute what the Keras model computes.

TFLite: the Larq Compute Engine converter at a fixed input size (float32 in and out); every
binary convolution must become an LceBconv2d and no custom op may be left that LCE cannot run.
ONNX: tf2onnx (opset 17) with dynamic height and width, simplified with onnxsim, binary
weights folded into constants; runs in onnxruntime.
ONNX-bitpacked (x86-64 fast path): the ONNX graph with each binarized convolution as one
BinaryConv3x3 node (domain lce_models.fastpath) carrying bit-packed weights, run in onnxruntime
by this package's C kernel (converters/bconv.c, registered as a custom-op library); written as
<model>.bitpacked.onnx.

Each artifact is run beside the Keras model on a photograph and on random input; only if all
agree (PSNR >= 50 dB against Keras) are the files written, atomically, with report.json;
a .tflite gets a sidecar .json beside it (scale, input size, receptive radius: what an app needs
to tile an image with it, as android_demo does).
Exit status 1 if a check fails, 2 for a usage mistake (bad flag, unknown model, missing or
corrupt weights). Latencies are not measured here: see tools/benchmark.py.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from lce_models import NETWORKS, NetworkConfig, build_model, cli, model_card

# After lce_models, which selects Keras 2 before TensorFlow loads.
from converters import receptive_field  # noqa: E402
from converters.export import FORMATS, MIN_PSNR_DB, export, keras_references  # noqa: E402
from converters.tflite import ConversionError  # noqa: E402
from lce_models.complexity import count  # noqa: E402
from lce_models.data import sample_image  # noqa: E402
from lce_models.files import atomic_write  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"networks: {', '.join(NETWORKS)}. " + __doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--to", choices=[*FORMATS, "all"], default="tflite", help="artifact format (default tflite)")
    p.add_argument("--model", default="bbcu-l",
                   help="network name (shipped weights if any, else freshly initialised) or a "
                        "model card .json beside its weights (default bbcu-l)")
    p.add_argument("--scale", type=int, help="SR scale for a network name (default 4)")
    p.add_argument("--variant", help=cli.VARIANT_HELP + "; for a network name")
    p.add_argument("--bam-option", type=cli.key_value, action="append", metavar="KEY=VALUE",
                   help=cli.BAM_OPTION_HELP)
    p.add_argument("--unit-option", type=cli.key_value, action="append", metavar="KEY=VALUE",
                   help=cli.UNIT_OPTION_HELP)
    p.add_argument("--padding", default="zero", help="binarized-input border: zero|one, for a network name")
    p.add_argument("--channels", type=int, help="1 (gray) or 3 (RGB), for a network name")
    p.add_argument("--input-size", type=cli.size, default=(180, 320), metavar="HxW",
                   help="LR input size; fixed for TFLite, used for verification (default 180x320)")
    p.add_argument("--out", default="out", help="folder for the artifacts and report.json (default out)")
    p.add_argument("--image", help="photograph to verify on (default: a Set14 image)")
    p.add_argument("--threads", type=int, default=2, help="interpreter threads (default 2)")
    return p.parse_args(argv)


def log(message):
    print(message, file=sys.stderr, flush=True)


def load_model(args, input_size):
    """The model to convert, built at ``input_size``, and where its weights came from."""
    if args.model.endswith(".json"):
        return model_card.load(args.model, input_size, batch_size=1), args.model
    config = NetworkConfig(
        args.model, args.scale, channels=args.channels, variant=args.variant, padding=args.padding,
        bam_options=dict(args.bam_option) if args.bam_option else None,
        unit_options=cli.unit_options(args.unit_option),
    ).resolved()
    card = model_card.shipped(config)
    if card is not None:
        return model_card.load(card, input_size, batch_size=1), str(card)
    log("WARNING: *** no trained weights ship for this network and configuration yet: converting a FRESHLY "
        "INITIALISED model, which checks the conversion but restores no image ***")
    return build_model(config, input_size, batch_size=1), "freshly initialised"


def keras_weights_bytes(model):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.h5"
        model.save_weights(str(path))
        return path.stat().st_size


def print_table(rows):
    width = max(len(label) for label, _ in rows)
    print("\n".join(f"{label:<{width}}  {value}" for label, value in rows))


@cli.main
def main(argv=None):
    args = parse_args(argv)
    h, w = args.input_size
    model, source = load_model(args, (h, w))
    config = model.config
    photo = sample_image(h, w, config.channels, args.image)[None]
    noise = np.random.default_rng(0).random((1, h, w, config.channels), np.float32)
    references = keras_references(model, {"photo": photo, "random": noise})

    artifacts = {}
    for fmt in FORMATS if args.to == "all" else (args.to,):
        log(f"converting {model.name} to {fmt} and verifying it against Keras ...")
        try:
            artifacts[fmt] = export(model, fmt, references, args.threads)
        except ConversionError as e:
            log(f"FAILED ({fmt}): {e}; nothing written")
            return 1

    c = count(model)
    float_bytes = keras_weights_bytes(model)
    names = {"tflite": f"{model.name}_{h}x{w}.tflite", "onnx": f"{model.name}.onnx",
             "onnx-bitpacked": f"{model.name}.bitpacked.onnx"}
    rows = [
        ("network", f"{config.name} x{config.scale} ({config.variant or 'float'}, {config.padding} padding, k={config.k:g})"),
        ("weights", source),
        ("LR input", f"{h}x{w}x{config.channels}"),
        ("binarized share of MACs", f"{c.binarized_ops_share:.1%}"),
        ("OPs (FLOPs + BOPs/64)", f"{c.ops / 1e9:.2f} G"),
        ("Params (float + binary/32)", f"{c.params / 1e3:.1f} K"),
        ("Keras float weights", f"{float_bytes / 1024:.0f} KiB"),
    ]
    for fmt, a in artifacts.items():
        rows += [
            (f"{fmt} ops", ", ".join(f"{op} {n}" for op, n in a.census.most_common())),
            (f"{fmt} size", f"{len(a.data) / 1024:.0f} KiB ({len(a.data) / float_bytes:.0%} of the float weights)"),
            (f"{fmt} conversion", f"{a.seconds:.1f} s"),
        ]
        rows += [(f"{fmt} vs Keras, {label}", f"max |diff| {v.max_abs_diff:.2e}, PSNR {v.psnr_db:.1f} dB")
                 for label, v in a.checks.items()]
        if a.sign_flip_share is not None:
            rows.append((f"{fmt} sign flips vs Keras", f"{a.sign_flip_share:.3%} of binarized activations"))
    print_table(rows)

    failed = [fmt for fmt, a in artifacts.items() if not a.verified]
    if failed:
        log(f"FAILED: {', '.join(failed)} output further than {MIN_PSNR_DB} dB PSNR from Keras; nothing written")
        return 1
    out = Path(args.out)
    report = {
        "model": config.name,
        "network": config.to_dict(),
        "weights": source,
        "scale": config.scale,
        "input_size": [h, w],
        "complexity": {"ops": c.ops, "flops": c.flops, "bops": c.bops, "params": c.params,
                       "binarized_share": c.binarized_ops_share},
        "keras_weights_bytes": float_bytes,
        "artifacts": {fmt: {"path": str(out / names[fmt]), **a.summary()} for fmt, a in artifacts.items()},
    }
    for fmt, a in artifacts.items():
        print(f"wrote {atomic_write(out / names[fmt], a.data)}")
    if "tflite" in artifacts:  # what an app needs to tile with it (android_demo reads it)
        sidecar = {"network": config.to_dict(), "scale": config.scale, "input_size": [h, w],
                   "receptive_radius": receptive_field.of_tflite(artifacts["tflite"].data)}
        print(f"wrote {atomic_write(out / names['tflite'].replace('.tflite', '.json'), json.dumps(sidecar, indent=2) + chr(10))}")
    print(f"wrote {atomic_write(out / 'report.json', json.dumps(report, indent=2) + chr(10))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
