"""Latency and memory of a model runtime on this machine, measured the way the TFLite benchmark
tool does: warm-up runs first (allocation, weight packing), then repeated timed runs.

Peak memory is the resident-set high-water mark (Linux ``VmHWM``) reached while loading and
running the model, less the resident set before loading: the cost of the model, not of the
Python runtime around it. The mark is reset through ``/proc/self/clear_refs`` before each
measurement, so measurements in one process do not see each other's peaks.
"""

import ctypes
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from lce_models.host import machine

import numpy as np

_STATUS = Path("/proc/self/status")


def _status_kib(field):
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"no {field} in {_STATUS}")


def _return_free_heap():
    """Hand glibc's free heap back to the system, so that a model allocating memory freed by
    an earlier one shows up as new resident memory (no-op off glibc)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """``with PeakMemory() as m: ...`` then ``m.mib``: the peak resident memory above the level
    at entry, in MiB (None where ``/proc`` does not tell, as on macOS)."""

    def __enter__(self):
        _return_free_heap()
        try:
            Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak RSS to the current RSS
            self._start = _status_kib("VmRSS")
        except OSError:
            self._start = None
        self.mib = None
        return self

    def __exit__(self, *exc):
        if self._start is not None:
            self.mib = (_status_kib("VmHWM") - self._start) / 1024.0
        return False


def summary_ms(seconds):
    """Median, p90, min and mean of run times, in milliseconds."""
    ms = np.asarray(seconds, np.float64) * 1000.0
    return {"median_ms": float(np.median(ms)), "p90_ms": float(np.percentile(ms, 90)),
            "min_ms": float(ms.min()), "mean_ms": float(ms.mean()), "runs": int(ms.size)}


def time_runs(run, x, runs, warmup):
    """Seconds of each of ``runs`` calls of ``run(x)`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        run(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - start)
    return times


@dataclass
class Measurement:
    """One row of a benchmark table: a model on one backend, kernels and thread count."""

    model: str
    backend: str
    threads: int
    input_size: str
    where: str  # "local (<machine>)", "ssh <host>", "adb <serial>"
    median_ms: float
    p90_ms: float | None
    min_ms: float
    mean_ms: float
    runs: int
    peak_mib: float | None
    note: str = ""
    psnr_db: float | None = None  # Set5 quality of the network, where known (--suite)

    def as_dict(self):
        return asdict(self)

    @classmethod
    def local(cls, model, backend, threads, input_size, stats, peak_mib=None, note=""):
        """A row measured on this machine from ``summary_ms`` statistics."""
        return cls(model, backend, threads, input_size, f"local ({machine()})", stats["median_ms"], stats["p90_ms"],
                   stats["min_ms"], stats["mean_ms"], stats["runs"], peak_mib, note)


def measure(model, backend, make_runtime, threads, runs, warmup, input_size=None, seed=0):
    """Measure one runtime: ``make_runtime()`` is called inside the memory window, so the peak
    includes loading the model. ``input_size`` (H, W) for runtimes of any size."""
    with PeakMemory() as memory:
        rt = make_runtime()
        h, w = rt.input_size if rt.input_size[0] is not None else input_size
        x = np.random.default_rng(seed).random((1, h, w, rt.channels), np.float32)
        stats = summary_ms(time_runs(rt, x, runs, warmup))
    return Measurement.local(model, backend, threads, f"{h}x{w}", stats, memory.mib,
                             "peak MiB: resident memory above the process's level before loading the model")


def table(rows):
    """Markdown table of Measurements."""
    quality = any(r.psnr_db is not None for r in rows)
    head = ["model", "backend", "threads", "input", "median ms", "p90 ms", "min ms", "peak MiB", "where"]
    head += ["Set5 PSNR (dB)"] if quality else []
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
    for r in rows:
        cells = [r.model, r.backend, r.threads, r.input_size, fmt(r.median_ms), fmt(r.p90_ms),
                 fmt(r.min_ms), fmt(r.peak_mib), r.where]
        cells += ["-" if r.psnr_db is None else f"{r.psnr_db:.2f}"] if quality else []
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def speedups(rows, fast, references):
    """Markdown table: each row of a ``fast`` backend (a tuple of labels) against the
    ``references`` at the same thread count, as ``reference median / fast median`` (above 1:
    the fast row is faster). A reference is (label, model or None for the fast row's own,
    backend). Also the table's rows as dicts."""
    by_key = {(r.model, r.backend, r.threads): r for r in rows}
    head = ["model", "fast backend", "threads", "fast ms"] + [label for label, _, _ in references]
    lines, records = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)], []
    for row in rows:
        if row.backend not in fast:
            continue
        record = {"model": row.model, "backend": row.backend, "threads": row.threads, "fast_ms": row.median_ms}
        cells = [row.model, row.backend, str(row.threads), f"{row.median_ms:.1f}"]
        for label, model, backend in references:
            other = by_key.get((model or row.model, backend, row.threads))
            ratio = other.median_ms / row.median_ms if other else None
            record[label] = ratio
            cells.append("-" if ratio is None else f"{ratio:.2f}x")
        lines.append("| " + " | ".join(cells) + " |")
        records.append(record)
    return "\n".join(lines), records


@dataclass
class Settings:
    """How a benchmark runs: thread counts, timed and warm-up runs, the LR input of converted
    networks and of dynamic-size files, LCE's kernels (and XNNPACK for their float ops), where
    converted files go, and the network flags of a network name."""

    threads: tuple = (1, 2)
    runs: int = 10
    warmup: int = 2
    input_size: tuple = (180, 320)
    kernels: tuple = ("default", "indirect-bgemm")
    xnnpack: bool = False
    out: str = "out/benchmark"
    scale: int | None = None
    padding: str = "zero"
