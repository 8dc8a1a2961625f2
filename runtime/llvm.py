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
"""
import functools
import re
import threading
import time

import llvmlite
import llvmlite.binding as llvm

_init_lock = threading.Lock()
_initialized = False


# Libraries whose functions generated code may call: libm (fmod, for remainders) and libgcc
# (half-precision conversions LLVM emits as calls on CPUs without F16C).
RUNTIME_LIBRARIES = ("libm.so.6", "libgcc_s.so.1")


def initialize():
    global _initialized
    with _init_lock:
        if not _initialized:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            llvm.initialize_native_asmparser()
            for name in RUNTIME_LIBRARIES:
                try:
                    llvm.load_library_permanently(name)
                except RuntimeError:
                    pass  # not glibc: a call needing it is refused by the symbol check
            _initialized = True


class Target:
    """What code is generated for: CPU name, feature string and the vector width to use."""

    def __init__(self, name, cpu, features, vector_bits):
        self.name = name
        self.cpu = cpu
        self.features = features
        self.vector_bits = vector_bits
        self.triple = llvm.get_process_triple()

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
                llvm.llvm_version_info, llvmlite.__version__)

    def __repr__(self):
        return f"<Target {self.name}: {self.cpu}, {self.vector_bits}-bit vectors>"


@functools.lru_cache(maxsize=None)
def target(name="host"):
    """The host target, or a portable one: "avx2" (Haswell-class x86-64) or "generic" (SSE2)."""
    initialize()
    if name == "host":
        cpu = llvm.get_host_cpu_name()
        features = llvm.get_host_cpu_features().flatten()
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


_compile_lock = threading.Lock()


_DEFINE = re.compile(r"^(define [^\n]*?)\s*\{\s*$", re.M)


def with_target_attributes(ir_text, tgt):
    """Every defined function gets the target's CPU, features and vector width as string
    attributes (llvmlite.ir only knows keyword attributes, so they are added to the text)."""
    attrs = " ".join(f'"{k}"="{v}"' for k, v in tgt.function_attributes().items())
    return _DEFINE.sub(lambda m: f"{m.group(1)} {attrs} {{", str(ir_text))


def _parse(ir_text, context=None):
    module = llvm.parse_assembly(ir_text, context=context)
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
    missing = [name for name in undefined_symbols(obj) if not llvm.address_of_symbol(name)]
    if missing:
        raise RuntimeError(f"generated code calls {', '.join(missing)}, which no loaded library "
                           f"defines")
    with _compile_lock:
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
    llvm.add_symbol(name, address)


def symbol_address(name):
    return llvm.address_of_symbol(name)
