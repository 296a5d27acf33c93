"""Convert a network of lce_models to a TFLite flatbuffer for Larq Compute Engine, verified.

Builds the network at a fixed LR input size, converts it with the LCE converter, proves that
every binary convolution became an LceBconv2d (and no op is left that LCE cannot run), runs
the flatbuffer beside the Keras model on a real photograph and on random input, and only then
writes the .tflite (atomically). Exit status 1 if a check fails, 2 for a usage mistake.

No trained weights ship yet: the network is freshly initialised, which checks the conversion
but restores no image. Latencies of LCE's binary kernels on x86-64 say nothing about ARM64.
"""

import argparse
import sys
import time

import numpy as np

from lce_models import NETWORKS, NetworkConfig, build_model, cli
from lce_models.data import sample_image

# After lce_models: TensorFlow must load with Keras 2.
from converters.tflite import ConversionError, check_lowering, convert, op_census  # noqa: E402
from converters.verify import agreement, run_tflite, sign_flip_share  # noqa: E402
from lce_models.complexity import count  # noqa: E402
from lce_models.files import atomic_write  # noqa: E402

#: Lowest PSNR (dB) of the flatbuffer's output against Keras's that passes verification.
MIN_PSNR_DB = 50.0


def parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"networks: {', '.join(NETWORKS)}",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--to", choices=["tflite"], default="tflite", help="artifact format")
    p.add_argument("--model", default="bbcu-l", help="network name")
    p.add_argument("--scale", type=int, help="SR scale (default: 4 for SR networks)")
    p.add_argument("--variant", default="v4", help="BBCU unit variant v1..v4")
    p.add_argument("--padding", default="zero", help="border value of binarized inputs: zero|one")
    p.add_argument("--channels", type=int, help="1 (gray) or 3 (RGB); default per network")
    p.add_argument("--input-size", type=cli.size, default=(180, 320), metavar="HxW",
                   help="fixed LR input size the flatbuffer is made for")
    p.add_argument("--out", default="out", help="folder for the artifacts")
    p.add_argument("--image", help="photograph to verify on (default: a Set14 image)")
    p.add_argument("--threads", type=int, default=2, help="interpreter threads for verification")
    return p.parse_args(argv)


def log(message):
    print(message, file=sys.stderr, flush=True)


@cli.main
def main(argv=None):
    args = parse_args(argv)
    config = NetworkConfig(
        args.model, args.scale, channels=args.channels, variant=args.variant, padding=args.padding
    ).resolved()
    h, w = args.input_size
    photo = sample_image(h, w, config.channels, args.image)[None]  # fail fast on a bad path
    model = build_model(config, (h, w), batch_size=1)
    log("WARNING: no trained weights ship yet; converting a freshly initialised network")

    log(f"converting {model.name} at {h}x{w} with the LCE converter ...")
    start = time.perf_counter()
    flatbuffer = convert(model)
    seconds = time.perf_counter() - start
    census = op_census(flatbuffer)
    try:
        check_lowering(model, census)
    except ConversionError as e:
        log(f"FAILED: {e}; nothing written")
        return 1

    log("verifying against Keras on a photograph and on random input ...")
    noise = np.random.default_rng(0).random((1, h, w, config.channels), np.float32)
    checks = {}
    for label, x in (("photo", photo), ("random", noise)):
        checks[label] = agreement(model.predict(x, verbose=0), run_tflite(flatbuffer, x, args.threads))
    flips = sign_flip_share(model, photo, args.threads)

    c = count(model)
    rows = [
        ("network", f"{config.name} x{config.scale} ({config.variant}, {config.padding} padding, k={config.k:g})"),
        ("LR input", f"{h}x{w}x{config.channels}"),
        ("ops", ", ".join(f"{op} {n}" for op, n in census.most_common())),
        ("binarized share of MACs", f"{c.binarized_ops_share:.1%}"),
        ("OPs (FLOPs + BOPs/64)", f"{c.ops / 1e9:.2f} G"),
        ("Params (float + binary/32)", f"{c.params / 1e3:.1f} K"),
        ("conversion time", f"{seconds:.1f} s"),
        ("flatbuffer size", f"{len(flatbuffer) / 1024:.0f} KiB"),
    ]
    for label, a in checks.items():
        rows.append((f"vs Keras, {label}", f"max |diff| {a.max_abs_diff:.2e}, PSNR {a.psnr_db:.1f} dB"))
    rows.append(("sign flips vs Keras (photo)", f"{flips:.3%} of binarized activations"))
    width = max(len(r[0]) for r in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))

    worst = min(a.psnr_db for a in checks.values())
    if worst < MIN_PSNR_DB:
        log(f"FAILED: flatbuffer output is {worst:.1f} dB from Keras (< {MIN_PSNR_DB} dB); nothing written")
        return 1
    path = atomic_write(f"{args.out}/{model.name}_{h}x{w}.tflite", flatbuffer)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
