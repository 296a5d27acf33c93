"""The model zoo side by side: BBCU-L, BBCU-M and BSRN x4 on LCE, the float SRResNet x4 on
TFLite + XNNPACK, all of them in onnxruntime, the BBCU networks also on the x86-64 fast path;
how many times faster the fast path runs than each other backend, and Set5 PSNR against latency."""

import json
from pathlib import Path

from lce_models.cli import log
from lce_models.errors import UserError
from lce_models.files import atomic_path
from lce_models.runtimes.tflite import xnnpack_runtime

from converters.benchmarking import measure
from converters.benchmarking.files import converted
from converters.benchmarking.local import FAST_LABEL, local_backends, measure_local

#: (network, backend of its .tflite): the networks of the suite.
SUITE = (("bbcu-l", "lce"), ("bbcu-m", "lce"), ("bsrn", "lce"), ("srresnet-fp", "xnnpack"))
#: The BBCU networks, which the suite also runs on the x86-64 fast path (``converters.fastpath``).
FAST_PATH = ("bbcu-l", "bbcu-m", "bbcu-dn")
#: The float network the fast path's speed is set against.
FLOAT_REFERENCE = "srresnet-fp x4"


def quality(paths):
    """Set5 Y-PSNR of each network, and of bicubic, from evaluate.py JSON files."""
    psnr = {}
    for path in paths:
        try:
            results = json.loads(Path(path).read_text())["results"]
        except (OSError, ValueError, KeyError) as e:
            raise UserError(f"--quality {path}: not an evaluate.py JSON file ({e})") from None
        for label, row in results.items():
            network = row.get("network") or ("bicubic" if label == "bicubic" else None)
            set5 = row["sets"].get("Set5", {}).get("x4")
            if network and set5:
                psnr[network] = set5["psnr"]
    return psnr


def suite(settings, quality_files=(), plot=None):
    """Measurements of the suite; the plot (default ``settings.out/quality_latency.png``) when
    ``quality_files`` (evaluate.py JSON) name its networks."""
    rows, psnr = [], quality(quality_files)
    for name, backend in SUITE:
        fast = name in FAST_PATH
        formats = ("tflite", "onnx") + (("onnx-bitpacked",) if fast else ())
        label, (tfl, onx, *bitpacked) = converted(name, settings, formats)
        data = tfl.read_bytes()
        if backend == "lce":
            engines = local_backends(tfl, settings.kernels, settings.xnnpack)
        else:
            engines = [("TFLite + XNNPACK", lambda t: xnnpack_runtime(data, t))]
        rows += measure_local(tfl, engines, settings, label)
        rows += measure_local(onx, local_backends(onx, ()), settings, label)
        for path in bitpacked:
            rows += measure_local(path, local_backends(path, ()), settings, label)
    for row in rows:
        row.psnr_db = psnr.get(row.model.split()[0])
    plot = Path(plot or Path(settings.out) / "quality_latency.png")
    if any(r.model.split()[0] in psnr for r in rows):
        quality_plot(rows, psnr, plot, max(settings.threads))
        log(f"wrote {plot}")
    else:
        log("no --quality results name these networks: no plot (run tools/evaluate.py --json first)")
    return rows


def lce_references(kernels):
    return [(f"vs LCE {k}", None, f"LCE interpreter, {k} kernels") for k in kernels]


def suite_speedups(rows, settings):
    """How many times faster the fast path runs than each other backend of the suite."""
    return measure.speedups(rows, (FAST_LABEL,), lce_references(settings.kernels) + [
        ("vs onnxruntime (same network)", None, "onnxruntime CPU"),
        (f"vs {FLOAT_REFERENCE} TFLite+XNNPACK", FLOAT_REFERENCE, "TFLite + XNNPACK"),
        (f"vs {FLOAT_REFERENCE} onnxruntime", FLOAT_REFERENCE, "onnxruntime CPU")])


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
    ax.set_title(f"Quality vs latency on {measure.machine()}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
