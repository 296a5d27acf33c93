"""Make deployable artifacts from a Keras model and prove each one computes what Keras does.

Every export is verified before anyone writes it: the artifact and the Keras model run on the
same inputs (a photograph and random noise), and the report keeps max |diff| and PSNR.
"""

import time
from dataclasses import dataclass, field

from lce_models.data.images import sample_image
from lce_models.evaluation.metrics import agreement
from lce_models.runtimes.arena import ArenaError, MemoryPlan, memory_plan
from lce_models.runtimes.bitpacked import session as bitpacked_session

import numpy as np

from converters import fastpath, tflite
from converters import onnx as onnx_export
from converters.emulation import emulate
from converters.verify import in_graph, run_tflite
from converters.verify import sign_flips as measure_sign_flips

FORMATS = ("tflite", "onnx", "onnx-bitpacked")
#: Lowest PSNR (dB) of an artifact's output against Keras's that passes verification.
MIN_PSNR_DB = 50.0


@dataclass
class Artifact:
    format: str
    data: bytes
    census: dict
    seconds: float  # conversion wall time
    checks: dict = field(default_factory=dict)  # input label -> Agreement
    sign_flip_share: float | None = None
    # a .tflite's agreement with Keras computing LCE's output transform (converters.emulation)
    transform_checks: dict = field(default_factory=dict)
    # the first binary conv whose input signs differ from that form (verify.FirstFlip), if any
    first_flip: object = None
    memory: object = None  # a .tflite's arena.MemoryPlan, or why there is none (str)

    @property
    def worst_psnr_db(self):
        return min(a.psnr_db for a in self.checks.values())

    @property
    def verified(self):
        return self.worst_psnr_db >= MIN_PSNR_DB

    def summary(self):
        return {
            "bytes": len(self.data),
            "op_census": dict(self.census.most_common()),
            "conversion_seconds": round(self.seconds, 2),
            "verification": {label: a.as_dict() for label, a in self.checks.items()},
            "sign_flip_share": self.sign_flip_share,
            **({"verification_lce_transform": {label: a.as_dict() for label, a in self.transform_checks.items()}}
               if self.transform_checks else {}),
            **({"first_flip_lce_transform": self.first_flip and self.first_flip.as_dict()}
               if self.transform_checks else {}),
            **({} if self.memory is None else {"memory_plan": self.memory.to_dict() if isinstance(
                self.memory, MemoryPlan) else {"unavailable": self.memory}}),
        }


def keras_references(model, inputs):
    """label -> (input batch, Keras output): computed once, shared by every format."""
    return {label: (x, in_graph(model, x)[0]) for label, x in inputs.items()}


def probes(input_size, channels, image=None):
    """The two inputs every artifact is verified on: a photograph (``image``, default a Set14
    image) and uniform noise, each a batch of one at ``input_size``."""
    h, w = input_size
    return {"photo": sample_image(h, w, channels, image)[None],
            "random": np.random.default_rng(0).random((1, h, w, channels), np.float32)}


def export(model, fmt, references, threads=2, sign_flips=True, stage=lambda name: None, converted=None):
    """Convert ``model`` (built at a fixed shape, batch 1) to ``fmt`` and verify it against
    ``references`` (from ``keras_references``); raises ``ConversionError`` if the lowering
    checks fail. ``sign_flips``: for a ``.tflite``, also the share of binarized activations
    whose sign differs from Keras's (one more conversion, of a probe model), and the agreement
    with Keras computing LCE's output transform (``converters.emulation``) and the first binary
    conv whose input signs differ from it (the root of any cascade of flips). ``stage`` is
    called with each stage's name as it begins (``cli.Stages``). ``converted``: a ``.tflite``
    made before from this model (while sizing it): (flatbuffer, census of ``tflite.convert_checked``,
    seconds it took)."""
    stage("converting" if converted is None else "taking the file converted while sizing")
    start = time.perf_counter()
    if fmt == "tflite":
        data, census, took = converted or (*tflite.convert_checked(model), 0.0)
        start -= took
        run = lambda x: run_tflite(data, x, threads)  # noqa: E731
    elif fmt == "onnx":
        proto = onnx_export.convert(model)
        onnx_export.check_binary_weights(model, proto)
        census = onnx_export.op_census(proto)
        data = onnx_export.serialize(proto)
        run = lambda x: onnx_export.run_onnx(data, x)  # noqa: E731
    elif fmt == "onnx-bitpacked":
        proto = onnx_export.convert(model)
        onnx_export.check_binary_weights(model, proto)
        proto = fastpath.rewrite_checked(model, proto)
        census = fastpath.op_census(proto)
        data = proto.SerializeToString()
        run = bitpacked_session.runner(data, threads)
    else:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    artifact = Artifact(fmt, data, census, time.perf_counter() - start)
    if fmt == "tflite":
        stage("reading TFLite's memory plan")
        try:
            artifact.memory = memory_plan(data)
        except ArenaError as e:  # the file is still good: say why its plan is missing
            artifact.memory = str(e)
    outputs = {}
    for label, (x, expected) in references.items():
        stage(f"verifying against Keras on the {label} input")
        outputs[label] = run(x)
        artifact.checks[label] = agreement(expected, outputs[label])
    if fmt == "tflite" and sign_flips:
        lce_form = emulate(model)
        stage("counting sign flips against Keras")
        first_input = next(iter(references.values()))[0]
        artifact.sign_flip_share, artifact.first_flip = measure_sign_flips(model, first_input, lce_form, threads)
        stage("comparing with Keras computing LCE's output transform")
        # eager: in a traced graph (the check's reference), grappler reorders float sums that
        # the flatbuffer does not
        artifact.transform_checks = {label: agreement(lce_form(x, training=False).numpy(), outputs[label])
                                     for label, (x, _) in references.items()}
    return artifact


def artifact_name(config, fmt, input_size=None):
    """The file name of a ``NetworkConfig``'s artifact in ``fmt``: ``<name>_x<scale>``, the
    fixed input size of a ``.tflite``, and the format's suffix; the report beside it records
    the whole configuration."""
    stem = f"{config.name}_x{config.scale}"
    if fmt == "tflite":
        h, w = input_size
        return f"{stem}_{h}x{w}.tflite"
    if fmt in ("onnx", "onnx-bitpacked"):
        return stem + (".bitpacked.onnx" if fmt == "onnx-bitpacked" else ".onnx")
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
