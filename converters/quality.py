"""Quality of trained models on every runtime they ship to, beside the task's baseline (bicubic,
the noisy input, the JPEG input) and the papers.

A model is measured at the task and level it was trained for (``degradation_of``) three ways
on each test set (``lce_models.evaluation.protocol``: Y PSNR / SSIM for SR, RGB for denoising,
gray for JPEG):

* Keras, whole images;
* its LCE flatbuffer in LCE's interpreter, converted at each LR image size the sets hold, so
  that every image runs whole here too: a flatbuffer's input shape is fixed, and tiling an
  image smaller than the tile would pad it in a way the Keras model never sees;
* its ONNX file (dynamic size) in onnxruntime, whole images.

The three must agree within ``AGREEMENT_DB``: the conversions are then proven on the benchmark
images themselves, beyond the two probes of ``converters.export``.
"""

from lce_models.data.degradations import Degradation
from lce_models.evaluation.protocol import BASELINES, baseline, evaluate, keras_restorer
from lce_models.models import NETWORKS
from lce_models.runtimes.onnx import onnx_runtime
from lce_models.runtimes.tflite import tflite_runtime

import numpy as np
from tqdm import tqdm

from converters import onnx as onnx_export
from converters import tflite
from converters.tflite import with_fixed_shape

#: Largest PSNR difference (dB) between the runtimes of one model on one set that passes.
AGREEMENT_DB = 0.01
RUNTIMES = ("Keras", "LCE .tflite", ".onnx")
TASK_NAMES = {"sr": "SR", "denoise": "denoising", "jpeg": "JPEG"}

#: The papers' figures for the same networks, by (network, level): (PSNR, SSIM), None where
#: this project has no verified source. The papers train on DIV2K (800 2K images) for 300k steps.
PAPER = {
    ("bbcu-l", 4): {"source": "Xia et al., ICLR 2023 (BBCU), its Set5 figure",
                    "sets": {"Set5": (31.79, None)}},
}


def degradation_of(config, card):
    """The ``Degradation`` a model undoes: SR at its scale; a denoiser's noise level or a JPEG
    model's quality as its card gives it (a Keras run's card) or its training record (an
    imported PyTorch run's); ``ValueError`` where neither says."""
    task = NETWORKS[config.name].task
    if task == "sr":
        return Degradation("sr", config.scale)
    level = card.get("level", card.get("training", {}).get("level"))
    if level is None:
        raise ValueError(f"the card of {config.name} does not say the level it was trained at")
    return Degradation(task, level)


def label_of(config):
    """A model's name in the table: the network, and its scale for SR."""
    return f"{config.name} x{config.scale}" if NETWORKS[config.name].task == "sr" else config.name


def flatbuffer_restorer(model, threads=2, kernels="default", progress=None):
    """A restorer running ``model`` converted by LCE at the size of each image it is given;
    one conversion per size (``progress``, if given, is called with each new size)."""
    flatbuffers = {}

    def restore(lr):
        size = tuple(lr.shape[:2])
        if size not in flatbuffers:
            if progress:
                progress(size)
            flatbuffers[size] = tflite.convert_checked(with_fixed_shape(model, size))[0]
        # One interpreter at a time: each holds its own arena (GiB at large sizes).
        run = tflite_runtime(flatbuffers[size], threads, kernels)
        return np.clip(run(lr[None])[0], 0.0, 1.0)

    return restore


def onnx_restorer(model, threads=None):
    """A restorer running ``model`` exported to ONNX (dynamic size) in onnxruntime."""
    run = onnx_runtime(onnx_export.serialize(onnx_export.convert(with_fixed_shape(model, (48, 48)))),
                               threads)
    return lambda lr: np.clip(run(lr[None])[0], 0.0, 1.0)


def measure(model, sets, degradation, threads=2, kernels="default", log=None):
    """{runtime: {set: {"psnr", "ssim"}}} of a Keras model on each of ``sets`` degraded by
    ``degradation``."""
    config = model.config
    note = (lambda size: log(f"  converting for LCE at {size[0]}x{size[1]}")) if log else None
    restorers = {
        "Keras": keras_restorer(model),
        "LCE .tflite": flatbuffer_restorer(model, threads, kernels, note),
        ".onnx": onnx_restorer(model, threads),
    }
    results = {}
    for label, restore in restorers.items():
        results[label] = {}
        for set_name in tqdm(sets, desc=f"{label_of(config)}, {label}", leave=False):
            r = evaluate(restore, set_name, degradation, config.channels)
            results[label][set_name] = {"psnr": r["psnr"], "ssim": r["ssim"]}
    return results


def baseline_rows(sets, degradation, channels=3):
    """{set: {"psnr", "ssim"}} of the task's baseline (``protocol.baseline``)."""
    restore = baseline(degradation.task, degradation.multiple)
    return {s: {k: v for k, v in evaluate(restore, s, degradation, channels).items() if k in ("psnr", "ssim")}
            for s in sets}


def disagreements(results):
    """(set, runtime, difference from Keras in dB) wherever it exceeds ``AGREEMENT_DB``."""
    return [(s, label, r[s]["psnr"] - results["Keras"][s]["psnr"])
            for label, r in results.items() if label != "Keras" for s in r
            if abs(r[s]["psnr"] - results["Keras"][s]["psnr"]) > AGREEMENT_DB]


def _cell(value):
    psnr, ssim = value
    return "-" if psnr is None else f"{psnr:.2f}" + (f" / {ssim:.4f}" if ssim is not None else "")


def _row(*cells):
    return "| " + " | ".join(cells) + " |"


def table(models, first_rows, sets, degradation):
    """Markdown: the baseline, then per model its three runtimes, the paper and the gap (Keras
    minus paper). ``models``: {label: {"results", "steps", "hours", "paper"}}."""
    lines = [_row("model", "trained", "runs as", *(f"{s} {degradation.label}" for s in sets)),
             _row(*["---"] * (3 + len(sets))),
             _row(BASELINES[degradation.task], "-", "Pillow" if degradation.task == "sr" else "-",
                  *(_cell((first_rows[s]["psnr"], first_rows[s]["ssim"])) for s in sets))]
    for label, m in models.items():
        first = (label, f"{m['steps']} steps, {m['hours']:.1f} h")
        for i, rt in enumerate(RUNTIMES):
            r = m["results"][rt]
            lines.append(_row(*(first if i == 0 else ("", "")), rt,
                              *(_cell((r[s]["psnr"], r[s]["ssim"])) for s in sets)))
        published = [(m.get("paper") or {}).get(s, (None, None)) for s in sets]
        lines.append(_row("", "", "paper", *(_cell(p) for p in published)))
        lines.append(_row("", "", "gap (Keras - paper)", *(
            f"{m['results']['Keras'][s]['psnr'] - p[0]:+.2f}" if p[0] is not None else "-"
            for s, p in zip(sets, published))))
    return "\n".join(lines)


def summary(tables):
    """Markdown, one row per model of ``tables`` (the ``"tables"`` of ``tools/results.py``'s
    JSON): its task, its training (steps, hours, and the GPU where it names one) and its Keras
    PSNR on each set, beside the baseline's."""
    lines = [_row("model", "task", "trained", "PSNR (dB)", "baseline"), _row(*["---"] * 5)]
    for t in tables.values():
        degradation = Degradation(t["task"], t["level"])
        base = ", ".join(f"{t['baseline'][s]['psnr']:.2f}" for s in t["sets"])
        for label, m in t["models"].items():
            device = m.get("device") or ""
            trained = f"{m['steps']} steps, {m['hours']:.1f} h" + (f", {device.split(': ', 1)[1]}"
                                                                  if device.startswith("cuda: ") else "")
            lines.append(_row(label, f"{TASK_NAMES[degradation.task]} {degradation.label}", trained,
                              ", ".join(f"{s} {m['results']['Keras'][s]['psnr']:.2f}" for s in t["sets"]),
                              f"{BASELINES[degradation.task]} {base}"))
    return "\n".join(lines)
