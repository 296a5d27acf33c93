"""The one loader: any ``--model`` value as a Keras model or a runtime.

=============================  ===============================================================
``--model``                    loads
=============================  ===============================================================
a network name (``bbcu-l``)    the shipped weights of that configuration (``lce_models/weights``),
                               else a freshly initialised network, as ``untrained`` allows
a model card ``.json``         the network the card describes, with its weights
a ``.tflite``                  LCE's interpreter (``tflite``)
an ``.onnx``                   onnxruntime, with the bit-packed op where the graph uses it
=============================  ===============================================================
"""

import sys
from pathlib import Path

from lce_models.errors import UserError
from lce_models.models import NETWORKS, NetworkConfig, build_model, model_card
from lce_models.runtimes.keras_model import keras_runtime
from lce_models.runtimes.onnx import onnx_runtime
from lce_models.runtimes.tflite import tflite_runtime

FORMATS = {".tflite": "tflite", ".onnx": "onnx"}
#: What a network name without shipped weights gives: a fresh model silently, with a warning
#: on stderr, or a ``LoadError``.
UNTRAINED = ("allow", "warn", "refuse")
#: The weights source of a freshly initialised model (``keras_model``'s second value).
FRESH = "freshly initialised"


class LoadError(UserError, ValueError):
    """A ``--model`` value that names nothing loadable (one line, for the tools to print)."""


def is_model_file(spec):
    """Whether ``spec`` names a ``.tflite`` or ``.onnx`` file (by its suffix, any case)."""
    return Path(spec).suffix.lower() in FORMATS


def network_config(name, scale=None, strict=False, **fields):
    """The resolved ``NetworkConfig`` of a network name. ``scale`` applies to SR networks only,
    so that one ``--scale`` flag serves every task; ``strict``: a scale given for another
    network is a ``ConfigurationError``."""
    sr = name in NETWORKS and NETWORKS[name].task == "sr"
    return NetworkConfig(name, scale if sr or strict else None, **fields).resolved()


def keras_model(spec, scale=None, fields=None, input_shape=(None, None), batch_size=None, untrained="warn",
                strict=False):
    """(Keras model, where its weights came from) of a network name or a model card .json.

    ``fields``: further ``NetworkConfig`` fields of a network name (variant, padding, ...);
    ``input_shape`` / ``batch_size`` as ``build_model``'s (fix both to convert); ``strict`` as
    ``network_config``'s."""
    if Path(spec).suffix.lower() == ".json":
        return model_card.load(spec, input_shape, batch_size), str(spec)
    if is_model_file(spec):
        raise LoadError(f"{spec}: a converted file; this needs a network name or a model card .json")
    config = network_config(spec, scale, strict, **(fields or {}))
    card = model_card.shipped(config)
    if card is not None:
        return model_card.load(card, input_shape, batch_size), str(card)
    if untrained not in UNTRAINED:
        raise ValueError(f"untrained={untrained!r}; choose from {', '.join(UNTRAINED)}")
    what = f"{config.name} x{config.scale}"
    if untrained == "refuse":
        raise LoadError(f"no trained weights ship for {what} in this configuration yet: pass a .tflite, an .onnx "
                        "or a model card .json of a trained run")
    if untrained == "warn":
        print(f"WARNING: *** no trained weights ship for {what} in this configuration yet: using a FRESHLY "
              "INITIALISED model, which restores no image ***", file=sys.stderr)
    return build_model(config, input_shape, batch_size), FRESH


def file_runtime(path, threads=2, kernels="default", xnnpack=False):
    """The runtime of a ``.tflite`` (LCE's interpreter, ``kernels`` for its binary convs,
    ``xnnpack`` for its float ops) or an ``.onnx`` (onnxruntime)."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise LoadError(f"{path}: not a .tflite or .onnx file")
    if not path.is_file():
        raise LoadError(f"model file not found: {path}")
    data = path.read_bytes()
    try:
        if fmt == "tflite":
            return tflite_runtime(data, threads, kernels, xnnpack)
        return onnx_runtime(data, threads)
    except Exception as e:  # both runtimes raise bare RuntimeErrors / their own types on bad files
        raise LoadError(f"{path} does not load as {fmt}: {str(e).splitlines()[0]}") from None


def load(spec, runtime=False, threads=2, kernels="default", xnnpack=False, **model_options):
    """Any ``--model`` value: the runtime of a ``.tflite`` / ``.onnx``, else the Keras model of a
    network name or card (``keras_model``'s ``model_options``), as a runtime too if ``runtime``.
    A Keras model carries ``weights_source``: the card it came from, or ``FRESH``."""
    if is_model_file(spec):
        return file_runtime(spec, threads, kernels, xnnpack)
    model, source = keras_model(spec, **model_options)
    model.weights_source = source
    return keras_runtime(model) if runtime else model


def card(spec, scale=4, sr_only=False):
    """The model card a ``--models`` item names: a card .json as it is, or the shipped card of a
    network name (an SR network's at ``scale``; only SR networks if ``sr_only``); ``LoadError``
    when none ships."""
    if Path(spec).suffix.lower() == ".json":
        return Path(spec)
    if spec not in NETWORKS or sr_only and NETWORKS[spec].task != "sr":
        kind = "an SR network name" if sr_only else "a network name"
        raise LoadError(f"{spec!r} is neither {kind} nor a model card .json")
    config = network_config(spec, scale)
    found = model_card.shipped(config)
    if found is None:
        raise LoadError(f"no trained weights ship for {spec} x{config.scale} yet")
    return found
