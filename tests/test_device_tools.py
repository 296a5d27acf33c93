"""tools/check_device_tool.py: what a downloaded lce_benchmark_model or LCE AAR is built for,
the LCE ops it registers, and its SHA-256 against the one first recorded."""

import struct
import zipfile
from pathlib import Path

import larq_compute_engine
import pytest
from test_tools import tool

from converters.benchmarking import device_tools

LCE_LIBRARY = next((Path(larq_compute_engine.__file__).parent / "tflite" / "python").glob("*.so"))


def elf(machine=183, interpreter=b"/lib/ld-linux-aarch64.so.1", payload=b""):
    """A minimal 64-bit little-endian ELF: its header, one PT_INTERP program header, the
    interpreter's path, then ``payload`` (where a real binary's strings would be)."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 3, machine, 1, 0, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    path = interpreter + b"\0"
    program = struct.pack("<IIQQQQQQ", 3, 4, 120, 0, 0, len(path), len(path), 1)
    return header + program + path + payload


OPS = b"\0".join(op.encode() for op in device_tools.LCE_OPS)


def test_lce_pip_library_is_read_as_x86_64_with_its_ops(tmp_path):
    """The x86-64 interpreter library of pip's larq-compute-engine: a real build of LCE's ops."""
    result = device_tools.check(LCE_LIBRARY, tmp_path / "registry.json")
    (facts,) = result.facts
    assert (facts.machine, facts.bits, facts.android) == ("x86-64", 64, False)
    assert facts.lce_ops == list(device_tools.LCE_OPS) and facts.glibc.startswith("GLIBC_2.")
    assert result.problems == ["built for x86-64, not for an ARM device"]


def test_an_aarch64_binary_is_usable_until_it_changes(tmp_path, capsys):
    binary = tmp_path / "lce_benchmark_model_aarch64"
    binary.write_bytes(elf(payload=OPS))
    main = tool("check_device_tool")
    assert main([str(binary)]) == 0
    out = capsys.readouterr().out
    assert "64-bit aarch64 ELF for Linux; LCE ops: LceBconv2d, LceQuantize" in out and "usable" in out
    assert main([str(binary)]) == 0  # the same file again: the recorded sum matches
    binary.write_bytes(elf(payload=OPS + b"\0patched"))
    assert main([str(binary)]) == 1
    assert "the file changed" in capsys.readouterr().out


def test_a_tool_without_lce_ops_or_for_another_machine_is_not_usable(tmp_path):
    plain = tmp_path / "benchmark_model"
    plain.write_bytes(elf())
    assert device_tools.check(plain, tmp_path / "r.json").problems == [
        "does not register LceBconv2d, LceQuantize, LceDequantize: not LCE's benchmark tool"]
    arm32 = tmp_path / "lce_benchmark_model_aarch32"
    arm32.write_bytes(elf(machine=40, interpreter=b"/lib/ld-linux-armhf.so.3", payload=OPS))
    assert device_tools.check(arm32, tmp_path / "r.json").facts[0].machine == "arm (32-bit)"


def aar(path, libraries):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("AndroidManifest.xml", "<manifest/>")
        z.writestr("classes.jar", b"PK\x05\x06" + bytes(18))
        for name, data in libraries.items():
            z.writestr(name, data)
    return path


def test_an_aar_needs_an_arm64_library_with_lce_ops(tmp_path):
    android = elf(interpreter=b"/system/bin/linker64", payload=OPS)
    good = aar(tmp_path / "lce-lite-v0.16.0.aar", {"jni/arm64-v8a/libtensorflowlite_jni.so": android,
                                                   "jni/x86_64/libtensorflowlite_jni.so": elf(62, payload=OPS)})
    result = device_tools.check(good, tmp_path / "r.json")
    assert result.ok and [f.line().split(":")[0] for f in result.facts] == [
        "jni/arm64-v8a/libtensorflowlite_jni.so", "jni/x86_64/libtensorflowlite_jni.so"]
    assert result.facts[0].android and "for Android" in result.facts[0].line()
    bad = aar(tmp_path / "other.aar", {"jni/x86_64/libtensorflowlite_jni.so": elf(62, payload=OPS)})
    assert device_tools.check(bad, tmp_path / "r.json").problems == [
        "no jni/arm64-v8a/ library: nothing for a 64-bit phone"]


@pytest.mark.parametrize("content", [b"#!/bin/sh\necho hi\n", b"\x7fELF\x02\x01garbage"])
def test_other_files_are_one_line(tmp_path, content, capsys):
    path = tmp_path / "lce_benchmark_model"
    path.write_bytes(content)
    assert tool("check_device_tool")([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
