"""tools/benchmark.py: local timing and memory, the benchmark tool's report parser, the SSH path
against a real OpenSSH server on 127.0.0.1, the adb path, and the suite with its plot."""

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from lce_models.models import NetworkConfig, build_model
from lce_models.runtimes import bitpacked
from lce_models.runtimes.tflite import KERNELS, tflite_runtime

import numpy as np
import pytest
from conftest import randomize_weights
from test_tools import TOOLS, tool

from converters.benchmarking import measure as benchmark
from converters.benchmarking import remote, suite
from converters.tflite import convert_checked
from tools.local_benchmark_model import timing_line

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "benchmark_model"
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def test_parser_reads_lce_v0_16_reports():
    """The format LCE v0.16.0's binary prints (fixtures/benchmark_model/README.md cites each line)."""
    r = remote.parse_benchmark_output((FIXTURES / "lce-v0.16.0.txt").read_text())
    assert r["runs"] == 50  # the timed run, not the warm-up
    assert (r["avg_ms"], r["min_ms"], r["max_ms"], r["init_ms"]) == (186.24, 183.876, 199.307, 2.811)
    assert r["first_ms"] == pytest.approx(201.554) and r["memory_overall_mb"] == pytest.approx(96.4688)
    assert r["memory_peak_mb"] is None  # printed only with --report_peak_memory_footprint=true


def test_parser_reads_scientific_notation_one_warmup_run_and_peak_memory():
    r = remote.parse_benchmark_output((FIXTURES / "lce-v0.16.0_xnnpack_peak.txt").read_text())
    assert (r["runs"], r["avg_ms"], r["min_ms"]) == (5, pytest.approx(1980.34), 1968.41)
    assert r["first_ms"] == pytest.approx(2034.567) and r["memory_peak_mb"] == pytest.approx(748.148)
    one_warmup = remote.parse_benchmark_output("INFO: count=1 curr=2034567\nINFO: count=3 curr=5(all same)\n")
    assert (one_warmup["runs"], one_warmup["avg_ms"], one_warmup["std_ms"]) == (3, 0.005, 0.0)


def test_the_stand_in_prints_what_the_parser_reads():
    """tools/local_benchmark_model.py speaks the binary's format, the all-same form included."""
    line = timing_line(np.array([1987344.0, 1979021.0, 1968410.0]))
    assert line == "INFO: count=3 first=1987344 curr=1968410 min=1968410 max=1987344 avg=1.97826e+06 std=7748.56"
    assert timing_line(np.array([5.0, 5.0])) == "INFO: count=2 curr=5(all same)"
    r = remote.parse_benchmark_output(f"{timing_line(np.array([9.0]))}\n{line}\n")
    assert (r["runs"], r["avg_ms"]) == (3, pytest.approx(1978.25833, abs=1e-2))


def test_parser_refuses_a_failed_run():
    with pytest.raises(remote.RemoteError, match="no timed run .*Benchmarking failed"):
        remote.parse_benchmark_output((FIXTURES / "failed.txt").read_text())
    with pytest.raises(remote.RemoteError, match="no timed run"):  # a warm-up, then nothing timed
        remote.parse_benchmark_output("INFO: count=2 first=1 curr=2 min=1 max=2 avg=1.5 std=0.5\nINFO: count=0\n")


def test_summary_statistics():
    s = benchmark.summary_ms([0.004, 0.001, 0.002, 0.003, 0.010])
    assert (s["median_ms"], s["min_ms"], s["runs"]) == (3.0, 1.0, 5)
    assert s["p90_ms"] == pytest.approx(7.6)


def test_peak_memory_sees_an_allocation():
    with benchmark.PeakMemory() as m:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        del block
    assert 60 < m.mib < 200


@pytest.fixture(scope="module")
def flatbuffer(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "bbcu-dn_16x16.tflite"
    model = randomize_weights(build_model(NetworkConfig("bbcu-dn", depth=2), (16, 16), batch_size=1))
    path.write_bytes(convert_checked(model)[0])
    return path


def test_local_benchmark_rows_and_json(flatbuffer, tmp_path, capsys):
    out = tmp_path / "b.json"
    argv = [str(flatbuffer), "--threads", "1,2", "--runs", "3", "--warmup", "1", "--xnnpack", "--json", str(out)]
    assert tool("benchmark")(argv) == 0
    rows = json.loads(out.read_text())["rows"]
    backends = [f"LCE interpreter, {k} kernels{x}" for x in ("", " + XNNPACK") for k in ("default", "indirect-bgemm")]
    assert [(r["backend"], r["threads"]) for r in rows] == [(b, t) for b in backends for t in (1, 2)]
    for r in rows:
        assert r["runs"] == 3 and r["input_size"] == "16x16" and r["where"].startswith("local (")
        assert 0 < r["min_ms"] <= r["median_ms"] <= r["p90_ms"]
        assert r["peak_mib"] is not None
    assert "| bbcu-dn_16x16.tflite | LCE interpreter, default kernels | 1 | 16x16 |" in capsys.readouterr().out


def test_every_lce_configuration_computes_the_same(flatbuffer):
    data = flatbuffer.read_bytes()
    x = np.random.default_rng(5).random((1, 16, 16, 3), np.float32)
    reference = tflite_runtime(data, 1, "reference")(x)
    for kernels in KERNELS:
        for xnnpack in (False, True):
            np.testing.assert_allclose(tflite_runtime(data, 2, kernels, xnnpack)(x), reference, atol=1e-5)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """A real OpenSSH server on 127.0.0.1 accepting a throwaway key for the current user."""
    if not os.access(SSHD, os.X_OK):
        pytest.fail(f"{SSHD} missing: bash tests/system_packages.sh installs it")
    d = tmp_path_factory.mktemp("sshd")
    for key in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)], check=True)
    (d / "authorized_keys").write_text((d / "user_key.pub").read_text())
    port = free_port()
    config = d / "sshd_config"
    config.write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\n"
                      f"AuthorizedKeysFile {d / 'authorized_keys'}\nPasswordAuthentication no\n"
                      "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
                      "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
                      f"PidFile {d / 'sshd.pid'}\nSubsystem sftp internal-sftp\n")  # scp speaks SFTP
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege-separation folder sshd insists on
    log = open(d / "sshd.log", "w")
    server = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if server.poll() is not None:
            pytest.fail(f"sshd did not start: {(d / 'sshd.log').read_text()}")
        time.sleep(0.1)
    yield {"port": port, "key": d / "user_key", "known_hosts": d / "known_hosts",
           "destination": f"{getpass.getuser()}@127.0.0.1"}
    server.terminate()
    server.wait(10)
    log.close()


def ssh_argv(sshd, model, tmp_path, binary):
    return [str(model), "--ssh", sshd["destination"], "--port", str(sshd["port"]),
            "--identity", str(sshd["key"]), "--ssh-option", f"UserKnownHostsFile={sshd['known_hosts']}",
            "--remote-binary", binary, "--remote-dir", str(tmp_path), "--threads", "1",
            "--runs", "2", "--warmup", "1", "--json", str(tmp_path / "r.json")]


def test_ssh_copies_the_model_and_parses_the_remote_report(sshd, flatbuffer, tmp_path, capsys):
    remote_dir = tmp_path / "device"
    remote_dir.mkdir()
    stand_in = f"{sys.executable} {TOOLS / 'local_benchmark_model.py'}"
    assert tool("benchmark")(ssh_argv(sshd, flatbuffer, remote_dir, stand_in)) == 0
    assert (remote_dir / flatbuffer.name).read_bytes() == flatbuffer.read_bytes()  # scp'd over
    (row,) = json.loads((remote_dir / "r.json").read_text())["rows"]
    assert row["where"] == f"ssh {sshd['destination']}:{sshd['port']}"
    assert row["backend"] == "local_benchmark_model.py on the device"
    assert row["runs"] == 2 and row["input_size"] == "16x16" and row["median_ms"] > 0
    assert "local_benchmark_model.py on the device | 1 | 16x16 |" in capsys.readouterr().out


def test_ssh_missing_binary_and_unreachable_host(sshd, flatbuffer, tmp_path, capsys):
    argv = ssh_argv(sshd, flatbuffer, tmp_path, "/nonexistent/lce_benchmark_model")
    assert tool("benchmark")(argv) == 1
    err = capsys.readouterr().err
    assert "/nonexistent/lce_benchmark_model not found on ssh" in err and "Traceback" not in err
    bad_dir = list(argv)
    bad_dir[argv.index("--remote-dir") + 1] = str(tmp_path / "no" / "such" / "folder")
    assert tool("benchmark")(bad_dir) == 1
    assert "failed: " in (err := capsys.readouterr().err) and "cannot reach" not in err
    argv[argv.index("--port") + 1] = str(free_port())  # nothing listens there
    assert tool("benchmark")(argv) == 1
    assert "cannot reach" in capsys.readouterr().err


def test_ssh_unreachable_host_with_legacy_scp(sshd, flatbuffer, tmp_path, capsys, monkeypatch):
    """OpenSSH before 9.0 (and ``scp -O``) copies with the old protocol, whose scp exits 1 with
    "lost connection" when the host is down, not ssh's 255: still reported as unreachable."""
    legacy = tmp_path / "bin" / "scp"
    legacy.parent.mkdir()
    legacy.write_text(f'#!/bin/sh\nexec {shutil.which("scp")} -O "$@"\n')
    legacy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{legacy.parent}:{os.environ['PATH']}")
    argv = ssh_argv(sshd, flatbuffer, tmp_path, "/nonexistent/lce_benchmark_model")
    argv[argv.index("--port") + 1] = str(free_port())
    assert tool("benchmark")(argv) == 1
    assert "cannot reach" in capsys.readouterr().err


def test_adb_pushes_to_data_local_tmp_and_runs_there(flatbuffer, tmp_path, monkeypatch):
    """adb itself is not available here: a stand-in ``adb`` on PATH records its arguments and
    plays the device with a local folder, so what the tool asks of adb is checked exactly."""
    device = tmp_path / "phone"
    device.mkdir()
    log = tmp_path / "adb.log"
    fake = tmp_path / "bin" / "adb"
    fake.parent.mkdir()
    fake.write_text(f"""#!/bin/sh
echo "$@" >> {log}
[ "$1" = -s ] && shift 2
case "$1" in
  push) cp "$2" {device}/$(basename "$3") ;;
  shell) cat {FIXTURES / 'lce-v0.16.0_xnnpack_peak.txt'} ;;
esac
""")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    out = tmp_path / "a.json"
    argv = [str(flatbuffer), "--adb", "R58M", "--threads", "4", "--runs", "50", "--warmup", "1", "--json", str(out),
            "--device-flag=--use_xnnpack=true", "--device-flag=--report_peak_memory_footprint=true"]
    assert tool("benchmark")(argv) == 0
    calls = log.read_text().splitlines()
    assert calls[0] == f"-s R58M push {flatbuffer} /data/local/tmp/{flatbuffer.name}"
    assert calls[1] == (f"-s R58M shell /data/local/tmp/lce_benchmark_model "
                        f"--graph=/data/local/tmp/{flatbuffer.name} --num_threads=4 --num_runs=50 --warmup_runs=1 "
                        "--use_xnnpack=true --report_peak_memory_footprint=true")
    (row,) = json.loads(out.read_text())["rows"]
    assert (row["where"], row["median_ms"], row["peak_mib"]) == ("adb R58M", 1980.34, 748.148)
    assert row["backend"] == ("lce_benchmark_model on the device --use_xnnpack=true "
                              "--report_peak_memory_footprint=true") and "the tool's mean" in row["note"]


@pytest.mark.parametrize("argv,message", [
    (["m.tflite", "--device-flag=--use_xnnpack=true"], "--device-flag goes with --ssh or --adb"),
    (["m.tflite", "--adb", "--device-flag=use_xnnpack"], "look like --name=value"),
    (["m.tflite", "--adb", "--device-flag=--num_threads=8"], "set by this tool"),
])
def test_device_flags_are_checked_before_any_work(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        tool("benchmark")(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_adb_missing_is_one_line(flatbuffer, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert tool("benchmark")([str(flatbuffer), "--adb"]) == 1
    assert "adb not found on this machine" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    ([], "name at least one MODEL, or --suite, or --kernel"),
    (["x.tflite", "--threads", "0"], "thread counts must be >= 1"),
    (["x.tflite", "--kernels", "fast"], "unknown kernels fast"),
    (["--kernel", "--channels", "0"], "--channels must be >= 1"),
    (["x.tflite", "--ssh", "pi@host", "--adb"], "not allowed with argument"),
])
def test_flag_mistakes(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        tool("benchmark")(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_missing_or_bad_model_file(tmp_path, capsys):
    assert tool("benchmark")([str(tmp_path / "nope.tflite")]) == 2
    assert "model file not found" in capsys.readouterr().err
    (tmp_path / "bad.tflite").write_bytes(b"garbage")
    for where in ([], ["--ssh", "pi@192.0.2.1"]):  # checked here, before any device is asked
        assert tool("benchmark")([str(tmp_path / "bad.tflite")] + where) == 2
        assert "does not load as tflite" in capsys.readouterr().err


def test_suite_table_and_quality_plot(tmp_path, monkeypatch, capsys):
    main = tool("benchmark")
    monkeypatch.setattr(suite, "SUITE", (("bbcu-dn", "lce"),))  # the zoo takes minutes
    evaluation = tmp_path / "eval.json"
    evaluation.write_text(json.dumps({"results": {
        "bicubic": {"network": None, "sets": {"Set5": {"x4": {"psnr": 28.42}}}},
        "bbcu-dn (card)": {"network": "bbcu-dn", "sets": {"Set5": {"x4": {"psnr": 30.1}}}}}}))
    argv = ["--suite", "--input-size", "16x16", "--threads", "1", "--runs", "1", "--warmup", "0",
            "--quality", str(evaluation), "--out", str(tmp_path / "suite"), "--json", str(tmp_path / "s.json")]
    assert main(argv) == 0
    rows = json.loads((tmp_path / "s.json").read_text())["rows"]
    assert [(r["model"], r["backend"], r["psnr_db"]) for r in rows] == [
        ("bbcu-dn x1", f"LCE interpreter, {k} kernels", 30.1) for k in ("default", "indirect-bgemm")] + [
        ("bbcu-dn x1", "onnxruntime CPU", 30.1),
        ("bbcu-dn x1", "fast path (onnxruntime + bit-packed binary convs)", 30.1)]
    png = tmp_path / "suite" / "quality_latency.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "Set5 PSNR (dB)" in out and "How many times faster the fast path runs" in out
    best = bitpacked.available_isas()[-1]
    assert f"binary convolutions ran its {best} kernel" in out
    assert json.loads((tmp_path / "s.json").read_text())["fast_path_isa"] == best
    # the speedups are the medians' ratios; the float reference is not in this small zoo: "-"
    speedup = json.loads((tmp_path / "s.json").read_text())["speedups"]
    medians = {r["backend"]: r["median_ms"] for r in rows}
    fast = medians["fast path (onnxruntime + bit-packed binary convs)"]
    assert len(speedup) == 1 and speedup[0]["vs LCE default"] == pytest.approx(
        medians["LCE interpreter, default kernels"] / fast)
    assert speedup[0]["vs srresnet-fp x4 TFLite+XNNPACK"] is None and "| - |" in out


def test_kernel_mode(tmp_path, capsys):
    """--kernel: one binary conv on LCE, the fast path in onnxruntime and the bare kernel in
    each instruction set this CPU runs, with MACs/s/core against the popcount limit."""
    from lce_models.runtimes import bitpacked

    argv = ["--kernel", "--channels", "8", "--input-size", "12x10", "--threads", "1", "--runs", "2", "--warmup", "0",
            "--kernels", "indirect-bgemm", "--out", str(tmp_path), "--json", str(tmp_path / "k.json")]
    assert tool("benchmark")(argv) == 0
    report = json.loads((tmp_path / "k.json").read_text())
    assert [r["backend"] for r in report["rows"]] == [
        "LCE interpreter, indirect-bgemm kernels", "fast path (onnxruntime + bit-packed binary convs)"] + [
        f"bare kernel, {isa}" for isa in bitpacked.available_isas()]
    assert all(r["model"] == "binary conv 3x3 8->8" and r["input_size"] == "12x10" for r in report["rows"])
    assert [k["isa"] for k in report["kernel"]] == list(bitpacked.available_isas())
    assert all(k["binary_macs_per_s_per_core"] > 0 and k["popcount_limit_per_core"] > 0 for k in report["kernel"])
    assert len(report["speedups"]) == 2 and "% of this core's popcount limit" in capsys.readouterr().out


def test_profile_of_a_fast_path_file(tmp_path, capsys):
    """--profile: onnxruntime's time per op type, the binary convs among them."""
    from converters import fastpath
    from converters import onnx as onnx_export

    model = randomize_weights(build_model(NetworkConfig("bbcu-dn", depth=2)), seed=3)
    path = tmp_path / "bbcu-dn.bitpacked.onnx"
    path.write_bytes(fastpath.rewrite_checked(model, onnx_export.convert(model)).SerializeToString())
    argv = [str(path), "--threads", "1", "--runs", "2", "--warmup", "0", "--input-size", "16x16", "--profile",
            "--json", str(tmp_path / "p.json")]
    assert tool("benchmark")(argv) == 0
    (profile,) = json.loads((tmp_path / "p.json").read_text())["profiles"]
    assert profile["model"] == path.name and profile["ms_per_op_type"]["BinaryConv3x3"] > 0
    assert "onnxruntime profile of bbcu-dn.bitpacked.onnx, 1 threads" in capsys.readouterr().out
