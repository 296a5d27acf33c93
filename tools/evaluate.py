"""PSNR / SSIM of a restoration model on benchmark sets, as the papers report them.

SR: Y channel (BT.601, 8-bit), scale pixels of border cropped, on the MATLAB-made LR of
Set5 / Set14 / B100; the bicubic row is always printed. Denoising: RGB PSNR on CBSD68 with
Gaussian noise of fixed seed at each --sigma; JPEG: gray PSNR on Classic5 at each --quality;
the degraded input is their baseline row. Sets are names under the shared test/ folder, folders
of that layout, plain folders of clean images, or HR_DIR:LR_DIR pairs.

--model is bicubic, a network name (shipped weights, else a freshly initialised model,
warned), a model card .json (from train.py), a .tflite (run in LCE's interpreter on tiles of
its fixed input size, --tile-overlap pixels shared) or an .onnx (onnxruntime, whole images).
A network name with shipped weights or a card runs the fastest exact runtime here (--runtime
auto: on x86-64 its bit-packed ONNX graph, converted and verified against Keras once, kept
beside the card), else Keras; both on whole images.

Examples:
  python tools/evaluate.py --model runs/bbcu-l_x4/best.json --json results.json
  python tools/evaluate.py --model out/bbcu-l_x4_180x320.tflite --sets Set5
  python tools/evaluate.py --model bbcu-dn --sigma 15,25,50
"""

import json
import sys
from pathlib import Path

from lce_models import cli
from lce_models.data.degradations import Degradation
from lce_models.evaluation.protocol import BASELINES, DEFAULT_SETS, baseline, evaluate, keras_restorer, set_folders
from lce_models.files import atomic_write
from lce_models.models import NETWORKS, model_card
from lce_models.runtimes import loader
from lce_models.upscaling import tiling

from converters import cache, quality


class Candidate:
    """A model to evaluate: label, how it runs, task, channels, scale and its restorer."""

    def __init__(self, label, how, task, channels, scale, restore, network=None):
        self.label, self.how, self.task = label, how, task
        self.channels, self.scale, self.restore = channels, scale, restore
        self.network = network  # the network's name where known (Keras models, bicubic)


def keras_candidate(model, label):
    c = model.config
    return Candidate(label, "Keras, whole images", NETWORKS[c.name].task, c.channels, c.scale,
                     keras_restorer(model), network=c.name)


def label(spec, config, fresh=False):
    """The row label of a network name or card: the card, or its shipped (or untrained) weights."""
    if Path(spec).suffix.lower() == ".json":
        return f"{config.name}_x{config.scale} ({spec})"
    return f"{config.name} (untrained)" if fresh else f"{quality.label_of(config)} (shipped)"


def network_config(spec, scale):
    """The configuration of a network name or model card, read without building the network."""
    return model_card.read(spec)[0] if Path(spec).suffix.lower() == ".json" else loader.network_config(spec, scale)


def fast_candidate(spec, args):
    """The Candidate of a network name or card on the fast path, or None where it does not apply."""
    rt = cache.fast_runtime(spec, args.scale, args.threads)
    if rt is None:
        return None
    c = network_config(spec, args.scale)
    return Candidate(label(spec, c), f"{rt.engine}, whole images", NETWORKS[c.name].task, rt.channels, rt.scale,
                     lambda x: rt(x[None])[0].clip(0, 1), network=c.name)


def candidate(spec, args):
    """The Candidate of a --model value."""
    if not loader.is_model_file(spec):
        fast = fast_candidate(spec, args) if args.runtime == "auto" else None
        if fast is not None:
            return fast
        model = loader.load(spec, scale=args.scale)
        return keras_candidate(model, label(spec, model.config, fresh=model.weights_source == loader.FRESH))
    rt = loader.file_runtime(spec, args.threads)
    task = "sr" if rt.scale > 1 else args.task or ("denoise" if rt.channels == 3 else "jpeg")
    if rt.input_size[0] is None:
        return Candidate(spec, f"{rt.engine}, whole images", task, rt.channels, rt.scale,
                         lambda x: rt(x[None])[0].clip(0, 1))
    h, w = rt.input_size
    overlap = rt.receptive_radius if args.tile_overlap is None else args.tile_overlap
    try:
        restore = tiling.restorer(rt, (h, w), overlap, rt.scale)
    except ValueError as e:
        raise cli.UserError(f"{spec}: {e}") from None
    return Candidate(spec, f"{rt.engine}, {h}x{w} tiles sharing {overlap} pixels of context",
                     task, rt.channels, rt.scale, restore)


def levels(task, scale, args):
    if task == "sr":
        return [scale]
    text = args.sigma if task == "denoise" else args.quality
    try:
        return [float(v) if task == "denoise" else int(v) for v in text.split(",")]
    except ValueError:
        raise cli.UserError(f"bad level list {text!r}") from None


def columns(task, scale, args):
    """The table's (set, degradation) columns, each set's folders checked."""
    sets = (args.sets or DEFAULT_SETS[task]).split(",")
    try:
        table = [(s, Degradation(task, level)) for s in sets for level in levels(task, scale, args)]
    except ValueError as e:
        raise cli.UserError(str(e)) from None
    for set_name, degradation in table:
        set_folders(set_name, degradation)
    return table


@cli.main
def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--model", default="bicubic",
                   help="bicubic, a network name, a model card .json, a .tflite or an .onnx (default bicubic)")
    p.add_argument("--scale", type=int, choices=(2, 3, 4),
                   help="SR scale (default: the model's, else 4)")
    p.add_argument("--sigma", default="15,25,50", help="denoising noise levels (default 15,25,50)")
    p.add_argument("--quality", default="10,20,30,40", help="JPEG qualities (default 10,20,30,40)")
    p.add_argument("--task", choices=("denoise", "jpeg"),
                   help="task of a x1 .tflite/.onnx (default: denoise for RGB, jpeg for gray)")
    p.add_argument("--sets", help="comma-separated sets (default Set5,Set14,B100 / CBSD68 / Classic5)")
    p.add_argument("--tile-overlap", type=int,
                   help="input pixels of context .tflite tiles share (default: the model's receptive "
                        "radius, which makes tiles exact)")
    p.add_argument("--runtime", choices=("auto", "keras"), default="auto",
                   help="for a network name or model card: auto runs the fastest exact runtime here (on x86-64 the "
                        "bit-packed ONNX graph, made once and kept beside the card), keras the Keras model "
                        "(default auto)")
    p.add_argument("--threads", type=int, default=2, help="threads of the LCE interpreter and onnxruntime (default 2)")
    p.add_argument("--json", help="also write the results (per image too) to this file")
    args = p.parse_args(argv)

    model, table = None, None
    if args.model != "bicubic" and not loader.is_model_file(args.model):
        c = network_config(args.model, args.scale)
        table = columns(NETWORKS[c.name].task, args.scale or c.scale, args)  # mistakes refused before any conversion
    if args.model != "bicubic":
        model = candidate(args.model, args)
        if args.scale is not None and model.task == "sr" and args.scale != model.scale:
            raise cli.UserError(f"{args.model} is a x{model.scale} model, not x{args.scale}")
        args.scale = model.scale
    args.scale = args.scale or 4
    task = model.task if model else "sr"
    channels = model.channels if model else 3
    first = Candidate(BASELINES[task], "", task, channels, args.scale, baseline(task, args.scale))
    rows = [first] + ([model] if model else [])
    table = table or columns(task, args.scale, args)

    print("| model | " + " | ".join(f"{s} {d.label} PSNR / SSIM" for s, d in table) + " |")
    print("| --- |" + " --- |" * len(table))
    results = {}
    for row in rows:
        results[row.label] = {"runs_as": row.how, "network": row.network, "scale": row.scale, "sets": {}}
        cells = []
        for set_name, degradation in table:
            r = evaluate(row.restore, set_name, degradation, row.channels, progress=True)
            results[row.label]["sets"].setdefault(set_name, {})[degradation.label] = r
            cells.append(f"{r['psnr']:.2f} / {r['ssim']:.4f}")
        print(f"| {row.label} | " + " | ".join(cells) + " |", flush=True)
    metric = r["metric"]
    notes = [f"{row.label}: {row.how}" for row in rows if row.how]
    print(f"\nMetric: {metric}." + "".join(f" {note}." for note in notes))
    if args.json:
        atomic_write(args.json, json.dumps({"task": task, "metric": metric, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
