"""The memory a ``.tflite``'s tensors take as TFLite's planner lays them out, read from the
interpreter: the tensor arena (every activation and kernel scratch tensor, placed by TFLite's
``ArenaPlanner`` where their lifetimes allow sharing), the persistent arena, and the model
itself, whose weights the interpreter holds as they are in the file.

LCE's interpreter has no way to show its tensors, and TensorFlow's stock interpreter cannot run
LCE's ops. So the file is loaded into the stock interpreter (the same TFLite planner; LCE
v0.16.0 builds on TF 2.16.1, this on TF 2.16.2) with each LCE op registered as a stand-in that
only does what the op's ``Prepare`` does to memory: ``LceBconv2d``'s optimized kernel adds an
int32 im2col scratch tensor for any convolution that is not 1x1 with stride and dilation 1
(``larq_compute_engine/tflite/kernels/bconv2d.cc`` at v0.16.0); ``LceQuantize`` and
``LceDequantize`` only keep the output shapes the file gives. Nothing is run. The tensor table
is read through TFLite's C structs (``tensorflow/lite/core/c/common.h``, whose field order is
kept stable), and the reading is checked against the interpreter's own view of every tensor:
a TensorFlow release that lays them out differently is refused, not misread.

Threads: on ARM, TFLite multiplies float matrices with ruy, and its float ``CONV_2D`` then takes
an im2col scratch tensor at every thread count (``tensorflow/lite/kernels/conv.cc``); the x86-64
wheel's Eigen kernel does so only on one thread. The plan is therefore read at one thread,
which lays out what an ARM board's interpreter does. What XNNPACK allocates for the ops it
takes over (``--use_xnnpack``), and what LCE's kernels allocate outside the arena, are not part
of the plan.
"""

import ctypes
import math
from dataclasses import dataclass
from pathlib import Path

from lce_models.runtimes.flatbuffer import LCE_CUSTOM_OPS, check

import tensorflow as tf
from flatbuffers import flexbuffers
from tensorflow.lite.python.interpreter import InterpreterWithCustomOps
from tensorflow.lite.python.schema_py_generated import BuiltinOperator, TensorType
from tensorflow.lite.tools import flatbuffer_utils

# Offsets into TFLite's C structs (common.h): TfLiteContext, TfLiteNode, TfLiteTensor.
_CONTEXT_TENSORS_SIZE, _CONTEXT_TENSORS, _CONTEXT_RESIZE, _CONTEXT_ADD_TENSORS = 0, 16, 32, 48
_NODE_OUTPUTS, _NODE_TEMPORARIES = 8, 24
_TENSOR_TYPE, _TENSOR_DATA, _TENSOR_ALLOCATION, _TENSOR_BYTES = 0, 8, 32, 40
#: sizeof(TfLiteTensor) in TF 2.16 (checked against the file's tensors before anything is
#: written, and against the interpreter's own view before a figure is given).
_TENSOR_SIZE = 112
_TYPE_INT32, _ARENA_RW, _ARENA_RW_PERSISTENT = 2, 2, 3
#: TfLiteRegistration: prepare is its third pointer; the struct is copied by value, so a
#: zero-filled buffer longer than any release's struct leaves later fields empty.
_REGISTRATION_BYTES, _REGISTRATION_PREPARE = 256, 16
#: A custom op with no tensors, appended to the graph: its Prepare hands over the context of a
#: file that has no LCE op. It changes no tensor's lifetime, so the plan stays the file's own.
_PROBE = "LceModelsArenaProbe"
_ADD_CUSTOM = "_ZN6tflite17MutableOpResolver9AddCustomEPKcPK18TfLiteRegistrationi"
_PREPARE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


class ArenaError(RuntimeError):
    """The plan cannot be read from this TensorFlow release's interpreter."""


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes of a flatbuffer's memory as TFLite lays it out (see the module's docstring)."""

    arena_bytes: int        # the tensor arena: activations and scratch, shared where lifetimes allow
    persistent_bytes: int   # the persistent arena (state kept across runs)
    model_bytes: int        # the flatbuffer, weights included, as the interpreter holds it
    scratch_bytes: int      # of the arena's tensors, the largest scratch (im2col) tensor

    @property
    def total_bytes(self):
        return self.arena_bytes + self.persistent_bytes + self.model_bytes

    def to_dict(self):
        return {"arena_bytes": self.arena_bytes, "persistent_bytes": self.persistent_bytes,
                "model_bytes": self.model_bytes, "largest_scratch_bytes": self.scratch_bytes,
                "total_bytes": self.total_bytes, "planned_for": "TFLite's arena planner, float ops without "
                "XNNPACK, LCE's default LceBconv2d kernel, 1 thread (the layout of ARM builds)"}


def _read(address, ctype):
    return ctype.from_address(address).value


def _tensor_address(context, index):
    """Where the context's TfLiteTensor ``index`` lies (the table can move as tensors are added)."""
    return _read(context + _CONTEXT_TENSORS, ctypes.c_void_p) + index * _TENSOR_SIZE


def _int_array(address):
    """The values of a TfLiteIntArray."""
    size = _read(address, ctypes.c_int)
    return list((ctypes.c_int * size).from_address(address + 4))


def _im2col_channels(options, filter_shape):
    """int32 channels of the im2col scratch that LCE's optimized ``LceBconv2d`` kernel prepares,
    or 0 where it needs none (bconv2d.cc: a 1x1 filter, stride 1, dilation 1)."""
    _, kh, kw, _ = filter_shape
    unit = all(options[k] == 1 for k in ("stride_height", "stride_width", "dilation_height_factor",
                                          "dilation_width_factor"))
    if unit and kh == kw == 1:
        return 0
    return math.ceil(options["channels_in"] / 32) * kh * kw


@dataclass
class _Bconv:
    """An ``LceBconv2d`` as its ``Prepare`` touches memory: the im2col scratch it adds."""

    shape: tuple  # of its im2col scratch (int32)
    scratch: int | None = None  # tensor index of that scratch, once added


class _StandIns:
    """The custom-op registrations, and the context their ``Prepare`` calls capture."""

    def __init__(self, model):
        self.context, self.layout_checked, self.failure = None, False, None
        graph = model.subgraphs[0]
        # bytes of the file's 4-byte tensors, as the interpreter sizes them when it loads the file
        self.expected_bytes = {i: 4 * math.prod(int(d) for d in t.shape) for i, t in enumerate(graph.tensors)
                               if t.type in (TensorType.FLOAT32, TensorType.INT32)}
        self.bconvs = {}  # output tensor index of an LceBconv2d that needs im2col -> _Bconv
        for op in graph.operators:
            if model.operatorCodes[op.opcodeIndex].customCode == b"LceBconv2d":
                options = flexbuffers.Loads(bytes(op.customOptions))
                channels = _im2col_channels(options, [int(d) for d in graph.tensors[op.inputs[1]].shape])
                if channels:
                    n, h, w, _ = (int(d) for d in graph.tensors[op.outputs[0]].shape)
                    self.bconvs[int(op.outputs[0])] = _Bconv((n, h, w, channels))
        libc = ctypes.CDLL(None)
        self._malloc, self._free = libc.malloc, libc.free
        self._malloc.restype, self._malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
        self._free.argtypes = [ctypes.c_void_p]
        self._prepare = _PREPARE(self._prepare_op)
        self._registration = ctypes.create_string_buffer(_REGISTRATION_BYTES)
        ctypes.c_void_p.from_buffer(self._registration, _REGISTRATION_PREPARE).value = \
            ctypes.cast(self._prepare, ctypes.c_void_p).value
        names = sorted({c.customCode.decode() for c in model.operatorCodes if c.customCode} | {_PROBE})
        # the registrations keep pointers to their names: the buffers live as long as the stand-ins
        self._names = [ctypes.create_string_buffer(name.encode()) for name in names]
        library = Path(tf.__file__).parent / "libtensorflow_cc.so.2"
        try:  # the resolver's own method, from the library TensorFlow's interpreter comes with
            self._add_custom = getattr(ctypes.CDLL(str(library)), _ADD_CUSTOM)
        except (OSError, AttributeError):
            raise ArenaError(f"{library.name} of this TensorFlow has no MutableOpResolver::AddCustom to "
                             "register LCE's stand-ins with") from None
        self._add_custom.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]

    def _new_int_array(self, values):
        """A TfLiteIntArray from malloc, as TFLite frees them."""
        address = self._malloc(4 * (1 + len(values)))
        (ctypes.c_int * (1 + len(values))).from_address(address)[:] = [len(values), *values]
        return address

    def _resize(self, context, tensor, shape):
        resize = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
            _read(context + _CONTEXT_RESIZE, ctypes.c_void_p))
        if resize(context, tensor, self._new_int_array(list(shape))) != 0:  # it takes the array
            raise ArenaError("ResizeTensor failed")

    def _prepare_op(self, context, node):
        try:
            self.context = context
            if not self.layout_checked:
                self._check_layout(context)
            outputs = _int_array(_read(node + _NODE_OUTPUTS, ctypes.c_void_p))
            bconv = self.bconvs.get(outputs[0]) if outputs else None
            if bconv is not None:  # the outputs keep the shapes the file gives
                self._add_scratch(context, node, bconv)
            return 0
        except Exception as e:  # an exception cannot cross into C: fail the Prepare, keep why
            self.failure = e
            return 1

    def _check_layout(self, context):
        """``ArenaError`` unless the tensor table reads as the file's tensors (their count and
        byte sizes): a release whose structs differ is refused before anything is written."""
        count = _read(context + _CONTEXT_TENSORS_SIZE, ctypes.c_size_t)
        if count < len(self.expected_bytes) or any(
                _read(_tensor_address(context, i) + _TENSOR_BYTES, ctypes.c_size_t) != size
                for i, size in self.expected_bytes.items() if i < count):
            raise ArenaError("this TensorFlow release's tensor structs are not the ones this reader knows")
        self.layout_checked = True

    def _add_scratch(self, context, node, op):
        if op.scratch is None:  # one scratch tensor per op, as bconv2d.cc keeps its id
            index = ctypes.c_int()
            add = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int))(
                _read(context + _CONTEXT_ADD_TENSORS, ctypes.c_void_p))
            if add(context, 1, ctypes.byref(index)) != 0:
                raise ArenaError("AddTensors failed")
            op.scratch = index.value
        temporaries = node + _NODE_TEMPORARIES
        self._free(_read(temporaries, ctypes.c_void_p))
        ctypes.c_void_p.from_address(temporaries).value = self._new_int_array([op.scratch])
        tensor = _tensor_address(context, op.scratch)
        ctypes.c_int.from_address(tensor + _TENSOR_TYPE).value = _TYPE_INT32
        ctypes.c_int.from_address(tensor + _TENSOR_ALLOCATION).value = _ARENA_RW
        self._resize(context, tensor, op.shape)

    def register(self, resolver):
        for name in self._names:
            self._add_custom(resolver, name, self._registration, 1)


def _with_probe(model):
    """The flatbuffer of ``model`` with the probe op appended to its graph."""
    code = flatbuffer_utils.schema_fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = BuiltinOperator.CUSTOM
    code.customCode, code.version = _PROBE.encode(), 1
    model.operatorCodes.append(code)
    op = flatbuffer_utils.schema_fb.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = len(model.operatorCodes) - 1, [], []
    model.subgraphs[0].operators.append(op)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def memory_plan(flatbuffer):
    """The ``MemoryPlan`` of a TFLite flatbuffer, LCE's or a float one (``ArenaError`` when this
    TensorFlow's interpreter cannot be read, or the file has a custom op it does not know)."""
    check(flatbuffer)
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    known = LCE_CUSTOM_OPS - {"LceBMaxPool2d"}  # its Prepare is not modelled: no network here has it
    unknown = {c.customCode.decode() for c in model.operatorCodes if c.customCode} - known
    if unknown:
        raise ArenaError(f"custom ops the memory plan does not model: {', '.join(sorted(unknown))}")
    graph = model.subgraphs[0]
    stand_ins = _StandIns(model)
    interpreter = InterpreterWithCustomOps(
        model_content=_with_probe(model), custom_op_registerers=[stand_ins.register], num_threads=1,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    try:
        interpreter.allocate_tensors()
    except (RuntimeError, ValueError) as e:  # ValueError: a message TFLite could not word
        if isinstance(stand_ins.failure, ArenaError):
            raise stand_ins.failure from None
        raise ArenaError(f"the interpreter could not lay the file out: {str(e).splitlines()[0]}") from None
    if stand_ins.context is None:
        raise ArenaError("the interpreter never prepared the probe op")
    tensors = _tensor_table(stand_ins.context)
    constant = [t.buffer > 0 and model.buffers[t.buffer].data is not None for t in graph.tensors]
    _check_reading(interpreter, tensors, constant)
    used = [(kind, data, size) for kind, data, size in tensors if size]
    scratch = [size for i, (kind, _, size) in enumerate(tensors) if i >= len(constant) and kind == _ARENA_RW]
    return MemoryPlan(_extent([(d, s) for k, d, s in used if k == _ARENA_RW]),
                      _extent([(d, s) for k, d, s in used if k == _ARENA_RW_PERSISTENT]),
                      len(flatbuffer), max(scratch, default=0))


def _check_reading(interpreter, tensors, constant):
    """``ArenaError`` unless the struct reading agrees with the interpreter about each tensor of
    the file that lives in the arena: its size, its address, its allocation type."""
    if len(tensors) < len(constant):
        raise ArenaError("the interpreter holds fewer tensors than the file")
    for i, is_constant in enumerate(constant):
        kind, data, size = tensors[i]
        if is_constant or not size:
            continue
        view = interpreter.tensor(i)()
        if (kind, data, size) != (_ARENA_RW, view.__array_interface__["data"][0], view.nbytes):
            raise ArenaError(f"this TensorFlow release's tensor structs are not the ones this reader knows "
                             f"(tensor {i})")


def _tensor_table(context):
    """(allocation type, data address, bytes) of every tensor of the context."""
    count = _read(context + _CONTEXT_TENSORS_SIZE, ctypes.c_size_t)
    return [(_read(t + _TENSOR_ALLOCATION, ctypes.c_int), _read(t + _TENSOR_DATA, ctypes.c_void_p) or 0,
             _read(t + _TENSOR_BYTES, ctypes.c_size_t))
            for t in (_tensor_address(context, i) for i in range(count))]


def _extent(spans):
    """Bytes from the lowest start to the highest end of (address, size) spans: the arena's
    high-water mark, since its first placed tensor sits at offset 0."""
    if not spans:
        return 0
    return int(max(a + s for a, s in spans) - min(a for a, _ in spans))
