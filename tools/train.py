"""Train a network on folders of images; rerun the same command to resume after a stop.

L1 loss, Adam (betas 0.9 / 0.99), learning rate x gamma at each milestone: the BBCU
reference's settings, all overridable. Patches are cropped, flipped, rotated and degraded on
the fly (bicubic xS / Gaussian noise sigma / JPEG quality q). The run folder (--out) gets
checkpoints/ (resume), logs/ (tensorboard --logdir OUT/logs), and the model cards latest.json
and best.json (highest validation PSNR) with their weights, which evaluate.py and convert.py
read. Several GPUs are used through MirroredStrategy, several machines through TF_CONFIG.

Examples:
  python tools/train.py --model bbcu-l --scale 4 --steps 300000
  python tools/train.py --model bbcu-dn --sigma 25 --out runs/dn25
  python tools/train.py --model bbcu-car --quality 10
  python tools/train.py --model bsrn --scale 4 --init lce_models/weights/bsrn_x4.json --steps 3000
  python tools/train.py --model bsrn --scale 4 --variant w2
  python tools/train.py --model bbcu-att --unit-option attention=spatial --unit-option estimator=ede
"""

import argparse
import math
import sys
from pathlib import Path

from lce_models import cli
from lce_models.data.degradations import Degradation
from lce_models.data.images import training_folders
from lce_models.models import NETWORKS
from lce_models.models.registry import GLOBAL_RESIDUALS
from lce_models.runtimes.loader import network_config
from lce_models.training.plan import TrainingPlan
from lce_models.training.trainer import SetupError, train

LEVEL_FLAG = {"sr": "scale", "denoise": "sigma", "jpeg": "quality"}


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


@cli.main
def main(argv=None):
    d = TrainingPlan()
    p = cli.parser(__doc__)
    net = p.add_argument_group("network")
    net.add_argument("--model", default="bbcu-l", choices=list(NETWORKS), help="network (default bbcu-l)")
    cli.add_network_flags(net, "--scale", scale=dict(default=4, help="SR scale (default 4)"))
    net.add_argument("--sigma", type=float, default=25, help="noise level of bbcu-dn on 0-255 (default 25)")
    net.add_argument("--quality", type=int, default=10, help="JPEG quality of bbcu-car (default 10)")
    cli.add_network_flags(net, "--variant", "--bam-option", "--unit-option", "--padding")
    net.add_argument("--depth", type=positive, help="blocks (default: the network's)")
    net.add_argument("--k", type=float,
                     help="residual alignment: the image is multiplied by k at the input and divided "
                          "at the output (default 130 * n_feats / 64 for BBCU v3/v4, else 1)")
    net.add_argument("--global-residual", choices=GLOBAL_RESIDUALS,
                     help="SR output = prediction + bilinear upscaled input, or prediction alone "
                          "(default bilinear; none is the BAM papers' EDSR-style network)")
    net.add_argument("--n-feats", type=positive, help="feature channels (default: the network's, 64 or 48)")
    run = p.add_argument_group("training")
    run.add_argument("--train", default="T91,BSD200",
                     help="comma-separated image folders, or set names under the shared train/ "
                          "(default T91,BSD200, the '291' set)")
    run.add_argument("--out", help="run folder (default runs/<model>_<level>)")
    run.add_argument("--init", metavar="CARD",
                     help="start from a model card's weights and step count (a shipped model, to "
                          "train it further): the schedule and patch order go on from its step, Adam "
                          "starts afresh; give the card's network flags too. Read only when the run "
                          "folder has no checkpoint yet")
    run.add_argument("--steps", type=positive, default=d.steps, help=f"default {d.steps}")
    run.add_argument("--batch-size", type=positive, default=d.batch_size, help=f"global batch (default {d.batch_size})")
    run.add_argument("--patch", type=positive, default=d.patch,
                     help=f"input (LR) patch side in pixels (default {d.patch})")
    run.add_argument("--learning-rate", type=float, default=d.learning_rate, help=f"default {d.learning_rate:g}")
    run.add_argument("--milestones", default=",".join(map(str, d.milestones)),
                     help="steps at which the learning rate is multiplied by --gamma (default 200000)")
    run.add_argument("--gamma", type=float, default=d.gamma, help=f"default {d.gamma}")
    run.add_argument("--val", default=d.validation_set, help="validation set (default Set5)")
    run.add_argument("--val-every", type=positive, default=d.validate_every, help=f"steps (default {d.validate_every})")
    run.add_argument("--save-every", type=positive, default=d.save_every,
                     help=f"checkpoint every this many steps (default {d.save_every})")
    run.add_argument("--seed", type=int, default=d.seed, help="initial weights and patches (default 0)")
    run.add_argument("--deterministic", action="store_true",
                     help="deterministic TensorFlow ops: a resumed run then matches an unbroken one bit for bit")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)

    task = NETWORKS[args.model].task
    level = getattr(args, LEVEL_FLAG[task])
    try:
        degradation = Degradation(task, level)
        milestones = tuple(int(m) for m in args.milestones.split(",") if m)
        if list(milestones) != sorted(set(milestones)) or (milestones and milestones[0] < 1):
            raise ValueError("milestones must be increasing positive steps")
    except ValueError as e:
        raise cli.UserError(f"bad --{LEVEL_FLAG[task]} or --milestones: {e}") from None
    config = network_config(args.model, args.scale, n_feats=args.n_feats, depth=args.depth, k=args.k,
                            global_residual=args.global_residual, **cli.network_fields(args))
    plan = TrainingPlan(steps=args.steps, batch_size=args.batch_size, patch=args.patch,
                        learning_rate=args.learning_rate, milestones=milestones, gamma=args.gamma,
                        seed=args.seed, validate_every=args.val_every, save_every=args.save_every,
                        validation_set=args.val, data=training_folders(args.train))
    out = Path(args.out or f"runs/{args.model}_{degradation.label.replace(' ', '')}")
    try:
        summary = train(out, config, degradation, plan, progress=not args.no_progress,
                        deterministic=args.deterministic, init=args.init)
    except SetupError as e:
        raise cli.UserError(str(e)) from None
    except FloatingPointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    done = plan.steps - summary["start_step"]
    if done:
        rate = summary["steps_per_second"] or math.nan
        psnr = summary["validation_psnr"]  # None on workers other than the chief
        print(f"{done} steps ({rate:.3g} steps/s after the first), final L1 {summary['last_loss']:.4f}"
              + (f", {plan.validation_set} PSNR {psnr:.2f} dB (best {summary['best_psnr']:.2f})"
                 if psnr is not None else ""))
    else:
        print(f"{out} is already trained to step {plan.steps}; raise --steps to go on")
    cards = [str(out / f"{name}.json") for name in ("latest", "best") if (out / f"{name}.json").is_file()]
    # with --init, best.json exists only once the run beats the card it started from
    print(f"model cards: {', '.join(cards)}" if cards else f"no model card in {out} yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
