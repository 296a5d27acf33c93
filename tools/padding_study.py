"""What the border padding of the binarized input costs in quality: train the same network
twice from the same initial weights, once per padding, and compare Y-PSNR on a test set.

A short proxy run for this machine (2 CPU cores), not the paper's 300k steps: its figures
compare the two paddings with each other, and are no claim about fully trained quality.
"""

import argparse
import sys

from lce_models import NetworkConfig, build_model, cli

import tf_keras as keras  # noqa: E402  (after lce_models, which selects Keras 2)
from lce_models.data import DATA_ROOT, SRPatches
from lce_models.evaluation import evaluate_sr, keras_upscaler
from lce_models.training import train
from lce_models.units import PADDINGS


@cli.main
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="bbcu-l")
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--depth", type=int, help="blocks (default: the network's)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr-patch", type=int, default=32, help="LR patch size")
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--train", default="T91,BSD200", help="folders under the shared train/")
    p.add_argument("--test", default="Set5")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    folders = [DATA_ROOT / "train" / name for name in args.train.split(",")]
    print(f"| network | padding | steps | final L1 | {args.test} x{args.scale} Y-PSNR (dB) |")
    print("| --- | --- | --- | --- | --- |")
    initial = None
    for padding in PADDINGS:
        keras.utils.set_random_seed(args.seed)
        config = NetworkConfig(args.model, args.scale, depth=args.depth, padding=padding)
        model = build_model(config)
        if initial is None:
            initial = model.get_weights()
        model.set_weights(initial)  # the paddings differ in nothing else
        patches = SRPatches(folders, args.scale, args.lr_patch, seed=args.seed)
        loss = train(model, patches, args.steps, args.batch_size, args.learning_rate)
        psnr = evaluate_sr(keras_upscaler(model), args.test, args.scale)["psnr"]
        print(f"| {model.name} depth {model.config.depth} | {padding} | {args.steps} | "
              f"{loss:.4f} | {psnr:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
