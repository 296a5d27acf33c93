"""This machine and the packages that made a result, for every report that states a figure:
hosts of one machine kind differ (some x86-64 cores have AVX-512 VPOPCNTDQ, others AVX2 only),
and a converted file depends on the converter's version."""

import os
import platform
from importlib import metadata
from pathlib import Path

#: Packages whose versions a report records (as pip names them).
PACKAGES = ("lce-models", "tensorflow", "tf-keras", "larq", "larq-compute-engine", "tf2onnx", "onnx", "onnxruntime",
            "numpy")


def vector_isa(flags):
    """The x86-64 vector extensions that decide the binary kernels' speed, in words, from the
    CPU's flags."""
    if "avx512_vpopcntdq" in flags:
        return "AVX-512 VPOPCNTDQ"
    return "AVX2, no AVX-512 VPOPCNTDQ" if "avx2" in flags else "no AVX2"


def machine():
    """This machine in words, for every table that reports a latency: CPU, cores and, on
    x86-64, its vector extensions."""
    cpu, named, flags = platform.processor() or "", False, None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not named:
                cpu, named = line.split(":", 1)[1].strip(), True
            elif line.startswith("flags") and flags is None:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = f", {vector_isa(flags)}" if flags is not None and platform.machine() == "x86_64" else ""
    return f"{platform.machine()} {cpu}, {os.cpu_count()} cores{isa}".replace("  ", " ")


def versions():
    """{package: version} of ``PACKAGES`` (None where one is not installed), and Python's."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found
