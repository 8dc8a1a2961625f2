"""The one owner of LLVM: targets, the optimization pipeline, code emission and loaded code.

Everything that touches llvmlite.binding goes through here, so the target machine, the pass
pipeline and the dump switches live in one place (numba's codegen.py has the same shape).

A `Target` says what code is generated for: the host CPU (its name and exact feature string,
with 512-bit vectors where the CPU has AVX-512), or a named portable target ("avx2", "generic")
that the tests use to check that generated code stays correct on smaller machines. Functions
carry `target-cpu`, `target-features` and `prefer-vector-width` attributes so the choice holds
whichever target machine compiles them.

`compile_module(ir_text, target)` parses, verifies, optimizes and emits a module and returns a
`LoadedCode` whose functions can be called through their addresses. Phases are timed.

Loading object code (from the kernel cache) needs some twenty of llvmlite's C functions, not its
Python bindings, whose import costs 30-80 ms (some thirty modules declaring several hundred
ctypes signatures, and llvmlite.ir): a process that only loads cached code calls those functions
through `_CAPI`, and llvmlite.binding is imported on the first code generation (`_binding()`).
Both use the same library (one dlopen handle: one LLVM in the process).
"""
import functools
import os
import re
import sys
import threading
import time

import llvmlite


def _binding():
    """llvmlite.binding, imported on first use (generating code; the assembly dumps)."""
    import llvmlite.binding as binding

    return binding


def __getattr__(name):
    if name == "llvm":  # the bindings, as this module's attribute `llvm` (tests, tools)
        return _binding()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_init_lock = threading.Lock()
_initialized = False


# Libraries whose functions generated code may call: libm (fmod, for remainders) and libgcc
# (half-precision conversions LLVM emits as calls on CPUs without F16C).
RUNTIME_LIBRARIES = ("libm.so.6", "libgcc_s.so.1")

# llvmlite versions whose C functions `_CAPI` declares as they are (checked by the tests against
# the bindings); under another version everything goes through llvmlite.binding.
_CAPI_VERSIONS = ("0.50.",)


class _CAPI:
    """The functions of llvmlite's library that loading object code and describing the host
    need, declared with ctypes as llvmlite.binding declares them. Calls hold `_compile_lock`;
    the empty modules MCJIT engines need live in a context of their own, so nothing here
    touches the global context that code generation uses."""

    def __init__(self, path):
        import ctypes
        from ctypes import POINTER, c_bool, c_char_p, c_int, c_size_t, c_uint, c_uint64, c_void_p

        self.ctypes = ctypes
        lib = ctypes.CDLL(path)
        signatures = {
            "LLVMPY_GetVersionInfo": (c_uint, []),
            "LLVMPY_InitializeNativeTarget": (None, []),
            "LLVMPY_InitializeNativeAsmPrinter": (None, []),
            "LLVMPY_InitializeNativeAsmParser": (None, []),
            "LLVMPY_LoadLibraryPermanently": (c_bool, [c_char_p, POINTER(c_char_p)]),
            "LLVMPY_AddSymbol": (None, [c_char_p, c_void_p]),
            "LLVMPY_SearchAddressOfSymbol": (c_void_p, [c_char_p]),
            "LLVMPY_GetProcessTriple": (None, [POINTER(c_char_p)]),
            "LLVMPY_GetHostCPUName": (None, [POINTER(c_char_p)]),
            "LLVMPY_GetHostCPUFeatures": (c_int, [POINTER(c_char_p)]),
            "LLVMPY_DisposeString": (None, [c_char_p]),
            "LLVMPY_GetTargetFromTriple": (c_void_p, [c_char_p, POINTER(c_char_p)]),
            "LLVMPY_CreateTargetMachine": (c_void_p, [c_void_p, c_char_p, c_char_p, c_char_p,
                                                      c_int, c_char_p, c_char_p, c_int, c_int,
                                                      c_char_p]),
            "LLVMPY_ContextCreate": (c_void_p, []),
            "LLVMPY_ParseAssembly": (c_void_p, [c_void_p, c_char_p, POINTER(c_char_p)]),
            "LLVMPY_CreateMCJITCompiler": (c_void_p, [c_void_p, c_void_p, c_bool,
                                                      POINTER(c_char_p)]),
            "LLVMPY_CreateObjectFile": (c_void_p, [c_char_p, c_size_t]),
            "LLVMPY_DisposeObjectFile": (None, [c_void_p]),
            "LLVMPY_MCJITAddObjectFile": (None, [c_void_p, c_void_p]),
            "LLVMPY_FinalizeObject": (None, [c_void_p]),
            "LLVMPY_GetFunctionAddress": (c_uint64, [c_void_p, c_char_p]),
            "LLVMPY_DisposeExecutionEngine": (None, [c_void_p]),
        }
        for name, (restype, argtypes) in signatures.items():
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
            setattr(self, name[len("LLVMPY_"):], function)
        self._context = None

    def string(self, function, *args):
        """The string an LLVMPY function returns through its last argument."""
        out = self.ctypes.c_char_p()
        result = function(*args, self.ctypes.byref(out))
        text = out.value.decode() if out.value else ""
        if out.value is not None:
            self.DisposeString(out)
        return result, text

    def version_info(self):
        x, version = self.GetVersionInfo(), []
        while x:
            version.append(x & 0xFF)
            x >>= 8
        return tuple(reversed(version))

    def host_features(self):
        """The host's features as llvmlite's get_host_cpu_features().flatten() gives them."""
        ok, text = self.string(self.GetHostCPUFeatures)
        if not ok:
            return ""
        flags = {}
        for feature in text.split(","):
            if feature:
                flags[feature[1:]] = feature[0] == "+"
        return ",".join(f"{'+' if on else '-'}{name}" for name, on in sorted(flags.items()))

    def engine(self, obj, tgt):
        """An MCJIT engine holding `obj` (bytes), finalized: code ready to run."""
        error = self.ctypes.c_char_p()
        triple = tgt.triple.encode()
        target = self.GetTargetFromTriple(triple, self.ctypes.byref(error))
        if not target:
            raise RuntimeError(self._take(error))
        tm = self.CreateTargetMachine(target, triple, tgt.cpu.encode(), tgt.features.encode(), 3,
                                      b"default", b"jitdefault", 0, 1, b"")
        if self._context is None:
            self._context = self.ContextCreate()  # lives as long as the process
        module = self.ParseAssembly(self._context, b"", self.ctypes.byref(error))
        if not module:
            raise RuntimeError(self._take(error))
        lmm = os.uname().machine.lower() in ("arm64", "aarch64")  # as llvmlite chooses
        engine = self.CreateMCJITCompiler(module, tm, lmm, self.ctypes.byref(error))
        if not engine:  # (the engine owns the module and the target machine)
            raise RuntimeError(self._take(error))
        engine = _Engine(self, engine)
        handle = self.CreateObjectFile(obj, len(obj))
        self.MCJITAddObjectFile(engine.pointer, handle)  # takes the object, leaves the handle
        self.DisposeObjectFile(handle)
        self.FinalizeObject(engine.pointer)
        return engine

    def _take(self, error):
        text = error.value.decode() if error.value else "LLVM error"
        if error.value is not None:
            self.DisposeString(error)
        return text


class _Engine:
    """An MCJIT engine made through _CAPI (as llvmlite's ExecutionEngine: freed with it)."""

    def __init__(self, capi, pointer):
        self.capi, self.pointer = capi, pointer

    def get_function_address(self, name):
        with _compile_lock:
            return self.capi.GetFunctionAddress(self.pointer, name.encode("ascii"))

    def __del__(self):
        if self.pointer and not sys.is_finalizing():
            self.capi.DisposeExecutionEngine(self.pointer)
            self.pointer = None


_capi_state = []  # [the _CAPI, or None: use llvmlite.binding], once decided


def _capi():
    """The _CAPI of this process, or None when llvmlite.binding is to be used instead (another
    llvmlite version, or a library that is not a plain file)."""
    if not _capi_state:
        found = None
        if llvmlite.__version__.startswith(_CAPI_VERSIONS):
            from llvmlite.utils import get_library_name

            path = os.path.join(os.path.dirname(llvmlite.__file__), "binding",
                                get_library_name())
            if os.path.isfile(path):
                try:
                    found = _CAPI(path)
                except (OSError, AttributeError):
                    found = None
        _capi_state.append(found)
    return _capi_state[0]


def initialize():
    global _initialized
    with _init_lock:
        if not _initialized:
            capi = _capi()
            if capi is not None:
                capi.InitializeNativeTarget()
                capi.InitializeNativeAsmPrinter()
                capi.InitializeNativeAsmParser()
                for name in RUNTIME_LIBRARIES:
                    # (not glibc: a call needing it is refused by the symbol check)
                    capi.string(capi.LoadLibraryPermanently, name.encode())
            else:
                llvm = _binding()
                llvm.initialize_native_target()
                llvm.initialize_native_asmprinter()
                llvm.initialize_native_asmparser()
                for name in RUNTIME_LIBRARIES:
                    try:
                        llvm.load_library_permanently(name)
                    except RuntimeError:
                        pass  # not glibc: a call needing it is refused by the symbol check
            _initialized = True


def llvm_version_info():
    """LLVM's version as a tuple, (20, 1, 8)."""
    capi = _capi()
    if capi is not None:
        with _compile_lock:
            return capi.version_info()
    return _binding().llvm_version_info


def _process_triple():
    capi = _capi()
    if capi is not None:
        with _compile_lock:
            return capi.string(capi.GetProcessTriple)[1]
    return _binding().get_process_triple()


def _host_cpu():
    """(name, feature string) of the host CPU, as llvmlite's functions give them."""
    capi = _capi()
    if capi is not None:
        with _compile_lock:
            return capi.string(capi.GetHostCPUName)[1], capi.host_features()
    llvm = _binding()
    return llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


class Target:
    """What code is generated for: CPU name, feature string and the vector width to use."""

    def __init__(self, name, cpu, features, vector_bits):
        self.name = name
        self.cpu = cpu
        self.features = features
        self.vector_bits = vector_bits
        self.triple = _process_triple()

    @property
    def has_avx512(self):
        return "+avx512f" in self.features.split(",")

    @property
    def vector_registers(self):
        """Architectural vector registers (zmm0-31 with AVX-512, else ymm/xmm0-15)."""
        return 32 if self.has_avx512 else 16

    def lanes(self, itemsize):
        """Elements of `itemsize` bytes in one vector register."""
        return max(1, self.vector_bits // (8 * itemsize))

    def function_attributes(self):
        attrs = {"target-cpu": self.cpu, "prefer-vector-width": str(self.vector_bits)}
        if self.features:
            attrs["target-features"] = self.features
        return attrs

    def key(self):
        """Everything about the target that changes generated code (for caches)."""
        return (self.name, self.triple, self.cpu, self.features, self.vector_bits,
                llvm_version_info(), llvmlite.__version__)

    def __repr__(self):
        return f"<Target {self.name}: {self.cpu}, {self.vector_bits}-bit vectors>"


@functools.lru_cache(maxsize=None)
def target(name="host"):
    """The host target, or a portable one: "avx2" (Haswell-class x86-64) or "generic" (SSE2)."""
    initialize()
    if name == "host":
        cpu, features = _host_cpu()
        wide = "+avx512f" in features.split(",")
        vector_bits = 512 if wide else 256 if "+avx" in features.split(",") else 128
        if wide:
            # LLVM tunes AVX-512 CPUs to prefer 256-bit vectors; 512 was measured 1.77x faster
            # on an in-cache polynomial here, so ask for the full width.
            features += ",-prefer-256-bit"
        return Target("host", cpu, features, vector_bits)
    if name == "avx2":
        return Target("avx2", "haswell", "", 256)
    if name == "generic":
        return Target("generic", "x86-64", "", 128)
    if name == "avx512":  # for reading assembly only: this machine may not run it
        return Target("avx512", "skylake-avx512",
                      "+avx512f,+avx512dq,+avx512bw,+avx512vl,+avx512cd,-prefer-256-bit", 512)
    raise ValueError(f"unknown target {name!r}; choose host, avx2, generic or avx512")


def _target_machine(tgt, jit=True):
    """A fresh target machine: MCJIT takes ownership of the one it is given."""
    initialize()
    llvm = _binding()
    return llvm.Target.from_triple(tgt.triple).create_target_machine(
        cpu=tgt.cpu, features=tgt.features, opt=3, reloc="default", codemodel="jitdefault",
        jit=jit)


# The optimization pipelines, one place to change them.
#
# "step": a step's kernels. Generated code is already vectorized and its loops are simple, so a
# short list of passes does what O2 did for them (inlining the math library, promoting locals to
# registers, simplification, value numbering): the 784-512-512-10 step's module optimizes in
# 20 ms instead of 107, and its kernels ran as fast (cycles per kernel within noise).
# "library": the shared routines (the GEMM), compiled once per process: the same passes plus
# LLVM's loop unroller, which doubles the GEMM micro-kernel's k loop (83 GFLOP/s at 512^3, as
# with O2 or O3; without unrolling 61), compiled in 88 ms where O2 took 137 and O3 175.
# "O2": LLVM's own O2 without its vectorizers, for comparison.
_SIMPLIFY = ("always_inliner", "sroa", "instruction_combine", "simplify_cfg", "new_gvn",
             "instruction_combine", "loop_rotate")
PIPELINES = {
    "step": _SIMPLIFY + ("dead_code_elimination", "simplify_cfg"),
    "library": _SIMPLIFY + ("loop_unroll", "instruction_combine", "simplify_cfg",
                            "dead_code_elimination"),
    "O2": {"speed_level": 2, "loop_vectorization": False, "slp_vectorization": False,
           "loop_unrolling": True},
}


def optimize(module, tm, pipeline="step"):
    llvm = _binding()
    passes = PIPELINES[pipeline]
    if isinstance(passes, dict):  # one of LLVM's standard pipelines, tuned
        pto = llvm.create_pipeline_tuning_options(speed_level=passes["speed_level"])
        pto.loop_vectorization = passes["loop_vectorization"]
        pto.slp_vectorization = passes["slp_vectorization"]
        pto.loop_unrolling = passes["loop_unrolling"]
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(module, pb)
        return
    pb = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=2))
    manager = llvm.create_new_module_pass_manager()
    for name in passes:
        getattr(manager, f"add_{name}_pass")()
    manager.run(module, pb)


class LoadedCode:
    """A compiled module loaded into memory: addresses of its functions, and its texts.

    Keep it alive as long as any of its functions may run: freeing it unmaps the code.
    """

    def __init__(self, engine, module, target, timings, ir_text):
        self._engine = engine
        self._module = module
        self.target = target
        self.timings = timings
        self.ir_text = ir_text
        self._optimized_ir = None
        self._asm = None

    def address(self, name):
        address = self._engine.get_function_address(name)
        if not address:
            raise KeyError(f"no function {name!r} in compiled module")
        return address

    def optimized_ir(self):
        if self._optimized_ir is None and self._module is not None:
            self._optimized_ir = str(self._module)
        return self._optimized_ir

    def assembly(self):
        if self._asm is None:
            self._asm = emit_assembly(self.optimized_ir(), self.target, optimized=True)
        return self._asm


_compile_lock = threading.RLock()


_DEFINE = re.compile(r"^(define [^\n]*?)\s*\{\s*$", re.M)


def with_target_attributes(ir_text, tgt):
    """Every defined function gets the target's CPU, features and vector width as string
    attributes (llvmlite.ir only knows keyword attributes, so they are added to the text)."""
    attrs = " ".join(f'"{k}"="{v}"' for k, v in tgt.function_attributes().items())
    return _DEFINE.sub(lambda m: f"{m.group(1)} {attrs} {{", str(ir_text))


def _parse(ir_text, context=None):
    module = _binding().parse_assembly(ir_text, context=context)
    module.verify()
    return module


class CompiledObject:
    """Object code of one module, not yet loaded: its bytes, the optimized module (for
    dumps) and the time of each phase."""

    def __init__(self, obj, module, timings, ir_text, tgt):
        self.obj, self.module, self.timings = obj, module, timings
        self.ir_text, self.target = ir_text, tgt


def compile_object(ir_text, tgt=None, pipeline="step"):
    """Parse, verify, optimize and emit `ir_text` for `tgt` (default: host), with a target
    machine of its own. (The module lives in LLVM's global context: a context of its own would
    have to outlive every module parsed in it, and llvmlite serializes LLVM calls anyway.)"""
    tgt = tgt or target("host")
    initialize()
    timings = {}
    start = time.perf_counter()
    module = _parse(with_target_attributes(ir_text, tgt))
    module.triple = tgt.triple
    tm = _target_machine(tgt)
    timings["llvm_parse"] = time.perf_counter() - start
    start = time.perf_counter()
    optimize(module, tm, pipeline)
    timings["llvm_optimize"] = time.perf_counter() - start
    start = time.perf_counter()
    obj = tm.emit_object(module)
    timings["llvm_emit"] = time.perf_counter() - start
    return CompiledObject(obj, module, timings, str(ir_text), tgt)


def load_compiled(compiled):
    code = load_object(compiled.obj, compiled.target)
    code._module = compiled.module
    code.ir_text = compiled.ir_text
    code.timings = dict(compiled.timings, **code.timings)
    return code


def compile_module(ir_text, tgt=None, pipeline="step"):
    """Compile `ir_text` and load it. Every symbol the object leaves undefined (llgrad's shared
    routines, libm) must resolve first: MCJIT would otherwise let a call jump to address 0."""
    return load_compiled(compile_object(ir_text, tgt, pipeline))


def load_object(obj, tgt=None):
    """Load object code (bytes from `compile_module` or a cache) into memory."""
    tgt = tgt or target("host")
    start = time.perf_counter()
    missing = [name for name in undefined_symbols(obj) if not symbol_address(name)]
    if missing:
        raise RuntimeError(f"generated code calls {', '.join(missing)}, which no loaded library "
                           f"defines")
    initialize()
    capi = _capi()
    with _compile_lock:
        if capi is not None:
            engine = capi.engine(obj, tgt)
        else:
            llvm = _binding()
            engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _target_machine(tgt))
            engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
            engine.finalize_object()
    code = LoadedCode(engine, None, tgt, {"load_object": time.perf_counter() - start}, "")
    code.object = obj
    return code


def undefined_symbols(obj):
    """Names an ELF64 object file uses but does not define (its symbol table's SHN_UNDEF
    entries)."""
    import struct

    if obj[:4] != b"\x7fELF" or obj[4] != 2:
        raise RuntimeError("object code is not ELF64")
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", obj, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + i * shentsize) for i in range(shnum)]
    names = []
    for sh_name, sh_type, _, _, offset, size, link, _, _, entsize in sections:
        if sh_type != 2:  # SHT_SYMTAB
            continue
        strtab = sections[link]
        str_offset = strtab[4]
        for k in range(size // entsize):
            st_name, st_info, _, st_shndx = struct.unpack_from("<IBBH", obj, offset + k * entsize)
            binding = st_info >> 4
            if st_shndx == 0 and st_name and binding in (1, 2):  # undefined global or weak
                end = obj.index(b"\0", str_offset + st_name)
                names.append(obj[str_offset + st_name:end].decode())
    return names


def emit_assembly(ir_text, tgt=None, optimized=False, pipeline="step"):
    """Assembly text of a module for `tgt` (the module is optimized first unless it already was)."""
    tgt = tgt or target("host")
    with _compile_lock:
        module = _parse(ir_text if optimized else with_target_attributes(ir_text, tgt))
        module.triple = tgt.triple
        tm = _target_machine(tgt, jit=False)
        if not optimized:
            optimize(module, tm, pipeline)
        return tm.emit_assembly(module)


def register_symbol(name, address):
    """Make `address` resolvable as `name` by every module compiled afterwards."""
    capi = _capi()
    if capi is None:
        _binding().add_symbol(name, address)
        return
    with _compile_lock:
        capi.AddSymbol(name.encode(), address)


def symbol_address(name):
    capi = _capi()
    if capi is None:
        return _binding().address_of_symbol(name)
    with _compile_lock:
        return capi.SearchAddressOfSymbol(name.encode())
