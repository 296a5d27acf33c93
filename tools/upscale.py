"""Upscale (or denoise / de-JPEG) any image with a 1-bit model: a .tflite, an .onnx or Keras weights.

Backends: a .tflite runs in LCE's interpreter on tiles of its fixed input size; an .onnx runs
in onnxruntime on --tile tiles. A network name with shipped weights or a model card .json runs
the fastest exact runtime this machine has (--runtime auto): on x86-64, its bit-packed ONNX
graph, converted and verified against Keras on first use and kept beside the card, with tiles
as large as --max-memory allows; elsewhere, or with --runtime keras, the Keras model. Tiles
share the model's receptive radius of context by default, which makes the stitched image equal
to whole-image inference; memory is bounded by a band of tiles, never the whole image in float.

Inputs are files or folders (their PNG/JPEG/BMP/TIFF/WebP images). EXIF orientation is applied,
gray stays gray, alpha is enlarged apart (bicubic), 16-bit files are scaled to 8 bits. Each output
is written atomically as OUT/<name>.png (--ext for another format), or to OUT itself when it
names one image file for one input. A file that fails is reported on one line and the others
still run; the exit status is then 1 (2 for a usage mistake).

Examples:
  python tools/upscale.py photo.jpg --model bbcu-m -o photo_x4.png --max-memory 1500M
  python tools/upscale.py photo.jpg --model out/bbcu-l_x4_180x320.tflite -o photo_x4.png
  python tools/upscale.py pictures/ --model out/bbcu-l_x4.onnx -o upscaled/ --tile 256x256
"""

import sys
from pathlib import Path

from lce_models import cli
from lce_models.data import photos
from lce_models.runtimes import loader
from lce_models.runtimes.tflite import KERNELS
from lce_models.upscaling import budget
from lce_models.upscaling import photo as upscaling

from tqdm import tqdm

from converters import cache

INPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def inputs(paths):
    """Image files of the arguments, folders expanded; a missing path stays, to fail alone."""
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in INPUT_SUFFIXES)
            if not found:
                raise cli.UserError(f"no images in folder {p}")
            files += found
        else:
            files.append(p)
    return files


def destinations(files, out, ext):
    """Output path of each input: OUT itself for one input and an image-file OUT, else OUT/<stem>.ext."""
    out = Path(out)
    if len(files) == 1 and out.suffix.lower() in photos.FORMATS:
        return [out]
    if out.suffix.lower() in photos.FORMATS:
        raise cli.UserError(f"-o {out} names one file but {len(files)} inputs were given: name a folder")
    names = [f.stem + ext for f in files]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise cli.UserError(f"several inputs would be written to the same file: {', '.join(clash)}")
    return [out / n for n in names]


def refuse_overwriting_inputs(files, targets):
    """A user error, before any work, when an output would replace one of the inputs."""
    sources = {f.resolve() for f in files if f.exists()}
    for target in targets:
        if target.resolve() in sources:
            raise cli.UserError(f"-o would overwrite the input {target}: choose another output")


@cli.main
def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    p.add_argument("--model", default="bbcu-l",
                   help="a .tflite, an .onnx, a model card .json, or a network name whose weights ship "
                        "(default bbcu-l)")
    p.add_argument("--scale", type=int, choices=(2, 3, 4), help="SR scale for a network name (default 4)")
    p.add_argument("-o", "--out", default="upscaled",
                   help="output folder, or an image file for one input (default upscaled)")
    p.add_argument("--ext", default=".png", help="output format of files written to a folder (default .png)")
    p.add_argument("--runtime", choices=("auto", "keras"), default="auto",
                   help="for a network name or model card: auto runs the fastest exact runtime here (on x86-64 the "
                        "bit-packed ONNX graph, made once and kept beside the card), keras the Keras model "
                        "(default auto)")
    p.add_argument("--max-memory", type=cli.memory_size, default=2 * 2**30, metavar="SIZE",
                   help="memory the whole process may use, such as 2G or 1500M: the fast path's tiles are the "
                        "largest that fit (default 2G)")
    p.add_argument("--tile", type=cli.size, metavar="HxW",
                   help="tile size in input pixels of an .onnx or Keras model (a .tflite uses its own; default: "
                        "the largest within --max-memory on the fast path, else 256x256)")
    p.add_argument("--overlap", type=int,
                   help="input pixels of context tiles share (default: the model's receptive radius, exact)")
    p.add_argument("--threads", type=int, default=2, help="interpreter threads (default 2)")
    p.add_argument("--kernels", choices=KERNELS, default="default",
                   help="LceBconv2d kernels of a .tflite (default: LCE's default)")
    p.add_argument("--xnnpack", action="store_true",
                   help="run a .tflite's float ops with XNNPACK (much less memory at large tiles)")
    args = p.parse_intermixed_args(argv)  # inputs may follow the options
    ext = args.ext if args.ext.startswith(".") else f".{args.ext}"
    if ext.lower() not in photos.FORMATS:
        raise cli.UserError(f"unknown --ext {args.ext}; choose from {', '.join(sorted(photos.FORMATS))}")
    files = inputs(args.inputs)
    targets = destinations(files, args.out, ext)
    refuse_overwriting_inputs(files, targets)
    rt = cache.fast_runtime(args.model, args.scale, args.threads) if args.runtime == "auto" else None
    if rt is None:
        rt = loader.load(args.model, runtime=True, threads=args.threads, kernels=args.kernels, xnnpack=args.xnnpack,
                         scale=args.scale, untrained="refuse")
    overlap = rt.receptive_radius if args.overlap is None else args.overlap
    if overlap < 0:
        raise cli.UserError("--overlap must be >= 0")
    fixed = rt.input_size if rt.input_size[0] is not None else args.tile
    if fixed is None and rt.bytes_per_pixel is None:
        fixed = (256, 256)
    if fixed is not None:
        budget.check_tile(fixed, overlap)
    print(f"{args.model}: x{rt.scale}, {rt.engine}; tiles share {overlap} pixels of context "
          f"(receptive radius {rt.receptive_radius})", file=sys.stderr)

    failed = 0
    images = tqdm(list(zip(files, targets)), desc="images", unit="image", disable=len(files) < 2)
    for source, target in images:
        try:
            photo = photos.read(source)
            tile = fixed or budget.tile_for_budget(args.max_memory, photo.pixels.shape[:2], rt.scale, rt.channels,
                                                   rt.bytes_per_pixel, overlap)
            total = upscaling.tiles(photo, rt, tile, overlap)
            with tqdm(total=total, desc=source.name, unit="tile", leave=False, disable=total < 2) as bar:
                img = upscaling.upscale(photo, rt, tile, overlap, progress=bar.update)
            notes = photos.write(target, img) + photo.notes + [f"{total} tiles of {tile[1]}x{tile[0]}"]
        except (photos.PhotoError, ValueError, cli.UserError) as e:
            failed += 1
            tqdm.write(f"error: {e}" if isinstance(e, photos.PhotoError) else f"error: {source}: {e}",
                       file=sys.stderr)
            continue
        except OSError as e:  # the output cannot be written: the other images still go on
            failed += 1
            tqdm.write(f"error: {target}: cannot write it ({e.strerror or e})", file=sys.stderr)
            continue
        tqdm.write(f"wrote {target} ({img.width}x{img.height})" + "".join(f"; {n}" for n in notes))
    if failed:
        print(f"{failed} of {len(files)} images failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
