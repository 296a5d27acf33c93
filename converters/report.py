"""What a conversion reports: the table ``tools/convert.py`` prints, its JSON report, and the
sidecar beside a ``.tflite`` (scale, input size, receptive radius: what an app needs to tile an
image with it, as android_demo does)."""

import json
import tempfile
from pathlib import Path

from lce_models import cli
from lce_models.files import atomic_write
from lce_models.host import machine, versions
from lce_models.models.complexity import count
from lce_models.runtimes import receptive_field

from converters.export import artifact_name


def keras_weights_bytes(model):
    """Size of the Keras model's float weights file (HDF5)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.h5"
        model.save_weights(str(path))
        return path.stat().st_size


class ConversionReport:
    """The figures of one model's conversion to ``artifacts`` ({format: ``export.Artifact``})."""

    def __init__(self, model, source, input_size, artifacts):
        self.model, self.source, self.input_size, self.artifacts = model, source, tuple(input_size), artifacts
        self.complexity = count(model)
        self.float_bytes = keras_weights_bytes(model)

    def rows(self):
        """(label, value) lines of the printed table."""
        c, config, (h, w) = self.complexity, self.model.config, self.input_size
        rows = [
            ("network", f"{config.name} x{config.scale} ({config.variant or 'float'}, {config.padding} padding, "
                        f"k={config.k:g})"),
            ("weights", self.source),
            ("LR input", f"{h}x{w}x{config.channels}"),
            ("binarized share of MACs", f"{c.binarized_ops_share:.1%}"),
            ("OPs (FLOPs + BOPs/64)", f"{c.ops / 1e9:.2f} G"),
            ("Params (float + binary/32)", f"{c.params / 1e3:.1f} K"),
            ("Keras float weights", f"{self.float_bytes / 1024:.0f} KiB"),
        ]
        for fmt, a in self.artifacts.items():
            rows += [
                (f"{fmt} ops", ", ".join(f"{op} {n}" for op, n in a.census.most_common())),
                (f"{fmt} size", f"{len(a.data) / 1024:.0f} KiB ({len(a.data) / self.float_bytes:.0%} of the float "
                                "weights)"),
                (f"{fmt} conversion", f"{a.seconds:.1f} s"),
            ]
            rows += [(f"{fmt} vs Keras, {label}", f"max |diff| {v.max_abs_diff:.2e}, PSNR {v.psnr_db:.1f} dB")
                     for label, v in a.checks.items()]
            if a.memory is not None:
                rows.append((f"{fmt} memory plan", memory_row(a.memory)))
            if a.sign_flip_share is not None:
                rows.append((f"{fmt} sign flips vs Keras", f"{a.sign_flip_share:.3%} of binarized activations"))
            rows += [(f"{fmt} vs Keras in LCE's arithmetic, {label}", f"PSNR {v.psnr_db:.1f} dB")
                     for label, v in a.transform_checks.items()]
            if a.transform_checks:
                rows.append((f"{fmt} first sign flip vs it", str(a.first_flip or "none")))
        return rows

    def table(self):
        rows = self.rows()
        width = max(len(label) for label, _ in rows)
        return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)

    def as_dict(self, out):
        c, config = self.complexity, self.model.config
        return {
            "model": config.name,
            "network": config.to_dict(),
            "weights": self.source,
            "scale": config.scale,
            "input_size": list(self.input_size),
            "complexity": {"ops": c.ops, "flops": c.flops, "bops": c.bops, "params": c.params,
                           "binarized_share": c.binarized_ops_share},
            "keras_weights_bytes": self.float_bytes,
            "host": machine(),
            "versions": versions(),
            "artifacts": {fmt: {"path": str(Path(out) / artifact_name(config, fmt, self.input_size)), **a.summary()}
                          for fmt, a in self.artifacts.items()},
        }

    def write(self, out):
        """Write every artifact, the ``.tflite``'s sidecar and the report (``report_name``) into
        ``out``, each atomically; returns the paths written. A report of the same network there
        keeps the formats this conversion did not make."""
        out, config = Path(out), self.model.config
        written = [atomic_write(out / artifact_name(config, fmt, self.input_size), a.data)
                   for fmt, a in self.artifacts.items()]
        if "tflite" in self.artifacts:
            sidecar = {"network": config.to_dict(), "scale": config.scale, "input_size": list(self.input_size),
                       "receptive_radius": receptive_field.of_tflite(self.artifacts["tflite"].data)}
            name = artifact_name(config, "tflite", self.input_size).replace(".tflite", ".json")
            written.append(atomic_write(out / name, json.dumps(sidecar, indent=2) + "\n"))
        report, path = self.as_dict(out), out / report_name(config, self.input_size)
        earlier = json.loads(path.read_text()) if path.is_file() else {}
        if earlier.get("network") == report["network"]:  # formats converted before stay reported
            report["artifacts"] = {**earlier.get("artifacts", {}), **report["artifacts"]}
        written.append(atomic_write(path, json.dumps(report, indent=2) + "\n"))
        return written


def memory_row(plan):
    """The table's line for a ``MemoryPlan`` (or the reason there is none)."""
    if isinstance(plan, str):
        return f"not available: {plan}"
    persistent = f" + {cli.amount(plan.persistent_bytes)} persistent" if plan.persistent_bytes else ""
    return (f"{cli.amount(plan.total_bytes)} = arena {cli.amount(plan.arena_bytes)}{persistent} + model "
            f"{cli.amount(plan.model_bytes)} (TFLite's planner, float ops without XNNPACK; largest scratch "
            f"{cli.amount(plan.scratch_bytes)})")


def report_name(config, input_size):
    """``<name>_x<scale>_<H>x<W>.report.json``: one report per network and input size, so that
    conversions of other models into the same folder leave it alone."""
    h, w = input_size
    return f"{config.name}_x{config.scale}_{h}x{w}.report.json"
