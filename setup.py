"""The one compiled part: the bit-packed binary convolution of lce_models/runtimes/bitpacked,
built by the normal install (pip install -e .) with the machine's gcc; no download at build time."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("lce_models.runtimes.bitpacked._bconv", ["lce_models/runtimes/bitpacked/bconv.c"],
                             extra_compile_args=["-O3", "-fopenmp", "-ffp-contract=off"], extra_link_args=["-fopenmp"])])
