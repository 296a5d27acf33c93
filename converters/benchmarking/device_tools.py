"""Checks of a downloaded ``lce_benchmark_model`` binary or LCE Android AAR before it goes to a
device: what it is built for (ELF class and machine, Linux/glibc or Android), the newest glibc
symbol version it needs, which LCE ops it registers (their names are strings in the binary,
passed to TFLite's ``AddCustom``), and that its SHA-256 is the one recorded when it was first
checked. Release assets of LCE v0.16.0 (its release workflow): ``lce_benchmark_model_aarch64``
(64-bit Linux), ``lce_benchmark_model_aarch32`` (32-bit Raspberry Pi OS),
``lce_benchmark_model_android_arm64`` and the AAR ``lce-lite-<tag>.aar``."""

import datetime
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from lce_models.errors import UserError
from lce_models.files import atomic_write

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from converters.cache import USER_CACHE

#: The custom ops LCE v0.16.0 registers (lce_ops_register.h); a tool without the first three
#: cannot run a converted binary network.
LCE_OPS = ("LceBconv2d", "LceQuantize", "LceDequantize", "LceBMaxPool2d")
REQUIRED_OPS = LCE_OPS[:3]
#: Where first-seen SHA-256 sums are kept, by absolute path.
REGISTRY = USER_CACHE / "device_tools.json"
#: ELF machines by the names a user knows them by.
MACHINES = {"EM_AARCH64": "aarch64", "EM_ARM": "arm (32-bit)", "EM_X86_64": "x86-64", "EM_386": "x86"}


@dataclass
class ElfFacts:
    """What an ELF file is built for."""

    name: str
    machine: str
    bits: int
    interpreter: str | None
    glibc: str | None  # newest GLIBC_x.y symbol version it needs
    android: bool
    lce_ops: list = field(default_factory=list)

    def line(self):
        glibc = "Linux, glibc >= " + self.glibc.removeprefix("GLIBC_") if self.glibc else "Linux"
        system = "Android" if self.android else glibc
        ops = ", ".join(self.lce_ops) or "none"
        return f"{self.name}: {self.bits}-bit {self.machine} ELF for {system}; LCE ops: {ops}"


def _version(name):
    return tuple(int(p) for p in name.removeprefix("GLIBC_").split("."))


def elf_facts(name, data):
    """``ElfFacts`` of the ELF file in ``data`` (bytes); ``UserError`` if it is not one."""
    try:
        elf = ELFFile(io.BytesIO(data))
        interpreter = next((s.get_interp_name() for s in elf.iter_segments() if s["p_type"] == "PT_INTERP"), None)
        needed = set()
        for section in elf.iter_sections():
            if section["sh_type"] == "SHT_GNU_verneed":
                needed |= {aux.name for _, auxes in section.iter_versions() for aux in auxes
                           if re.fullmatch(r"GLIBC_\d+(\.\d+)*", aux.name)}
        android = (interpreter or "").startswith("/system/bin/linker") or elf.get_section_by_name(
            ".note.android.ident") is not None
        machine = MACHINES.get(elf["e_machine"], elf["e_machine"])
    except (ELFError, ValueError, KeyError) as e:
        raise UserError(f"{name}: not a readable ELF file ({e})") from None
    return ElfFacts(name, machine, elf.elfclass, interpreter, max(needed, key=_version, default=None), android,
                    [op for op in LCE_OPS if op.encode() in data])


@dataclass
class Check:
    """The outcome of checking one file: facts to print, problems that make it unusable."""

    path: Path
    sha256: str
    facts: list
    problems: list

    @property
    def ok(self):
        return not self.problems


def _check_binary(path, data):
    facts = [elf_facts(path.name, data)]
    missing = [op for op in REQUIRED_OPS if op not in facts[0].lce_ops]
    problems = [f"does not register {', '.join(missing)}: not LCE's benchmark tool"] if missing else []
    if facts[0].machine not in ("aarch64", "arm (32-bit)"):
        problems.append(f"built for {facts[0].machine}, not for an ARM device")
    return facts, problems


def _check_aar(path, data):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        libraries = {n: archive.read(n) for n in names if re.fullmatch(r"jni/[^/]+/[^/]+\.so", n)}
    except (zipfile.BadZipFile, OSError) as e:
        raise UserError(f"{path}: a damaged zip archive ({e})") from None
    problems = [f"no {n} (an AAR has one)" for n in ("AndroidManifest.xml", "classes.jar") if n not in names]
    facts = [elf_facts(n, so) for n, so in sorted(libraries.items())]
    arm64 = [f for f in facts if f.name.startswith("jni/arm64-v8a/")]
    if not arm64:
        problems.append("no jni/arm64-v8a/ library: nothing for a 64-bit phone")
    elif not any(all(op in f.lce_ops for op in REQUIRED_OPS) for f in arm64):
        problems.append(f"its arm64-v8a library does not register {', '.join(REQUIRED_OPS)}: not LCE's AAR")
    return facts, problems


def check(path, registry=None):
    """Check a downloaded binary or AAR at ``path``; records its SHA-256 on first use and adds a
    problem when it changed since. ``UserError`` for a file that is neither."""
    path, registry = Path(path), Path(registry or REGISTRY)
    data = path.read_bytes()
    if data[:4] == b"\x7fELF":
        facts, problems = _check_binary(path, data)
    elif data[:4] == b"PK\x03\x04":
        facts, problems = _check_aar(path, data)
    else:
        raise UserError(f"{path}: neither an ELF binary nor an AAR (zip) file")
    digest = hashlib.sha256(data).hexdigest()
    known = json.loads(registry.read_text()) if registry.is_file() else {}
    key = str(path.resolve())
    if key in known and known[key]["sha256"] != digest:
        problems.append(f"SHA-256 {digest} differs from {known[key]['sha256']}, recorded when first checked on "
                        f"{known[key]['first_checked']}: the file changed")
    elif key not in known:
        known[key] = {"sha256": digest, "first_checked": datetime.date.today().isoformat()}
        atomic_write(registry, json.dumps(known, indent=2) + "\n")
    return Check(path, digest, facts, problems)
