"""Import a PyTorch BBCU checkpoint (the reference code's, or tools/train_torch.py's) as a
verified Keras model card that every tool of this toolkit reads.

The checkpoint's tensors are mapped onto the Keras network (kernels to HWIO, the channels in
front of a pixel shuffle reordered for depth_to_space, shifts and PReLU slopes reshaped); then
the PyTorch twin holding the checkpoint and the Keras model are compared unit by unit on
random inputs (max |diff| <= 1e-4) and whole on a photograph (PSNR >= 50 dB). Only then are
DIR/<network>_x<scale>.json and its _weights.h5 written (atomically), the card naming the
checkpoint, its SHA-256 and the figures.

Checkpoints: BasicSR's {"params_ema" / "params": state dict} (the EMA is taken when present;
--key picks), or a bare state dict (KAIR's denoisers); loaded with weights_only, never
unpickling arbitrary objects. Exit 2 (nothing written) for a missing file, an unreadable
checkpoint, or missing, unexpected or mis-shaped tensors, each named; exit 1 if a check fails.

Examples:
  python tools/import_torch.py net_g_300000.pth --model bbcu-l --scale 4 --out imported
  python tools/import_torch.py dncnn_bin.pth --model bbcu-dn --out imported
  python tools/convert.py --model imported/bbcu-l_x4.json --to tflite
"""

import hashlib
import sys
from pathlib import Path

from lce_models import cli

cli.require("torch", "PyTorch", "requirements-torch.txt")

from lce_models.models import NetworkConfig, build_model, model_card  # noqa: E402  (after the check for PyTorch)
from lce_models.torch_twin import checkpoint, mapping, modules, verify  # noqa: E402  (after the check for PyTorch)

import torch  # noqa: E402  (after the check for PyTorch)


@cli.main
def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("checkpoint", help="the .pth file")
    p.add_argument("--model", default="bbcu-l", help=f"network: {', '.join(modules.NETWORKS)} (default bbcu-l)")
    p.add_argument("--scale", type=int, help="SR scale (default 4; none for bbcu-dn / bbcu-car)")
    p.add_argument("--channels", type=int, choices=(1, 3), help="image channels (default: the network's)")
    p.add_argument("--padding", choices=("zero", "one"), default="zero",
                   help="border of the binarized input the checkpoint was trained with (the reference: zero)")
    p.add_argument("--k", type=float, help="residual-alignment factor it was trained with (default 130)")
    p.add_argument("--key", help="the checkpoint's key of the state dict (default params_ema, else params)")
    p.add_argument("--out", default="imported", help="folder for the card and weights (default imported)")
    p.add_argument("--image", help="photograph for the whole-network check (default: a Set14 image)")
    args = p.parse_args(argv)

    try:
        config = mapping.check_config(NetworkConfig(args.model, args.scale, channels=args.channels,
                                                    padding=args.padding, k=args.k))
        state, key, loaded = checkpoint.read(args.checkpoint, args.key)
        model = build_model(config)
        mapping.state_dict_to_keras(state, model, config)
        twin = mapping.build_twin(config)
        twin.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    except (mapping.TwinError, checkpoint.CheckpointError) as e:
        raise cli.UserError(str(e)) from None
    figures = verify.verify(model, twin, config, image=args.image)
    net = figures["network"]
    print(f"units: {figures['units']}, max |Keras - PyTorch| {figures['units_max_abs_diff']:.2e} "
          f"({figures['worst_unit']}); whole network on a photograph: PSNR {net['psnr_db']:.1f} dB, "
          f"max |diff| {net['max_abs_diff']:.2e}")
    if not figures["ok"]:
        print(f"error: the Keras model does not compute what the checkpoint does (limits: "
              f"{verify.UNIT_TOLERANCE:g} per unit plus one step of alpha, {verify.NETWORK_PSNR_DB:g} dB); "
              "nothing written",
              file=sys.stderr)
        return 1
    source = {"checkpoint": str(Path(args.checkpoint).resolve()), "key": key,
              "sha256": hashlib.sha256(Path(args.checkpoint).read_bytes()).hexdigest()}
    metadata = {"imported_from": source, "verification": figures}
    if isinstance(loaded, dict) and isinstance(loaded.get("training"), dict):
        metadata["training"] = loaded["training"]  # written by tools/train_torch.py
    card = model_card.save(model, Path(args.out) / f"{config.name}_x{config.scale}.json", **metadata)
    print(f"wrote {card} (+ {card.stem}_weights.h5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
