"""Benchmarks on a Raspberry Pi / ARM64 Linux box over SSH, or on an Android phone over adb.

The model is copied to the device and timed there by ``lce_benchmark_model`` (LCE's build of
TFLite's ``benchmark_model``, downloaded by the user from LCE's releases), whose report is
parsed into the same ``Measurement`` as a local benchmark. Only such a run on the device
gives an ARM64 figure; nothing here estimates one.

The parser reads the report as ``lce_benchmark_model`` of LCE v0.16.0 (TensorFlow 2.16.1's
benchmark tool) prints it: ``count= first= curr= min= max= avg= std=`` timing lines in
microseconds, no percentiles (so the table's median column holds the tool's mean), ``count=N
curr=X`` alone when every run took the same time, doubles possibly in scientific notation,
and the memory lines ("Memory footprint delta ...", with ``--report_peak_memory_footprint=true``
"Overall peak memory footprint ... via periodic monitoring"). tests/fixtures/benchmark_model
cites the source statements of each line.
"""

import re
import shlex
import subprocess
from pathlib import PurePosixPath

from lce_models.cli import log
from lce_models.errors import UserError

from converters.benchmarking.files import read_flatbuffer
from converters.benchmarking.measure import Measurement

#: Where the benchmark tool lives on a device unless --remote-binary says otherwise.
DEFAULT_BINARY = {"ssh": "./lce_benchmark_model", "adb": "/data/local/tmp/lce_benchmark_model"}
DEFAULT_DIR = {"ssh": "/tmp", "adb": "/data/local/tmp"}
#: The binary's flags that ``benchmark`` sets itself.
SET_FLAGS = ("graph", "num_threads", "num_runs", "warmup_runs")


class RemoteError(RuntimeError):
    """The device cannot be reached, lacks the binary, or its tool failed: one line why."""


_NUMBER = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_TIMING = re.compile(r"count=(\d+)\b(.*)")
_SUMMARY = re.compile(r"Inference timings in us: Init: (%s), First inference: (%s), "
                      r"Warmup \(avg\): (%s), Inference \(avg\): (%s)" % ((_NUMBER,) * 4))
_MEMORY = re.compile(r"Memory footprint delta from the start of the tool \(MB\): init=(%s) overall=(%s)"
                     % (_NUMBER, _NUMBER))
_MONITORED = re.compile(r"Overall peak memory footprint \(MB\) via periodic monitoring: (%s)" % _NUMBER)


def _timing(match):
    """A ``count=`` line's figures (us); one that ran every time alike prints only ``curr``."""
    fields = {k: float(v) for k, v in re.findall(r"(\w+)=(%s)" % _NUMBER, match.group(2))}
    if "avg" not in fields and "curr" in fields:
        fields.update(avg=fields["curr"], min=fields["curr"], max=fields["curr"], std=0.0)
    return {"count": int(match.group(1)), **fields}


def parse_benchmark_output(text):
    """Timings (ms) and memory (MB) of an ``lce_benchmark_model`` report; ``RemoteError`` if the
    report holds no timed run. The timed run is the last ``count=`` line (the first is the
    warm-up)."""
    timings = [_timing(m) for line in text.splitlines() if (m := _TIMING.search(line))]
    if len(timings) < 2 or "avg" not in timings[-1]:  # the warm-up's line, then the timed runs' (count=0: none)
        last = next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "nothing")
        raise RemoteError(f"no timed run in the benchmark tool's output (last line: {last})")
    timed = timings[-1]
    summary = memory = monitored = None
    for line in text.splitlines():
        summary = _SUMMARY.search(line) or summary
        memory = _MEMORY.search(line) or memory
        monitored = _MONITORED.search(line) or monitored
    ms = lambda key: timed[key] / 1000.0 if key in timed else None  # noqa: E731 (us -> ms)
    result = {"runs": timed["count"], "avg_ms": ms("avg"), "min_ms": ms("min"), "max_ms": ms("max"),
              "std_ms": ms("std"), "first_ms": ms("first"), "init_ms": None, "memory_init_mb": None,
              "memory_overall_mb": None, "memory_peak_mb": None}
    if summary:
        result["init_ms"] = float(summary.group(1)) / 1000.0
        result["first_ms"] = float(summary.group(2)) / 1000.0
    if memory:
        result["memory_init_mb"], result["memory_overall_mb"] = float(memory.group(1)), float(memory.group(2))
    if monitored:
        result["memory_peak_mb"] = float(monitored.group(1))
    return result


def _run(argv, what, timeout):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise RemoteError(f"{argv[0]} not found on this machine: {what}") from None
    except subprocess.TimeoutExpired:
        raise RemoteError(f"{argv[0]} did not finish within {timeout} s") from None


def _last_line(text):
    return next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "no message")


class Ssh:
    """A Linux device (Raspberry Pi, ARM64 board) reached with OpenSSH's ssh/scp, non-interactive."""

    kind = "ssh"

    def __init__(self, destination, port=None, identity=None, options=(), timeout=600):
        self.destination, self.timeout = destination, timeout
        opts = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "StrictHostKeyChecking=accept-new"]
        opts += [a for o in options for a in ("-o", o)]
        if identity:
            opts += ["-i", str(identity)]
        self._ssh = ["ssh", *opts] + (["-p", str(port)] if port else [])
        self._scp = ["scp", "-q", *opts] + (["-P", str(port)] if port else [])
        self.name = f"ssh {destination}" + (f":{port}" if port else "")

    def _check(self, done, action):
        if done.returncode == 255:  # ssh's own failure: connection, authentication
            raise RemoteError(f"cannot reach {self.destination} ({action}): {_last_line(done.stderr)}")
        return done

    def push(self, local, remote):
        done = self._check(_run([*self._scp, str(local), f"{self.destination}:{remote}"],
                                "install OpenSSH's client", self.timeout), "copying the model")
        if done.returncode:
            # scp in its legacy protocol (OpenSSH < 9, or -O) exits 1 with "lost connection" when
            # the host is down; only ssh's own 255 tells that apart from a copy that failed there.
            self._check(_run([*self._ssh, self.destination, "true"], "install OpenSSH's client", self.timeout),
                        "copying the model")
            raise RemoteError(f"copying to {self.destination}:{remote} failed: {_last_line(done.stderr)}")

    def run(self, command):
        return self._check(_run([*self._ssh, self.destination, command], "install OpenSSH's client",
                                self.timeout), "running the benchmark")


class Adb:
    """An Android phone reached with adb (USB debugging on), ``serial`` None for the only one."""

    kind = "adb"

    def __init__(self, serial=None, timeout=600):
        self._adb = ["adb"] + (["-s", serial] if serial else [])
        self.timeout = timeout
        self.name = f"adb {serial or '(default device)'}"

    def _check(self, done, action):
        err = done.stderr + done.stdout
        if done.returncode and re.search(r"no devices|device .* not found|unauthorized|offline", err):
            raise RemoteError(f"no usable Android device ({action}): {_last_line(err)}")
        return done

    def push(self, local, remote):
        done = self._check(_run([*self._adb, "push", str(local), remote], "install Android's platform-tools",
                                self.timeout), "pushing the model")
        if done.returncode:
            raise RemoteError(f"adb push to {remote} failed: {_last_line(done.stderr + done.stdout)}")

    def run(self, command):
        return self._check(_run([*self._adb, "shell", command], "install Android's platform-tools",
                                self.timeout), "running the benchmark")


def benchmark(transport, model_path, threads, runs, warmup, binary=None, remote_dir=None, input_size="-",
              flags=()):
    """Copy a ``.tflite`` to the device and time it there with the binary's ``flags`` added
    (``--use_xnnpack=true``, ...): a ``Measurement``."""
    binary = binary or DEFAULT_BINARY[transport.kind]
    remote = str(PurePosixPath(remote_dir or DEFAULT_DIR[transport.kind]) / PurePosixPath(str(model_path)).name)
    transport.push(model_path, remote)
    command = " ".join([*map(shlex.quote, shlex.split(binary)), f"--graph={shlex.quote(remote)}",
                        f"--num_threads={int(threads)}", f"--num_runs={int(runs)}", f"--warmup_runs={int(warmup)}",
                        *map(shlex.quote, flags)])
    done = transport.run(command)
    output = done.stdout + done.stderr
    if done.returncode == 127 or re.search(r"(not found|No such file or directory)\s*$", _last_line(output)):
        raise RemoteError(f"{binary} not found on {transport.name}: download lce_benchmark_model "
                          "from LCE's releases to the device, or pass --remote-binary")
    if done.returncode:
        raise RemoteError(f"the benchmark tool failed on {transport.name} (exit {done.returncode}): "
                          f"{_last_line(output)}")
    parsed = parse_benchmark_output(output)
    memory = parsed["memory_peak_mb"] or parsed["memory_overall_mb"]
    notes = ["median column: the tool's mean (it prints no median); memory: its footprint (MB, approximate)"]
    tool = PurePosixPath(shlex.split(binary)[-1]).name
    backend = " ".join([f"{tool} on the device", *flags])
    return Measurement(PurePosixPath(str(model_path)).name, backend, threads, input_size,
                       transport.name, parsed["avg_ms"], None, parsed["min_ms"], parsed["avg_ms"], parsed["runs"],
                       memory, "; ".join(notes))


def benchmark_files(transport, files, settings, binary=None, remote_dir=None, flags=()):
    """Measurements of each .tflite of ``files`` on the device at every ``settings.threads``."""
    rows = []
    for path in files:
        if path.suffix != ".tflite":
            raise UserError(f"{path}: only .tflite files run on a device")
        _, size, _ = read_flatbuffer(path)  # a bad file fails here, before the device is asked
        for threads in settings.threads:
            row = benchmark(transport, path, threads, settings.runs, settings.warmup, binary, remote_dir,
                            "x".join(map(str, size)), flags)
            log(f"  {path.name} on {transport.name}, {threads} threads: {row.median_ms:.1f} ms")
            rows.append(row)
    return rows
