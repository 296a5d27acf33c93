"""The bit-packed binary convolution as an onnxruntime custom op: sessions of graphs that use it
(written by ``converters.fastpath``), with the op's library registered."""

from lce_models.runtimes import bitpacked

import onnxruntime as ort

#: The ONNX domain of the ``BinaryConv3x3`` op; the C library registers the op under it.
DOMAIN = "lce_models.fastpath"

_ALLOCATOR = []


def _allocator():
    """Register, once a process, an arena that grows by what is asked, not to the next power of
    two (onnxruntime's default): bbcu-m x4 at 288x288 peaked at 807 instead of 1140 MiB, the same
    speed within noise (2 threads, measured). The process's sessions that ask for it share it,
    and it is never given back: for one long-lived session (a whole photo's tiles)."""
    if not _ALLOCATOR:
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg({"arena_extend_strategy": 1}))  # kSameAsRequested
        _ALLOCATOR.append(info)


def session(serialized, num_threads=1, profile_prefix=None, isa=None, shared_arena=False):
    """An onnxruntime session with the fast-path op registered; ``num_threads`` for both
    onnxruntime's own ops and the binary convolutions; ``profile_prefix``: profile into it;
    ``isa``: the kernel's instruction set (when None, ``bitpacked.chosen_isa()``: the CPU's
    best unless the process chose another); ``shared_arena``: onnxruntime's memory from the
    process's one arena that grows by what is asked (``_allocator``). Threads and instruction
    set hold for every fast-path session of the process: the op's library is loaded once."""
    bitpacked.library().bp_set_threads(num_threads)
    bitpacked.library().bp_set_isa(bitpacked.isa_number(isa or bitpacked.chosen_isa()))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = num_threads
    # onnxruntime's pool threads spin between ops and take the cores the kernel's OpenMP threads
    # need: measured, the body convs of bbcu-m ran 23 ms each with spinning, 10 ms without
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # the memory pattern reserves one block for every tensor of a run: bbcu-m x4 at 180x320 then
    # peaked at 1148 MiB, without it 580 MiB, at the same speed (2 threads, measured)
    options.enable_mem_pattern = False
    if shared_arena:
        _allocator()
        options.add_session_config_entry("session.use_env_allocators", "1")
    if profile_prefix:
        options.enable_profiling, options.profile_file_prefix = True, str(profile_prefix)
    options.register_custom_ops_library(str(bitpacked.library_path()))
    return ort.InferenceSession(serialized, options, providers=["CPUExecutionProvider"])


def runner(serialized, num_threads=1):
    """``x -> output`` of a fast-path graph (NHWC float32 batch in, as every runtime here)."""
    s = session(serialized, num_threads)
    name = s.get_inputs()[0].name
    return lambda x: s.run(None, {name: x})[0]
