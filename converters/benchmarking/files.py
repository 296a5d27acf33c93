"""The files a benchmark times: model files as given, or networks and model cards converted at
the benchmark's input size, each verified against Keras first (``converters.export``)."""

from pathlib import Path

from lce_models.cli import log
from lce_models.errors import UserError
from lce_models.files import atomic_write
from lce_models.runtimes import loader
from lce_models.runtimes.flatbuffer import check, input_size
from lce_models.runtimes.tflite import is_binary_flatbuffer

from converters.export import MIN_PSNR_DB, artifact_name, export, keras_references, probes
from converters.tflite import ConversionError


def converted(spec, settings, formats=("tflite",)):
    """(label, paths) of a network name or model card converted to ``formats`` at
    ``settings.input_size`` into ``settings.out``."""
    model, source = loader.keras_model(spec, settings.scale, {"padding": settings.padding}, settings.input_size,
                                       batch_size=1, untrained="allow")
    config = model.config
    label = f"{config.name} x{config.scale}"
    if source == loader.FRESH:
        log(f"{label}: no shipped weights for this configuration, timing a freshly initialised model "
            "(latency does not depend on the weights)")
    references = keras_references(model, probes(settings.input_size, config.channels))
    paths = []
    for fmt in formats:
        log(f"converting {label} to {fmt} at {settings.input_size[0]}x{settings.input_size[1]} ...")
        try:
            artifact = export(model, fmt, references, max(settings.threads), sign_flips=False)
        except ConversionError as e:
            raise UserError(f"{spec}: {e}") from None
        if not artifact.verified:
            raise UserError(f"{spec}: its {fmt} output is further than {MIN_PSNR_DB} dB PSNR from Keras's")
        paths.append(atomic_write(Path(settings.out) / artifact_name(config, fmt, settings.input_size), artifact.data))
    return label, paths


def read_flatbuffer(path):
    """(bytes, (H, W), whether it needs LCE's ops) of a .tflite; one line for a bad file."""
    data = Path(path).read_bytes()
    try:
        check(data)
    except ValueError as e:
        raise UserError(f"{path} does not load as tflite: {e}") from None
    return data, input_size(data), is_binary_flatbuffer(data)


def model_files(specs, settings):
    """The files to time of each MODEL: a .tflite / .onnx as it is, else converted to .tflite."""
    files = []
    for spec in specs:
        path = Path(spec)
        if loader.is_model_file(path):
            if not path.is_file():
                raise UserError(f"model file not found: {path}")
            files.append(path)
        else:
            files += converted(spec, settings)[1]
    return files
