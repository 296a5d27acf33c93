"""Print Params and OPs of every network the way the binary-SR papers count them
(OPs = FLOPs + BOPs/64, Params = float + binary/32, LR input 320x180), beside the figures
of the BBCU paper's Table 1 where it gives them."""

import argparse
import sys

from lce_models import NETWORKS, NetworkConfig, build_model, cli
from lce_models.complexity import PAPER_INPUT, count

# BBCU paper (Xia et al., ICLR 2023), Table 1: (OPs in G, Params in K).
PAPER_TABLE_1 = {
    ("bbcu-l", 4): (79.20, 372),
    ("bbcu-m", 4): (3.95, 51),
    ("bbcu-l", 2): (18.55, 225),
    ("bbcu-m", 2): (1.83, 46),
}


@cli.main
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--models", default=",".join(NETWORKS), help="comma-separated network names")
    p.add_argument("--input-size", type=cli.size, default=PAPER_INPUT, metavar="HxW")
    args = p.parse_args(argv)
    print("| network | scale | OPs (G) | Params (K) | binarized MACs | paper OPs / Params |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.models.split(","):
        spec = NETWORKS.get(name)
        if spec is None:
            raise cli.UserError(f"unknown network {name!r}; choose from {', '.join(NETWORKS)}")
        for scale in spec.scales:
            model = build_model(NetworkConfig(name, scale), args.input_size, batch_size=1)
            c = count(model)
            paper = PAPER_TABLE_1.get((name, scale))
            paper = f"{paper[0]:.2f} G / {paper[1]} K" if paper else "-"
            print(f"| {name} | x{scale} | {c.ops / 1e9:.2f} | {c.params / 1e3:.1f} | "
                  f"{c.binarized_ops_share:.1%} | {paper} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
