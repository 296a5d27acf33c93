"""The one compiled part: the bit-packed binary convolution of lce_models/runtimes/bitpacked/csrc,
built by the normal install (pip install -e .) with the machine's gcc; no download at build time."""

from pathlib import Path

from setuptools import Extension, setup

csrc = Path("lce_models/runtimes/bitpacked/csrc")
setup(ext_modules=[Extension("lce_models.runtimes.bitpacked._bconv", sorted(str(p) for p in csrc.glob("*.c")),
                             depends=[str(csrc / "bconv.h")],
                             extra_compile_args=["-O3", "-fopenmp", "-ffp-contract=off"], extra_link_args=["-fopenmp"])])
