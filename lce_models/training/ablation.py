"""The ablation of "Lossless picture quality for binary neural networks in pixel-level
tasks" (Ovcharenko and Zharikov): which training tricks close the gap between a binary SR
network and its float twin.

Every row trains from scratch with the same ``TrainingPlan`` (steps, batch, patch, data,
seed), so only the network differs; then Set5 / Set14 Y PSNR / SSIM of the Keras model, Params
and OPs in the papers' convention at a 180x320 LR input, and the latency of its LCE flatbuffer
on this machine (x86-64, where LCE's binary kernels are its portable ones: a ranking, not an
ARM64 figure). BBCU-L rows change one thing at a time from the reference's unit (ApproxSign on
activations, clipped STE on weights, no balancing, no attention).
"""

from dataclasses import dataclass

from lce_models.models.registry import NetworkConfig

#: Key -> (label, network); the activation estimator rows keep the weights' clipped STE.
ROWS = {
    "approx": ("BBCU-L, ApproxSign (reference)", NetworkConfig("bbcu-l", 4)),
    "ste": ("BBCU-L, STE", NetworkConfig("bbcu-l", 4, unit_options={"estimator": "ste"})),
    "swish": ("BBCU-L, SwishSign (beta 5)", NetworkConfig("bbcu-l", 4, unit_options={"estimator": "swish"})),
    "ede": ("BBCU-L, EDE", NetworkConfig("bbcu-l", 4, unit_options={"estimator": "ede"})),
    "balanced": ("BBCU-L, ApproxSign + balanced weights",
                 NetworkConfig("bbcu-l", 4, unit_options={"balanced": True})),
    "irnet": ("BBCU-L, IR-Net (EDE on both, balanced, 2^n scale)",
              NetworkConfig("bbcu-l", 4, unit_options={"estimator": "ede", "weight_estimator": "ede",
                                                       "balanced": True, "weight_scale": "pow2"})),
    "att-channel": ("BBCU-Att, channel attention", NetworkConfig("bbcu-att", 4)),
    "att-spatial": ("BBCU-Att, spatial attention",
                    NetworkConfig("bbcu-att", 4, unit_options={"attention": "spatial"})),
    "srresnet-bw": ("SRResNet, binary weights (Ma et al.)", NetworkConfig("srresnet-bw", 4)),
    "srresnet-fp": ("SRResNet, float", NetworkConfig("srresnet-fp", 4)),
}
FLOAT_BASELINE = "srresnet-fp"


@dataclass
class Row:
    """What the ablation measures of one trained network."""

    key: str
    label: str
    network: dict
    sets: dict  # {set: {"psnr", "ssim"}}
    params_k: float
    ops_g: float
    latency_ms: float | None
    latency_note: str


def binary_rows(rows):
    """The rows of binary networks (everything but the float baseline)."""
    return [r for r in rows if r.key != FLOAT_BASELINE]


def best_binary(rows, set_name="Set5"):
    candidates = binary_rows(rows)
    return max(candidates, key=lambda r: r.sets[set_name]["psnr"]) if candidates else None


def table(rows, sets, plan_text, machine):
    """Markdown table of the rows, then the gap of the best binary row to the float baseline."""
    head = ["network", *(f"{s} x4 PSNR / SSIM" for s in sets), "Params (K)", "OPs (G)",
            f"LCE latency (ms, {machine})"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        cells = [r.label, *(f"{r.sets[s]['psnr']:.2f} / {r.sets[s]['ssim']:.4f}" for s in sets),
                 f"{r.params_k:.1f}", f"{r.ops_g:.2f}",
                 f"{r.latency_ms:.0f}" if r.latency_ms is not None else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", plan_text]
    base = next((r for r in rows if r.key == FLOAT_BASELINE), None)
    best = best_binary(rows, sets[0])
    if base and best:
        gaps = ", ".join(f"{s} {best.sets[s]['psnr'] - base.sets[s]['psnr']:+.2f} dB" for s in sets)
        lines += ["", f"Best binary network on {sets[0]}: {best.label}; its gap to the float SRResNet: {gaps}."]
    return "\n".join(lines) + "\n"
