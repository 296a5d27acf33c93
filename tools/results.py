"""The quality table of the shipped SR models, as the README shows it.

Each model is evaluated (Y PSNR / SSIM, border = scale, MATLAB-made LR) three ways: in Keras,
as its LCE .tflite in LCE's interpreter (converted at each LR image size, so every image runs
whole) and as its .onnx in onnxruntime. The three must agree within 0.01 dB on every set,
else the table is still printed and the exit status is 1. Beside them: bicubic, the paper's
figures where this project has a source for them, the gap, and the steps and hours of
training from the model card.

Examples:
  python tools/results.py --json docs/results.json --markdown docs/results.md
  python tools/results.py --models bbcu-l --sets Set5
  python tools/results.py --models runs/my_run/best.json
"""

import hashlib
import json
import sys
from pathlib import Path

from lce_models import cli
from lce_models.files import atomic_write
from lce_models.models import model_card
from lce_models.runtimes import loader
from lce_models.runtimes.tflite import KERNELS

from converters import quality


def shown(path):
    """A path as the table's JSON keeps it: relative to the working folder when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


@cli.main
def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--models", help="comma-separated SR network names (their shipped weights) or model "
                                    "cards (default: every shipped SR model)")
    p.add_argument("--sets", default="Set5,Set14,B100", help="test sets (default Set5,Set14,B100)")
    p.add_argument("--threads", type=int, default=2, help="threads of LCE and onnxruntime (default 2)")
    p.add_argument("--kernels", choices=KERNELS, default="default",
                   help="LceBconv2d kernels of LCE's interpreter (default: its default)")
    p.add_argument("--json", help="also write every figure to this file")
    p.add_argument("--markdown", help="also write the table to this file")
    p.add_argument("--reuse", action="store_true",
                   help="take a model's figures from the existing --json file when its weights, the "
                        "sets and the kernels are those it was measured with")
    args = p.parse_args(argv)
    if args.reuse and not args.json:
        raise cli.UserError("--reuse reads the --json file: give --json")
    earlier = json.loads(Path(args.json).read_text()) if args.reuse and Path(args.json).is_file() else {}

    cards = [loader.sr_card(s) for s in args.models.split(",")] if args.models else model_card.shipped_sr()
    if not cards:
        raise cli.UserError(f"no SR model ships in {model_card.WEIGHTS_DIR}; pass --models")
    sets = args.sets.split(",")
    models, scales = {}, set()
    for card in cards:
        model = model_card.load(card)
        config, info = model.config, model.card
        scales.add(config.scale)
        label = f"{config.name} x{config.scale}"
        cli.log(f"{label} ({card})")
        training = info.get("training", {})
        digest = hashlib.sha256(model_card.read(card)[1].read_bytes()).hexdigest()
        before = earlier.get("models", {}).get(label, {})
        if (before.get("weights_sha256") == digest and list(before.get("results", {}).get("Keras", {})) == sets
                and earlier.get("kernels") == args.kernels):
            cli.log(f"  unchanged since {args.json}: its figures are reused")
            results = before["results"]
        else:
            results = quality.measure(model, sets, args.threads, args.kernels, cli.log)
        models[label] = {
            "card": shown(card), "weights_sha256": digest, "steps": training.get("steps"),
            "hours": training.get("hours", float("nan")), "results": results,
            "paper": quality.PAPER.get((config.name, config.scale), {}).get("sets"),
        }
    if len(scales) > 1:
        raise cli.UserError("models of several scales: give one scale's models at a time")
    scale = scales.pop()
    bicubic_rows = quality.baseline(sets, scale)
    text = quality.table(models, bicubic_rows, sets, scale)
    print(text)
    if args.markdown:
        atomic_write(args.markdown, text + "\n")
    if args.json:
        atomic_write(args.json, json.dumps({"scale": scale, "bicubic": bicubic_rows, "models": models,
                                            "kernels": args.kernels, "threads": args.threads}, indent=2) + "\n")
    failed = [(label, *d) for label, m in models.items() for d in quality.disagreements(m["results"])]
    for label, set_name, runtime, diff in failed:
        cli.log(f"error: {label} on {set_name}: {runtime} is {diff:+.3f} dB from Keras "
            f"(more than {quality.AGREEMENT_DB} dB)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
