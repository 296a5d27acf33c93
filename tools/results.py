"""The quality table of the shipped models, as the README shows it: one table per task and level
(SR x2, SR x4, denoising sigma 25, JPEG quality 10, ...).

Each model is evaluated at the task and level it was trained for (SR: Y PSNR / SSIM, border =
scale, MATLAB-made LR; denoising: RGB, fixed-seed noise; JPEG: gray) three ways: in Keras, as
its LCE .tflite in LCE's interpreter (converted at each input image size, so every image runs
whole) and as its .onnx in onnxruntime. The three must agree within 0.01 dB on every set, else
the tables are still printed and the exit status is 1. Beside them: the task's baseline
(bicubic, the noisy input, the JPEG input), the paper's figures where this project has a
source for them, the gap, and the steps and hours of training from the model card. Last, the
same in brief: one row per model, its Keras figures beside the baseline's (the README's table).

Examples:
  python tools/results.py --json docs/results.json --markdown docs/results.md
  python tools/results.py --models bbcu-l --sets Set5
  python tools/results.py --models runs/my_run/best.json,bbcu-dn
"""

import hashlib
import json
import sys
from pathlib import Path

from lce_models import cli
from lce_models.evaluation.protocol import DEFAULT_SETS
from lce_models.files import atomic_write
from lce_models.models import model_card
from lce_models.models.bconv import ALPHA_BITS
from lce_models.runtimes import loader
from lce_models.runtimes.tflite import KERNELS

from converters import quality


def shown(path):
    """A path as the table's JSON keeps it: relative to the working folder when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def figures(model, card, sets, degradation, args, earlier):
    """A model's row group: its card's facts and its figures, measured or, with --reuse, those
    of the earlier --json file's ``earlier`` tables (measured with the same kernels) when its
    weights and sets are unchanged."""
    config, training = model.config, model.card.get("training", {})
    label = quality.label_of(config)
    cli.log(f"{label} ({card})")
    digest = hashlib.sha256(model_card.read(card)[1].read_bytes()).hexdigest()
    before = earlier.get(table_key(degradation), {}).get("models", {}).get(label, {})
    if before.get("weights_sha256") == digest and list(before.get("results", {}).get("Keras", {})) == sets:
        cli.log(f"  unchanged since {args.json}: its figures are reused")
        results = before["results"]
    else:
        results = quality.measure(model, sets, degradation, args.threads, args.kernels, cli.log)
    return label, {"card": shown(card), "weights_sha256": digest, "steps": training.get("steps"),
                   "hours": training.get("hours", float("nan")), "device": training.get("device"), "results": results,
                   "paper": quality.PAPER.get((config.name, degradation.level), {}).get("sets")}


def table_key(degradation):
    """A table's key in the --json file: the task and its level."""
    return f"{degradation.task} {degradation.label}"


@cli.main
def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--models", help="comma-separated network names (their shipped weights; SR ones at x4) or "
                                    "model cards (default: every shipped model)")
    p.add_argument("--sets", help="test sets of every table (default: the task's, "
                                  + "; ".join(f"{t}: {s}" for t, s in DEFAULT_SETS.items()) + ")")
    p.add_argument("--threads", type=int, default=2, help="threads of LCE and onnxruntime (default 2)")
    p.add_argument("--kernels", choices=KERNELS, default="default",
                   help="LceBconv2d kernels of LCE's interpreter (default: its default)")
    p.add_argument("--json", help="also write every figure to this file")
    p.add_argument("--markdown", help="also write the tables to this file")
    p.add_argument("--reuse", action="store_true",
                   help="take a model's figures from the existing --json file when its weights, the "
                        "sets, the kernels and the rounding of alpha are those it was measured with")
    args = p.parse_args(argv)
    if args.reuse and not args.json:
        raise cli.UserError("--reuse reads the --json file: give --json")
    earlier = json.loads(Path(args.json).read_text()) if args.reuse and Path(args.json).is_file() else {}
    # figures of models computed as now only: same kernels, same rounding of the binary convs' alpha
    same = (earlier.get("kernels"), earlier.get("alpha_bits")) == (args.kernels, ALPHA_BITS)
    earlier = earlier.get("tables", {}) if same else {}

    cards = [loader.card(s) for s in args.models.split(",")] if args.models else model_card.shipped_cards()
    if not cards:
        raise cli.UserError(f"no model ships in {model_card.WEIGHTS_DIR}; pass --models")
    groups = {}  # degradation -> [(model, card)], in the order the cards come
    for card in cards:
        model = model_card.load(card)
        try:
            degradation = quality.degradation_of(model.config, model.card)
        except ValueError as e:
            raise cli.UserError(f"{card}: {e}") from None
        groups.setdefault(degradation, []).append((model, card))

    tables, texts, failed = {}, [], []
    for degradation, members in groups.items():
        sets = (args.sets or DEFAULT_SETS[degradation.task]).split(",")
        models = dict(figures(model, card, sets, degradation, args, earlier)
                      for model, card in members)
        first = quality.baseline_rows(sets, degradation, members[0][0].config.channels)
        texts.append(quality.table(models, first, sets, degradation))
        tables[table_key(degradation)] = {"task": degradation.task, "level": degradation.level, "sets": sets,
                                          "baseline": first, "models": models}
        failed += [(label, *d) for label, m in models.items() for d in quality.disagreements(m["results"])]
    text = "\n\n".join(texts)
    print(text)
    print(f"\nIn brief (the README's table):\n{quality.summary(tables)}")
    if args.markdown:
        atomic_write(args.markdown, text + "\n")
    if args.json:
        atomic_write(args.json, json.dumps({"tables": tables, "kernels": args.kernels, "threads": args.threads,
                                            "alpha_bits": ALPHA_BITS}, indent=2) + "\n")
    for label, set_name, runtime, diff in failed:
        cli.log(f"error: {label} on {set_name}: {runtime} is {diff:+.3f} dB from Keras "
                f"(more than {quality.AGREEMENT_DB} dB)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
