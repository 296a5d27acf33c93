"""What the border padding of the binarized input costs in quality: train the same network
twice from the same initial weights, once per padding, and compare Y-PSNR on a test set.

A short proxy run for this machine (2 CPU cores), not the paper's 300k steps: its figures
compare the two paddings with each other, and are no claim about fully trained quality.
"""

import argparse
import sys
from pathlib import Path

from lce_models import cli
from lce_models.data.degradations import Degradation
from lce_models.data.images import training_folders
from lce_models.evaluation.protocol import evaluate, keras_restorer
from lce_models.models import NetworkConfig
from lce_models.models.units import PADDINGS
from lce_models.training.plan import TrainingPlan
from lce_models.training.trainer import train


@cli.main
def main(argv=None):
    p = cli.parser(__doc__)
    p.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    p.add_argument("--model", default="bbcu-l")
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--depth", type=int, help="blocks (default: the network's)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--patch", type=int, default=32, help="LR patch size")
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--train", default="T91,BSD200", help="folders, or sets under the shared train/")
    p.add_argument("--test", default="Set5")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/padding_study", help="one run folder per padding in here")
    args = p.parse_args(argv)
    plan = TrainingPlan(steps=args.steps, batch_size=args.batch_size, patch=args.patch,
                        learning_rate=args.learning_rate, seed=args.seed, milestones=(),
                        validate_every=args.steps + 1, validation_set=args.test,
                        data=training_folders(args.train))
    print(f"| network | padding | steps | final L1 | {args.test} x{args.scale} Y-PSNR (dB) |")
    print("| --- | --- | --- | --- | --- |")
    for padding in PADDINGS:
        # the same seed draws the same initial weights and patches: the paddings differ in
        # nothing else
        config = NetworkConfig(args.model, args.scale, depth=args.depth, padding=padding).resolved()
        degradation = Degradation("sr", args.scale)
        summary = train(Path(args.out) / padding, config, degradation, plan)
        psnr = evaluate(keras_restorer(summary["model"]), args.test, degradation)["psnr"]
        print(f"| {args.model} depth {config.depth} | {padding} | {args.steps} | "
              f"{summary['last_loss']:.4f} | {psnr:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
