"""onnxruntime's time per op type of an ONNX model: where a graph's time goes."""

import json
import tempfile
from pathlib import Path

from lce_models.runtimes.onnx import onnx_session

import numpy as np


def onnx_profile(serialized, threads, runs, warmup, input_size):
    """Milliseconds per op type of an ONNX model in onnxruntime (each node's fastest of
    ``warmup + runs`` runs, so first-run allocations do not count), largest first."""
    with tempfile.TemporaryDirectory() as folder:
        session, _ = onnx_session(serialized, threads, Path(folder) / "profile")
        inp = session.get_inputs()[0]
        h, w = input_size
        x = np.random.default_rng(0).random((1, h, w, inp.shape[-1]), np.float32)
        for _ in range(warmup + runs):
            session.run(None, {inp.name: x})
        events = json.loads(Path(session.end_profiling()).read_text())
    fastest = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            key = (e["name"], e["args"]["op_name"])
            fastest[key] = min(fastest.get(key, float("inf")), e["dur"] / 1000)
    per_op = {}
    for (_, op), ms in fastest.items():
        per_op[op] = per_op.get(op, 0.0) + ms
    return dict(sorted(per_op.items(), key=lambda kv: -kv[1]))


def profiles(files, settings):
    """(lines, records) of onnxruntime's time per op type of each .onnx file and thread count."""
    lines, records = [], []
    for path in files:
        if path.suffix != ".onnx":
            continue
        for threads in settings.threads:
            per_op = onnx_profile(path.read_bytes(), threads, settings.runs, settings.warmup, settings.input_size)
            total = sum(per_op.values())
            lines.append(f"onnxruntime profile of {path.name}, {threads} threads, ms per op type (each node's "
                         f"fastest run; {total:.0f} ms in all):")
            lines.append(", ".join(f"{op} {ms:.0f}" for op, ms in per_op.items() if ms >= 0.5))
            records.append({"model": path.name, "threads": threads, "ms_per_op_type": per_op})
    return lines, records
