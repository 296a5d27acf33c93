"""Visual comparison of SR models: the same crops enlarged by bicubic and by each model, and HR.

Each model (Keras, shipped weights or a model card) enlarges the whole LR test image and the
crop is cut from the result; panels carry the crop's Y PSNR against HR. Crops are given in
HR pixels as SET/IMAGE@Y,X,SIZE.

Examples:
  python tools/compare.py                                    # -> docs/comparison.png
  python tools/compare.py --models bbcu-l,runs/x/best.json --crop Set5/butterfly@60,60,96 -o c.png
"""

import sys

from lce_models import cli
from lce_models.evaluation.comparison import Crop, figure, panels
from lce_models.evaluation.protocol import bicubic, keras_restorer
from lce_models.files import atomic_path
from lce_models.models import model_card
from lce_models.runtimes import loader

DEFAULT_CROPS = ("Set14/ppt3@240,30,120", "B100/253027@100,190,120")


def models(spec, scale):
    """[(label, Keras model)] of --models, default every shipped SR model of ``scale``."""
    cards = ([loader.card(item, scale, sr_only=True) for item in spec.split(",")] if spec
             else model_card.shipped_cards(scale, tasks=("sr",)))
    if not cards:
        raise cli.UserError(f"no SR model of scale {scale} ships yet; pass --models")
    out = []
    for card in cards:
        model = model_card.load(card)
        if model.config.scale != scale:
            raise cli.UserError(f"{card} holds a x{model.config.scale} model, not x{scale}")
        shipped = card.parent == model_card.WEIGHTS_DIR
        out.append((model.config.name if shipped else card.stem, model))
    return out


@cli.main
def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--models", help="comma-separated SR network names (shipped weights) or model cards "
                                    "(default: every shipped SR model of --scale)")
    p.add_argument("--scale", type=int, choices=(2, 3, 4), default=4, help="SR scale (default 4)")
    p.add_argument("--crop", action="append", type=str,
                   help=f"SET/IMAGE@Y,X,SIZE in HR pixels, repeatable (default {' and '.join(DEFAULT_CROPS)})")
    p.add_argument("--zoom", type=int, default=2, help="pixel enlargement of the panels (default 2)")
    p.add_argument("-o", "--out", default="docs/comparison.png", help="PNG to write (default docs/comparison.png)")
    args = p.parse_args(argv)
    try:
        crops = [Crop.parse(c) for c in args.crop or DEFAULT_CROPS]
    except ValueError as e:
        raise cli.UserError(str(e)) from None
    methods = [("bicubic", bicubic(args.scale))]
    methods += [(label, keras_restorer(m)) for label, m in models(args.models, args.scale)]
    rows = []
    for crop in crops:
        try:
            rows.append(panels(crop, methods, args.scale))
        except ValueError as e:
            raise cli.UserError(str(e)) from None
        print(f"{crop}: " + ", ".join(label for label, _ in rows[-1]))
    with atomic_path(args.out) as tmp:
        figure(rows, args.zoom).save(tmp, format="PNG")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
