"""Check a downloaded lce_benchmark_model binary or LCE Android AAR before it goes to a device.

Says what each FILE is built for (64-bit ARM Linux, 32-bit ARM, Android; the newest glibc it
needs, to compare with `ldd --version` on the board), which LCE ops it registers, and its
SHA-256, recorded the first time a file is checked (in ~/.cache/lce_models/device_tools.json)
and compared every time after. Exit status 1 when a file is not usable: built for another
machine, without LCE's ops, or changed since it was first checked. docs/deploy.md says which
release assets match this toolkit's converter.

Examples:
  python tools/check_device_tool.py ~/Downloads/lce_benchmark_model_aarch64
  python tools/check_device_tool.py android_demo/app/libs/tensorflow-lite-lce.aar
"""

import sys

from lce_models import cli

from converters.benchmarking import device_tools


@cli.main
def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("files", nargs="+", metavar="FILE", help="a downloaded binary or .aar")
    args = p.parse_args(argv)
    status = 0
    for path in args.files:
        result = device_tools.check(path)
        print(f"{result.path}: sha256 {result.sha256}")
        for facts in result.facts:
            print(f"  {facts.line()}")
        for problem in result.problems:
            print(f"  problem: {problem}")
        print(f"  {'usable' if result.ok else 'NOT usable'}")
        status = status or (0 if result.ok else 1)
    return status


if __name__ == "__main__":
    sys.exit(main())
