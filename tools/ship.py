"""Ship a trained run: copy its best model card and weights to lce_models/weights/; or ship a
model card as it is (tools/import_torch.py's card of a PyTorch run, which carries its hours).

The copy is named <network>_x<scale>.json (+ _weights.h5), the name every tool looks for when
given a bare network name (convert.py, evaluate.py, upscale.py, benchmark.py, results.py), and
its card gains the hours the training loop ran, summed over the sessions that resumed it (from
the run's TensorBoard logs). A shipped model replaces the one before it of the same network
and scale.

Examples:
  python tools/ship.py training/bbcu-l_x4
  python tools/ship.py runs/my_run --card latest --dest /tmp/weights
  python tools/ship.py imported/bbcu-l_x2.json
"""

import sys
from pathlib import Path

from lce_models import cli
from lce_models.models import model_card
from lce_models.training.trainer import wall_hours


@cli.main
def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("run", help="run folder of tools/train.py, or a model card .json")
    p.add_argument("--card", choices=("best", "latest"), default="best",
                   help="best (highest validation PSNR, default) or latest")
    p.add_argument("--dest", default=str(model_card.WEIGHTS_DIR),
                   help="folder of the shipped weights (default lce_models/weights)")
    args = p.parse_args(argv)
    run = Path(args.run)
    if run.suffix.lower() == ".json" and run.is_file():
        card = model_card.ship(run, None, args.dest)  # its hours are in its training record
    elif run.is_dir():
        card = model_card.ship(run / f"{args.card}.json", wall_hours(run), args.dest)
    else:
        raise cli.UserError(f"no run folder or model card {run}")
    _, weights, info = model_card.read(card)
    training, validation = info.get("training", {}), info.get("validation")
    quality = f", {validation['set']} PSNR {validation['psnr']:.2f} dB" if validation else ""
    print(f"{card} ({weights.stat().st_size / 2**20:.1f} MiB of weights): step "
          f"{training.get('steps')}, {training.get('hours')} h of training{quality}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
