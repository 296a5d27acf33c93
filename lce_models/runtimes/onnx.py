"""ONNX models as runtimes in onnxruntime's CPU provider; a graph of the x86-64 fast path runs
with the bit-packed op's library registered (``bitpacked.session``)."""

from lce_models.runtimes import receptive_field
from lce_models.runtimes.base import Runtime
from lce_models.runtimes.bitpacked import session as bitpacked_session

import numpy as np
import onnx
import onnxruntime as ort


def parse(serialized):
    """The ``ModelProto`` of a serialized ONNX model, checked by ONNX's own checker before
    onnxruntime gets it; ``ValueError`` (one line) for a damaged or foreign file."""
    try:
        proto = onnx.load_from_string(bytes(serialized))
        onnx.checker.check_model(proto)
    except Exception as e:  # protobuf's DecodeError, the checker's ValidationError, ...
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"not a valid ONNX model ({reason})") from None
    if not proto.graph.node:
        raise ValueError("not a valid ONNX model (a graph of no nodes)")
    return proto


def onnx_session(serialized, num_threads=None, profile_prefix=None, proto=None, shared_arena=False):
    """(onnxruntime CPU session, its kind in words) of an ONNX model, the fast path's op
    registered when the graph uses it; ``profile_prefix``: write onnxruntime's profile there;
    ``proto``: the model already parsed, if the caller has it; ``shared_arena``: as
    ``bitpacked.session.session``'s, for a fast-path graph."""
    proto = proto or parse(serialized)
    if any(o.domain == bitpacked_session.DOMAIN for o in proto.opset_import):  # the x86-64 fast path
        session = bitpacked_session.session(serialized, num_threads or 1, profile_prefix, shared_arena=shared_arena)
        return session, "onnxruntime CPU + bit-packed binary convs"
    options = ort.SessionOptions()
    options.log_severity_level = 3  # tf2onnx's nearest Resize draws a deprecation warning
    if num_threads:
        options.intra_op_num_threads = num_threads
    if profile_prefix:
        options.enable_profiling, options.profile_file_prefix = True, str(profile_prefix)
    return ort.InferenceSession(serialized, options, providers=["CPUExecutionProvider"]), "onnxruntime CPU"


def onnx_runtime(serialized, num_threads=None, shared_arena=False):
    """An ONNX model in onnxruntime's CPU provider (``num_threads`` None: its default;
    ``shared_arena`` as ``onnx_session``'s)."""
    proto = parse(serialized)
    session, kind = onnx_session(serialized, num_threads, proto=proto, shared_arena=shared_arena)
    name = session.get_inputs()[0].name
    channels = session.get_inputs()[0].shape[-1]

    def run(x):
        return session.run(None, {name: x})[0]

    probe = run(np.zeros((1, 8, 8, channels), np.float32))
    threads = f", {num_threads} threads" if num_threads else ""
    return Runtime(run, (None, None), channels, probe.shape[1] // 8, f"{kind}{threads}",
                   receptive_field.of_onnx(proto))
