"""Y-channel PSNR / SSIM of an SR model on the benchmark sets, as the papers report them.

BT.601 luma rounded to 8 bits, ``scale`` pixels of border cropped, mean over each set of the
MATLAB-made LR images in ../shared/data/test. The bicubic row is always printed. Models:
``bicubic``, a network name (shipped weights, else a freshly initialised model, warned), or a
model card .json. Keras models run at each image's own size.
Not yet here (issue 4): .tflite / .onnx models, denoising and JPEG sets.
"""

import argparse
import json
import sys

from lce_models import NETWORKS, NetworkConfig, build_model, cli, model_card
from lce_models.data import DATA_ROOT
from lce_models.evaluation import bicubic, evaluate_sr, keras_upscaler
from lce_models.files import atomic_write


def upscaler(spec, scale):
    """(label, LR -> SR function) for a --model value."""
    if spec == "bicubic":
        return "bicubic", bicubic(scale)
    if spec.endswith(".json"):
        model = model_card.load(spec)
        if model.config.scale != scale:
            raise cli.UserError(f"{spec} is a x{model.config.scale} model, not x{scale}")
        return f"{model.name} ({spec})", keras_upscaler(model)
    if spec in NETWORKS and NETWORKS[spec].task != "sr":
        raise cli.UserError(f"{spec} is not a super-resolution network")
    config = NetworkConfig(spec, scale).resolved()
    card = model_card.shipped(config.name, scale)
    if card is not None:
        return f"{config.name} x{scale} (shipped)", keras_upscaler(model_card.load(card))
    print("WARNING: *** no trained weights ship for this network yet: evaluating a FRESHLY "
          "INITIALISED model ***", file=sys.stderr)
    return f"{config.name} x{scale} (untrained)", keras_upscaler(build_model(config))


@cli.main
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="bicubic", help="bicubic, a network name or a model card .json")
    p.add_argument("--scale", type=int, default=4, choices=(2, 3, 4))
    p.add_argument("--sets", default="Set5,Set14,B100", help="comma-separated sets under the shared test/")
    p.add_argument("--json", help="also write the results (per image too) to this file")
    args = p.parse_args(argv)
    sets = args.sets.split(",")
    for name in sets:
        if not (DATA_ROOT / "test" / name / f"x{args.scale}" / "LR").is_dir():
            raise cli.UserError(f"no test set {name} with x{args.scale} LR images under {DATA_ROOT / 'test'}")
    rows = [upscaler("bicubic", args.scale)]
    if args.model != "bicubic":
        rows.append(upscaler(args.model, args.scale))
    print("| model | " + " | ".join(f"{s} x{args.scale} PSNR / SSIM" for s in sets) + " |")
    print("| --- |" + " --- |" * len(sets))
    results = {}
    for label, upscale in rows:
        results[label] = {s: evaluate_sr(upscale, s, args.scale) for s in sets}
        cells = [f"{r['psnr']:.2f} / {r['ssim']:.4f}" for r in results[label].values()]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    if args.json:
        atomic_write(args.json, json.dumps({"scale": args.scale, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
