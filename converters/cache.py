"""The fastest exact runtime of a network on this machine, converted once and kept.

On x86-64 with the bit-packed kernel built, a network name or model card whose network has
binary convolutions runs as its bit-packed ONNX graph (``--to onnx-bitpacked``: outputs within
the conversion guarantee of Keras's, verified when it is made). The first use converts and
verifies it (a minute or so) and keeps the file beside the card (the shipped cards' in
``~/.cache/lce_models``, as any card's whose folder is not writable), named by a hash of the
card's weights and of the converter (its sources and tf2onnx's and onnx's versions): new
weights or a changed converter make a new file, never a stale one. Beside it, ``.json``: the
key and the memory its activations need per input pixel, which picks tile sizes within a
memory budget.
"""

import functools
import hashlib
import json
import multiprocessing
import os
import platform
import sys
from pathlib import Path

from lce_models import cli
from lce_models.files import atomic_write
from lce_models.models import model_card
from lce_models.runtimes import bitpacked, loader
from lce_models.runtimes.onnx import onnx_runtime

import onnx
import tf2onnx

from converters import memory
from converters.export import MIN_PSNR_DB, export, keras_references, probes
from converters.tflite import ConversionError, expected_convolutions

#: LR size the cached graph is verified at against Keras (any size runs).
PROBE_SIZE = (64, 96)
#: Where cached graphs go when the card's folder is not writable.
USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lce_models"
_SOURCES = [Path(__file__).with_name("onnx.py"), Path(__file__).with_name("export.py"),
            *sorted((Path(__file__).parent / "fastpath").rglob("*.py"))]


@functools.cache
def converter_key():
    """A hash of what makes the bit-packed graph: this converter's sources and its libraries
    (read once a process: they do not change under it)."""
    digest = hashlib.sha256(f"tf2onnx {tf2onnx.__version__} onnx {onnx.__version__}".encode())
    for path in _SOURCES:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cached_path(card, weights):
    """Where the bit-packed graph of ``card`` (its ``weights`` file) is kept: beside the card,
    else (shipped weights, a read-only folder) in ``USER_CACHE``; named by the weights' and
    the converter's hash."""
    digest = hashlib.sha256(Path(weights).read_bytes() + converter_key().encode()).hexdigest()[:16]
    name = f"{Path(card).stem}.{digest}.bitpacked.onnx"
    folder = Path(card).resolve().parent
    beside = folder != model_card.WEIGHTS_DIR.resolve() and os.access(folder, os.W_OK)
    return folder / name if beside else USER_CACHE / name


def available():
    """Whether the fast path runs here: x86-64 with its kernel built."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        bitpacked.library()
    except (bitpacked.FastPathError, OSError):
        return False
    return True


def fast_runtime(spec, scale=None, threads=2):
    """The bit-packed ONNX runtime of a network name (with shipped weights) or model card, made
    and cached on first use; None where the fast path does not apply (not x86-64, no kernel,
    no binary convolution, no trained weights, or a graph it does not convert: the caller then
    runs Keras). The runtime carries ``bytes_per_pixel``."""
    if loader.is_model_file(spec) or not available():
        return None
    card = Path(spec) if Path(spec).suffix.lower() == ".json" else None
    if card is None:
        config = loader.network_config(spec, scale)
        card = model_card.shipped(config)
        if card is None:
            return None
    _, weights, _ = model_card.read(card)
    path = cached_path(card, weights)
    sidecar = path.with_suffix(".json")
    for attempt in range(2):
        if not (path.is_file() and sidecar.is_file()) and not _convert_apart(card, path, sidecar, threads):
            return None
        try:
            runtime = onnx_runtime(path.read_bytes(), threads, shared_arena=True)  # one session for many tiles
            runtime.bytes_per_pixel = float(json.loads(sidecar.read_text())["activation_bytes_per_input_pixel"])
            break
        except Exception:  # a damaged cached file (any error of onnxruntime or the JSON): made again, once
            if attempt:
                raise
            path.unlink(missing_ok=True)
            sidecar.unlink(missing_ok=True)
    runtime.engine = f"fast path ({bitpacked.chosen_isa()} kernels), {runtime.engine}"
    return runtime


def _convert_apart(card, path, sidecar, threads):
    """``_convert`` in a child process: TensorFlow's conversion memory leaves with it (a tool
    that converted in its own process held 1.3 GiB afterwards, and a 4000x3000 photo's tiles
    then fitted no 2 GiB budget)."""
    child = multiprocessing.get_context("spawn").Process(target=_convert_and_exit,
                                                          args=(str(card), str(path), str(sidecar), threads))
    child.start()
    child.join()
    return child.exitcode == 0 and path.is_file() and sidecar.is_file()


def _convert_and_exit(card, path, sidecar, threads):
    sys.exit(0 if _convert(Path(card), Path(path), Path(sidecar), threads) else 1)


def _convert(card, path, sidecar, threads):
    """Convert and verify ``card``'s network into ``path`` (and its ``sidecar``); False, with a
    line on stderr, when it has no binary convolution or does not convert."""
    model, _ = loader.keras_model(str(card), input_shape=PROBE_SIZE, batch_size=1)
    if expected_convolutions(model)[0] == 0:
        return False
    cli.log(f"converting {model.name} to the bit-packed ONNX graph once, for this machine's fast path ...")
    references = keras_references(model, probes(PROBE_SIZE, model.config.channels))
    try:
        artifact = export(model, "onnx-bitpacked", references, threads)
    except ConversionError as e:
        cli.log(f"the fast path does not convert {model.name} ({e}): running Keras")
        return False
    if not artifact.verified:
        cli.log(f"the fast path's {model.name} is {artifact.worst_psnr_db:.1f} dB from Keras (under {MIN_PSNR_DB}): "
                "running Keras")
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    per_pixel = memory.activation_bytes(model) / (PROBE_SIZE[0] * PROBE_SIZE[1])
    for stale in path.parent.glob(f"{Path(card).stem}.*.bitpacked.*"):  # older weights or converter
        stale.unlink()
    atomic_write(path, artifact.data)
    atomic_write(sidecar, json.dumps({"card": str(card), "converter": converter_key(),
                                      "verified_psnr_db": round(artifact.worst_psnr_db, 2),
                                      "activation_bytes_per_input_pixel": per_pixel}, indent=2) + "\n")
    cli.log(f"kept {path} ({artifact.worst_psnr_db:.1f} dB from Keras)")
    return True
