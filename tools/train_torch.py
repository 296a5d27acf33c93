"""Train a BBCU network's PyTorch twin, on a CUDA GPU when there is one, else on the CPU;
rerun the same command to resume after a stop.

Needs PyTorch (requirements-torch.txt), NumPy, Pillow and tqdm, but not TensorFlow: it runs on
a GPU machine that has only PyTorch. The data semantics are tools/train.py's (random image,
crop, rotation, flip, then bicubic xS / Gaussian noise sigma / JPEG quality q; L1, Adam with
betas 0.9 / 0.99, learning rate x gamma at each milestone), drawn from torch's generator.

On CUDA the images are decoded once into GPU memory and every batch is cut, turned and degraded
there (JPEG alone is encoded on the host), and the forward pass runs under bfloat16 autocast in
channels-last layout (--precision, --channels-last; --compile adds torch.compile). --minutes
gives a wall-clock budget: the run stops after the step that passes it and leaves a checkpoint
that resumes exactly.

The run folder (--out) gets net_g_latest.pth, a checkpoint in the reference code's layout that
carries its training record (device, steps, images seen, hours), state.pt to resume, and
log.jsonl (loss, learning rate, steps/s, images/s). Bring
net_g_latest.pth home and import it:
  python tools/import_torch.py OUT/net_g_latest.pth --model bbcu-l --scale 4 --out imported

Examples:
  python tools/train_torch.py --model bbcu-l --scale 4 --steps 300000 --out runs/torch_bbcu-l_x4
  python tools/train_torch.py --model bbcu-dn --sigma 25 --batch-size 16 --patch 40
  python tools/train_torch.py --model bbcu-m --train /data/DIV2K_HR --device cuda:1
  python tools/train_torch.py --model bbcu-l --scale 2 --minutes 9
"""

import sys
from pathlib import Path

from lce_models import cli

cli.require("torch", "PyTorch", "requirements-torch.txt")

from lce_models.data.images import training_folders  # noqa: E402  (after the check for PyTorch)
from lce_models.torch_twin import runs, training  # noqa: E402  (after the check for PyTorch)
from lce_models.torch_twin.modules import NETWORKS, PADDINGS  # noqa: E402  (after the check for PyTorch)
from lce_models.training.plan import TrainingPlan  # noqa: E402  (after the check for PyTorch)


def parse(argv):
    p = cli.parser(__doc__)
    p.add_argument("--model", choices=NETWORKS, default="bbcu-l", help="network (default bbcu-l)")
    p.add_argument("--scale", type=int, choices=(2, 3, 4), default=4, help="SR scale (default 4)")
    p.add_argument("--sigma", type=float, default=25, help="noise level of bbcu-dn on 0-255 (default 25)")
    p.add_argument("--quality", type=int, default=10, help="JPEG quality of bbcu-car (default 10)")
    p.add_argument("--padding", choices=PADDINGS, default="zero", help="binarized-input border (default zero)")
    p.add_argument("--k", type=float, help="residual alignment factor (default 130)")
    p.add_argument("--out", help="run folder (default runs/torch_<model>_<level>)")
    p.add_argument("--learning-rate", type=float, default=1e-4, help="default 0.0001")
    p.add_argument("--milestones", default="200000", help="comma-separated steps (default 200000; '' for none)")
    p.add_argument("--gamma", type=float, default=0.5, help="default 0.5")
    p.add_argument("--seed", type=int, default=0, help="initial weights and patches (default 0)")
    p.add_argument("--minutes", type=float,
                   help="wall-clock budget: stop after the step that passes it, with a checkpoint that resumes "
                        "exactly (default: none, train to --steps)")
    runs.add_run_flags(p)
    args = p.parse_args(argv)
    runs.check_run_flags(p, args)
    try:
        args.milestones = tuple(int(m) for m in args.milestones.split(",") if m.strip())
    except ValueError:
        p.error(f"--milestones must be comma-separated steps, not {args.milestones!r}")
    return args


def main(argv=None):
    args = parse(argv)
    task = NETWORKS[args.model]["task"]
    level = {"sr": args.scale, "denoise": args.sigma, "jpeg": args.quality}[task]
    try:
        network, task = runs.network_dict(args.model, level, args.padding, args.depth, args.n_feats, args.k)
        folders = training_folders(args.train)
        out = Path(args.out or f"runs/torch_{args.model}_{level:g}")
        plan = TrainingPlan(steps=args.steps, batch_size=args.batch_size, patch=args.patch,
                            learning_rate=args.learning_rate, milestones=args.milestones, gamma=args.gamma,
                            seed=args.seed, save_every=args.save_every, data=tuple(str(f) for f in folders))
        latest = training.train(out, network, task, level, plan, args.device, not args.no_progress, args.minutes,
                                runs.speed_of(args))
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"wrote {latest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
