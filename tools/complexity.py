"""Print Params and OPs of every network the way the binary-SR papers count them, beside the
papers' own figures where they give them.

BBCU's convention (its Table 1): OPs = FLOPs + BOPs/64, Params = float + binary/32.
BSRN's convention (its Table 3): all multiply-accumulates and all trainable parameters at
full count, binary or not. Both at a 320x180 LR input (a 1280x720 x4 output).
"""

import sys

from lce_models import cli
from lce_models.models import NETWORKS, NetworkConfig, build_model
from lce_models.models.complexity import PAPER_INPUT, count

# BBCU paper (Xia et al., ICLR 2023), Table 1: (OPs in G, Params in K).
PAPER_TABLE_1 = {
    ("bbcu-l", 4): (79.20, 372),
    ("bbcu-m", 4): (3.95, 51),
    ("bbcu-l", 2): (18.55, 225),
    ("bbcu-m", 2): (1.83, 46),
}
# BSRN paper (Xin et al., ECCV 2020), Table 3: (MACs in G, Params in K).
PAPER_TABLE_3 = {
    ("bsrn", 4): (85.0, 1216),
    ("srresnet-bam", 4): (127.9, 1547),
}


def paper(table, key, unit_a, unit_b):
    figures = table.get(key)
    return f"{figures[0]:g} {unit_a} / {figures[1]} {unit_b}" if figures else "-"


@cli.main
def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--models", default=",".join(NETWORKS), help="comma-separated network names")
    p.add_argument("--input-size", type=cli.size, default=PAPER_INPUT, metavar="HxW",
                   help="LR input (default 180x320, the papers')")
    args = p.parse_args(argv)
    names = args.models.split(",")
    unknown = [name for name in names if name not in NETWORKS]
    if unknown:
        raise cli.UserError(f"unknown network {unknown[0]!r}; choose from {', '.join(NETWORKS)}")
    print("| network | scale | OPs (G) | Params (K) | binarized MACs | BBCU Table 1 OPs / Params "
          "| MACs (G) | trainable params (K) | BSRN Table 3 MACs / Params |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        for scale in NETWORKS[name].scales:
            c = count(build_model(NetworkConfig(name, scale), args.input_size, batch_size=1))
            print(f"| {name} | x{scale} | {c.ops / 1e9:.2f} | {c.params / 1e3:.1f} | "
                  f"{c.binarized_ops_share:.1%} | {paper(PAPER_TABLE_1, (name, scale), 'G', 'K')} | "
                  f"{c.macs / 1e9:.2f} | {c.trainable_params / 1e3:.1f} | "
                  f"{paper(PAPER_TABLE_3, (name, scale), 'G', 'K')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
