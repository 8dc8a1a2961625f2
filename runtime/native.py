"""Native executables: a lowered Program compiled to machine code and called through one entry.

The entry point takes one argument, a table of addresses: graph inputs, fresh output arrays,
constants, the error-info slot and the arena of temporaries. A table with its arena is a *call
context*; contexts are pooled so several Python threads can run one step at once (each call
takes a context of its own; the native call releases the GIL).
"""
import builtins
import ctypes
import functools
import threading
import time
import weakref

import numpy as np

from ..compiler.codegen import library as shared
from . import cache as kernel_cache
from . import llvm
from .memory import ALIGNMENT, STREAMED_OUTPUT_BYTES, empty_output

# The entry points' names and the C API they call (compiler/codegen/emit.py defines them; the
# lowering and the code generator are imported only where code is generated, so a process that
# loads its steps from the kernel cache never imports them, nor llvmlite.ir).
ENTRY, PYTHON_ENTRY = "llgrad_step", "llgrad_step_py"
PYTHON_API = ("PyEval_SaveThread", "PyEval_RestoreThread", "PyLong_FromLong")

_ENTRY_TYPE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)
METH_FASTCALL = 0x0080


class _MethodDef(ctypes.Structure):
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p),
                ("ml_flags", ctypes.c_int), ("ml_doc", ctypes.c_char_p)]


def _array_data_offset():
    """Where a NumPy array object keeps its data pointer (right after the object header in
    every NumPy so far), checked on a live array; None if this is not CPython or the layout
    differs, and then calls go through ctypes."""
    import sys

    if sys.implementation.name != "cpython":
        return None
    probe = np.arange(3.0)
    offset = 2 * ctypes.sizeof(ctypes.c_void_p)
    if ctypes.c_void_p.from_address(id(probe) + offset).value != probe.ctypes.data:
        return None
    for name in PYTHON_API:
        llvm.register_symbol(name, ctypes.cast(getattr(ctypes.pythonapi, name),
                                                ctypes.c_void_p).value)
    return offset


_DATA_OFFSET = _array_data_offset()
_new_function = ctypes.pythonapi.PyCFunction_NewEx
_new_function.restype = ctypes.py_object
_new_function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]


def builtin_function(address, name):
    """A Python builtin calling the METH_FASTCALL function at `address`; keep the returned
    definition alive as long as the function."""
    definition = _MethodDef(name.encode(), address, METH_FASTCALL, None)
    return _new_function(ctypes.addressof(definition), None, None), definition
_loaded_routines = {}  # (target key, routine key) -> LoadedCode, alive for the process
_routine_lock = threading.Lock()


def ensure_routines(keys, target):
    """Load and register the shared routines `keys` for `target` (once per process), from the
    kernel cache or compiled (and then stored there)."""
    timings = {}
    with _routine_lock:
        for key in keys:
            cache_key = (target.key(), key)
            if cache_key in _loaded_routines:
                continue
            code, plan, _ = kernel_cache.compile_cached(
                key, target, "library", functools.partial(_build_routine, key, target))
            symbol = plan["symbols"][0]
            llvm.register_symbol(symbol, code.address(symbol))
            _loaded_routines[cache_key] = code
            for phase, seconds in code.timings.items():
                timings[phase] = timings.get(phase, 0.0) + seconds
    return timings


def _build_routine(key, target):
    routine = shared.routines(target)[key]
    return str(routine.module()), {"symbols": [routine.symbol]}


def clear_caches():
    """Forget every compiled shared routine and every step shared in memory, so the next step
    compiles (or, with the disk cache on, loads) them again (benchmarks of a cold start). Code
    already loaded stays mapped for steps that use it. The disk cache is left alone:
    LLGRAD_CACHE=0 turns it off."""
    with _routine_lock:
        _retired.extend(_loaded_routines.values())
        _loaded_routines.clear()
    forget_steps()
    shared.routines.cache_clear()


def forget_steps():
    """Stop sharing the steps loaded so far: compiling any of them again compiles it (or, with
    the disk cache on, loads it from disk), as in a new process. Live steps keep their code."""
    with _shared_lock:
        _shared_steps.clear()


_retired = []  # loaded code of cleared caches: still called by live steps, never freed


class NativeStep:
    """A compiled program: call it with the input arrays, get the outputs.

    Built by compiling a lowered Program (`NativeStep(program, ...)`), or, on a kernel-cache hit,
    from code already loaded and the description of what running it needs (`from_loaded`): then
    the Program is only lowered again if something asks for it (`program`, explain)."""

    name = "llvm"
    cache_source = "compiled"  # or "disk", "memory": where the code came from
    cache_key = None  # the kernel cache key's digest, when the step has one

    def __init__(self, program, target=None, per_call_inputs=None):
        """`per_call_inputs`: positions of the inputs passed at every call (arguments, random
        draws); the others (state) are *bound*: their addresses stay in each call context's table
        until `run` is given a new binding token. None: every input is passed per call."""
        self.target = target or llvm.target("host")
        self._program = self._layout = program
        self._relower = None
        library = shared.routines(self.target)
        start = time.perf_counter()
        n_inputs = len(program.inputs)
        per_call = list(range(n_inputs)) if per_call_inputs is None else list(per_call_inputs)
        self.per_call_inputs = per_call
        self.bound_inputs = [i for i in range(n_inputs) if i not in set(per_call)]
        self._fresh = [(k, what.index, what.shape, what.dtype.np)
                       for k, (kind, what) in enumerate(program.outputs) if kind == "fresh"]
        self.fresh_outputs = [(k, shape, dtype) for k, _, shape, dtype in self._fresh]
        self.call_slots = ([program.inputs[i].index for i in per_call]
                           + [slot for _, slot, _, _ in self._fresh])
        self._aligned_positions = _aligned_positions(len(per_call), self._fresh)
        self._bound_slots = [program.inputs[i].index for i in self.bound_inputs]
        python_entry = None if _DATA_OFFSET is None else (self.call_slots, _DATA_OFFSET)
        from ..compiler.codegen.emit import emit_program

        module, used = emit_program(program, self.target, library, python_entry=python_entry)
        self._ir_text = str(module)
        self.routines = used
        self.timings = {"emit_ir": time.perf_counter() - start}
        self.parallel = any(k.grain for k in program.kernels)
        if self.parallel:  # parallel kernels call the thread pool
            from . import threadpool

            start = time.perf_counter()
            threadpool.ensure_pool()
            self.timings["thread_pool"] = time.perf_counter() - start
        # (llvmlite serializes every LLVM call behind one lock: compiling the shared routines
        # on another thread would not overlap with this module's compilation.)
        for phase, seconds in ensure_routines(used, self.target).items():
            self.timings["library_" + phase] = seconds
        self.code = llvm.compile_module(self._ir_text, self.target)
        self.timings.update(self.code.timings)
        self._entry = _ENTRY_TYPE(self.code.address(ENTRY))
        self._python_entry = None
        if python_entry is not None:
            self._python_entry, self._definition = builtin_function(
                self.code.address(PYTHON_ENTRY), PYTHON_ENTRY)
        self._constants = [(buf.index, array) for buf, array in program.constants]
        self._outputs = program.outputs
        self._pool = []
        self.executions = 0
        self.cycles = np.zeros(len(program.kernels), dtype=np.int64)  # when profiling

    @classmethod
    def from_loaded(cls, loaded, target, relower=None):
        """A step running `loaded` (a _Loaded: code and its run-time plan, shared by every step
        with the same key) without lowering, emitting or compiling anything. `relower()` gives
        (program, IR text) again when something asks to see them."""
        self = cls.__new__(cls)
        plan = loaded.plan
        self.target = target
        self._program = self._ir_text = None
        self._relower = relower
        self._layout = loaded.layout
        self._loaded = loaded
        per_call = list(plan["per_call"])
        self.per_call_inputs = per_call
        self.bound_inputs = [i for i in range(len(plan["inputs"])) if i not in set(per_call)]
        self._fresh = loaded.fresh
        self.fresh_outputs = [(k, shape, dtype) for k, _, shape, dtype in self._fresh]
        self.call_slots = ([plan["inputs"][i] for i in per_call]
                           + [slot for _, slot, _, _ in self._fresh])
        self._aligned_positions = _aligned_positions(len(per_call), self._fresh)
        self._bound_slots = [plan["inputs"][i] for i in self.bound_inputs]
        self.routines = list(plan["routines"])
        self.parallel = plan["parallel"]
        self.timings = {}
        self.code = loaded.code
        self._entry = loaded.entry
        self._python_entry = loaded.python_entry
        self._constants = loaded.constants
        self._outputs = loaded.outputs
        self._pool = []
        self.executions = 0
        self.cycles = np.zeros(plan["kernels"], dtype=np.int64)
        return self

    @property
    def program(self):
        """The lowered Program (lowered again, on first use, for a step from the cache)."""
        if self._program is None:
            self._program, self._ir_text = self._relower()
        return self._program

    @property
    def ir_text(self):
        if self._ir_text is None:
            self._program, self._ir_text = self._relower()
        return self._ir_text

    def runtime_plan(self):
        """What running this step's code needs, as JSON (the kernel cache stores it with the
        object code), and its constant arrays."""
        program = self._layout
        outputs = [["fresh", what.index, list(what.shape), what.dtype.np.str] if kind == "fresh"
                   else ["inplace", what] for kind, what in self._outputs]
        plan = {"inputs": [buf.index for buf in program.inputs], "outputs": outputs,
                "per_call": list(self.per_call_inputs), "table_size": program.table_size,
                "arena_bytes": program.arena_bytes, "arena_slot": program.arena_slot,
                "errinfo_slot": program.errinfo_slot, "profile_slot": program.profile_slot,
                "constants": [[slot, array.dtype.str, list(array.shape)]
                              for slot, array in self._constants],
                "errors": [[code, exception.__name__, message]
                           for code, (exception, message) in sorted(program.errors.items())],
                "kernels": len(self.cycles), "parallel": bool(self.parallel),
                "routines": list(self.routines), "python_entry": self._python_entry is not None}
        return plan, [array for _, array in self._constants]

    # ---- call contexts -----------------------------------------------------------------------

    def _new_context(self):
        """An argument table (a uint64 array, so the CPython entry can find its address like any
        array's) with its own arena and error slot; `binding` is the token its bound slots were
        filled under."""
        table = np.zeros(self._layout.table_size, dtype=np.uint64)
        arena = np.empty(max(self._layout.arena_bytes, 64) + 64, dtype=np.uint8)
        errinfo = np.zeros(1, dtype=np.int64)
        aligned = (-arena.ctypes.data) % 64
        table[self._layout.arena_slot] = arena.ctypes.data + aligned
        table[self._layout.errinfo_slot] = errinfo.ctypes.data
        for slot, array in self._constants:
            table[slot] = array.ctypes.data
        if self._layout.profile_slot is not None:
            table[self._layout.profile_slot] = self.cycles.ctypes.data
        return [table, arena, errinfo, None]

    def run(self, arrays, binding=None, bound=None):
        """Run the step on `arrays` (one per call slot: the per-call inputs, then the fresh
        outputs). Bound inputs come from `bound()` (a list, in `bound_inputs` order) when the
        call context was last bound under another `binding` token (None: always). Raises the
        failed check's error, with nothing written to the inputs."""
        for k in self._aligned_positions:
            if arrays[k].ctypes.data % ALIGNMENT:
                raise ValueError(
                    f"fresh output {k - len(self.per_call_inputs)} is not {ALIGNMENT}-byte "
                    f"aligned, and kernels may write it with streaming stores: allocate it "
                    f"with llgrad.runtime.memory.empty_output")
        try:
            context = self._pool.pop()
        except IndexError:
            context = self._new_context()
        table, _, errinfo, context_binding = context
        try:
            if self._bound_slots and (binding is None or context_binding is not binding):
                for slot, array in zip(self._bound_slots, bound()):
                    table[slot] = array.ctypes.data
                context[3] = binding
            if self._python_entry is not None:
                status = self._python_entry(table, *arrays)
            else:
                for slot, array in zip(self.call_slots, arrays):
                    table[slot] = array.ctypes.data
                status = self._entry(table.ctypes.data)
            bad = int(errinfo[0]) if status else 0
        finally:
            self._pool.append(context)
        if status:
            self.raise_failed_check(status, bad)
        self.executions += 1

    def raise_failed_check(self, status, bad):
        """Raise the error of the check that failed with `status` (`bad`: the value it saw)."""
        exception, message = self._layout.errors[status]
        raise exception(message.format(bad))

    def __call__(self, inputs):
        """Every output for `inputs` (all of them): fresh arrays, or the input written in place."""
        fresh = [empty_output(shape, dtype) for _, _, shape, dtype in self._fresh]
        per_call = [inputs[i] for i in self.per_call_inputs]
        self.run(per_call + fresh, None, lambda: [inputs[i] for i in self.bound_inputs])
        by_output = dict(zip((k for k, _, _, _ in self._fresh), fresh))
        return [by_output[k] if kind == "fresh" else inputs[what]
                for k, (kind, what) in enumerate(self._outputs)]

    # ---- seeing inside -----------------------------------------------------------------------

    def kernels_text(self):
        return "\n\n".join(repr(k) for k in self.program.kernels)

    def assembly(self):
        if self.code._module is None:  # loaded from the cache: compile the IR again to read it
            return llvm.emit_assembly(self.ir_text, self.target)
        return self.code.assembly()


_CYCLE_COUNTER_IR = """
declare i64 @llvm.readcyclecounter()
define i64 @llgrad_cycles() {
  %c = call i64 @llvm.readcyclecounter()
  ret i64 %c
}
"""


@functools.lru_cache(maxsize=None)
def cycles_per_second():
    """The rate of the counter profiled kernels read (llvm.readcyclecounter: the TSC on x86,
    constant whatever the clock), measured once against the wall clock over 20 ms."""
    code = llvm.compile_module(_CYCLE_COUNTER_IR)
    read = ctypes.CFUNCTYPE(ctypes.c_int64)(code.address("llgrad_cycles"))
    start_wall, start = time.perf_counter(), read()
    time.sleep(0.02)
    return (read() - start) / (time.perf_counter() - start_wall)


def _aligned_positions(n_per_call, fresh):
    """Positions, among run()'s arrays, of the fresh outputs that kernels may write with
    streaming stores, which need them aligned (memory.empty_output allocates them so)."""
    return [n_per_call + k for k, (_, _, shape, dtype) in enumerate(fresh)
            if np.dtype(dtype).itemsize * int(np.prod(shape)) >= STREAMED_OUTPUT_BYTES]


def compile_graph(graph, inplace=None, input_strides=None, target=None,
                  inputs_may_overlap=False, profile=False, per_call_inputs=None, optimize=None):
    """Lower and compile `graph`: a NativeStep. `profile=True` counts each kernel's cycles
    (in `step.cycles`); `per_call_inputs`: see NativeStep. With `optimize`, `graph` is the
    traced graph and `optimize()` gives the graph to compile (the optimization passes).

    The kernel cache comes first: a step with the same key loaded in this process shares its
    code ("memory"), else an entry on disk is loaded ("disk"); either way nothing is optimized,
    lowered, emitted or compiled. The key covers the graph as given (with `optimize`, the
    traced graph: the passes are a function of it and of their source, which the key's
    fingerprint covers), or the optimized one when the traced graph holds something a key
    cannot describe. A step compiled here is stored on disk (runtime/cache.py)."""
    target = target or llvm.target("host")
    options = (inplace, input_strides, target, inputs_may_overlap, profile, per_call_inputs)
    timings = {}
    start = time.perf_counter()
    key = None if optimize is None else _step_key(graph, *options, traced=True)
    key_time = time.perf_counter() - start
    if optimize is not None and key is None:  # a traced graph the key cannot say: optimize it
        graph = _optimized(optimize, timings)
        optimize = None
    if optimize is None:
        start = time.perf_counter()
        key = _step_key(graph, *options)
        key_time += time.perf_counter() - start
    optimized = optimize or (lambda: graph)
    relower = functools.partial(_relower, optimized, *options)
    if key is not None:
        step = _cached_step(key, target, relower)
        if step is not None:
            step.timings.update(timings, cache_key=key_time)
            return step
    if optimize is not None:
        graph = _optimized(optimize, timings)
    from ..compiler import lowering

    start = time.perf_counter()
    program = lowering.lower(graph, inplace, input_strides, shared.routines(target),
                             inputs_may_overlap, profile)
    lowering_time = time.perf_counter() - start
    step = NativeStep(program, target, per_call_inputs)
    step.timings.update(timings, fusion_and_lowering=lowering_time)
    if key is not None:
        step.timings["cache_key"] = key_time
        start = time.perf_counter()
        _share(step, key)
        step.timings["cache_store"] = time.perf_counter() - start
    return step


def _optimized(optimize, timings):
    start = time.perf_counter()
    graph = optimize()
    timings["passes"] = timings.get("passes", 0.0) + time.perf_counter() - start
    return graph


def _relower(optimized, inplace, input_strides, target, inputs_may_overlap, profile, per_call):
    """(program, IR text) of a step loaded from the cache, for explain and the tests."""
    from ..compiler import lowering
    from ..compiler.codegen.emit import emit_program

    program = lowering.lower(optimized(), inplace, input_strides, shared.routines(target),
                             inputs_may_overlap, profile)
    n = len(program.inputs)
    per_call = list(range(n)) if per_call is None else list(per_call)
    fresh = [what.index for kind, what in program.outputs if kind == "fresh"]
    slots = [program.inputs[i].index for i in per_call] + fresh
    python_entry = None if _DATA_OFFSET is None else (slots, _DATA_OFFSET)
    module, _ = emit_program(program, target, shared.routines(target), python_entry=python_entry)
    return program, str(module)


# ---- the kernel cache's side of steps ------------------------------------------------------------

_shared_steps = weakref.WeakValueDictionary()  # key digest -> _Loaded, while a step uses it
_shared_lock = threading.Lock()


class _Layout:
    """What a call context needs of a Program (a Program has the same attributes)."""

    def __init__(self, plan):
        for name in ("table_size", "arena_bytes", "arena_slot", "errinfo_slot", "profile_slot"):
            setattr(self, name, plan[name])
        self.errors = {code: (_exception(name), message) for code, name, message in plan["errors"]}


def _exception(name):
    found = getattr(builtins, name, None)
    if isinstance(found, type) and issubclass(found, Exception):
        return found
    return RuntimeError


class _Loaded:
    """Code loaded once and what running it needs: shared by every step with its key."""

    __slots__ = ("code", "plan", "layout", "entry", "python_entry", "definition", "constants",
                 "fresh", "outputs", "__weakref__")

    def __init__(self, code, plan, constants, entry=None, python_entry=None, definition=None):
        self.code, self.plan = code, plan
        self.layout = _Layout(plan)
        self.entry = entry or _ENTRY_TYPE(code.address(ENTRY))
        self.python_entry, self.definition = python_entry, definition
        if plan["python_entry"] and python_entry is None:
            self.python_entry, self.definition = builtin_function(code.address(PYTHON_ENTRY),
                                                                  PYTHON_ENTRY)
        self.constants = [(slot, array) for (slot, _, _), array in zip(plan["constants"],
                                                                       constants)]
        self.fresh = [(k, output[1], tuple(output[2]), np.dtype(output[3]))
                      for k, output in enumerate(plan["outputs"]) if output[0] == "fresh"]
        self.outputs = [("fresh", None) if output[0] == "fresh" else ("inplace", output[1])
                        for output in plan["outputs"]]


def _step_key(graph, inplace, input_strides, target, inputs_may_overlap, profile, per_call,
              traced=False):
    """The step's kernel-cache key, or None when the graph holds something a key cannot say
    exactly (then it is compiled, and not shared). `traced`: the graph is the traced one,
    optimized only on a miss (then None sends compile_graph to key the optimized graph)."""
    options = {
        "inplace": sorted([int(k), int(i)] for k, i in (inplace or {}).items()),
        "input_strides": None if input_strides is None else [
            None if s is None else [int(x) for x in s] for s in input_strides],
        "inputs_may_overlap": bool(inputs_may_overlap), "profile": bool(profile),
        "per_call_inputs": None if per_call is None else [int(i) for i in per_call],
        "python_entry": _DATA_OFFSET, "pipeline": "step", "parallel": True,
        "graph": "traced" if traced else "optimized",
    }
    try:
        return kernel_cache.step_key(graph, target, options)
    except kernel_cache.Uncacheable as why:
        if traced:
            return None
        if kernel_cache.debugging():
            kernel_cache.report(f"not cached: {why}")
        return None


def _cached_step(key, target, relower):
    """A step on code with this key from memory or disk, or None (then compile)."""
    with _shared_lock:
        loaded = _shared_steps.get(key.digest)
    source, where = "memory", "memory (a step loaded in this process)"
    if loaded is None:
        if not kernel_cache.enabled():
            return None
        start = time.perf_counter()
        entry = kernel_cache.lookup(key)
        if entry is None:
            if kernel_cache.debugging():
                kernel_cache.report_miss(key, _what(key))
            return None
        try:
            loaded = _load_entry(entry, target)
        except _BadEntry as problem:
            kernel_cache.discard(entry.path, str(problem), entry.stat)
            return None
        load_time = time.perf_counter() - start
        with _shared_lock:
            loaded = _shared_steps.setdefault(key.digest, loaded)
        source, where = "disk", entry.path
    step = NativeStep.from_loaded(loaded, target, relower)
    step.cache_source, step.cache_key = source, key.digest
    if source == "disk":
        step.timings["cache_load"] = load_time
    if kernel_cache.debugging():
        kernel_cache.report(f"hit {key.digest[:16]} ({_what(key)}) from {where}")
    return step


def _what(key):
    about = key.about
    return f"step of {about.get('nodes', '?')} nodes on {about.get('inputs', '')}"


class _BadEntry(Exception):
    pass


_DTYPE_KINDS = "biuf"


def _load_entry(entry, target):
    """Check an entry's plan, load what its code calls, then its code: a _Loaded. Raises
    _BadEntry (nothing of the entry has run)."""
    plan = entry.plan
    try:
        constants = _check_plan(plan, entry.blobs, target)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise _BadEntry(f"its run-time plan is malformed ({type(error).__name__}: {error})") \
            from None
    ensure_routines(plan["routines"], target)
    try:
        code = kernel_cache.load_code(bytes(entry.blobs["object"]), target)
        return _Loaded(code, plan, constants)
    except (RuntimeError, KeyError) as error:
        raise _BadEntry(f"its code cannot be loaded ({error})") from None


def _check_plan(plan, blobs, target):
    """Validate a plan read from disk (types, slots in range, blobs of the right size) and
    return its constant arrays (copies, aligned as NumPy allocates)."""
    def integer(x, low=0, high=1 << 48):
        if type(x) is not int or not low <= x < high:
            raise ValueError(f"{x!r} is not an integer in [{low}, {high})")
        return x

    size = integer(plan["table_size"], 1, 1 << 24)
    inputs = [integer(i, 0, size) for i in plan["inputs"]]
    integer(plan["arena_bytes"])
    integer(plan["arena_slot"], 0, size)
    integer(plan["errinfo_slot"], 0, size)
    if plan["profile_slot"] is not None:
        integer(plan["profile_slot"], 0, size)
    per_call = [integer(i, 0, len(inputs)) for i in plan["per_call"]]
    if len(set(per_call)) != len(per_call):
        raise ValueError("per-call inputs repeat")
    for output in plan["outputs"]:
        if output[0] == "fresh":
            _, slot, shape, dtype = output
            integer(slot, 0, size)
            [integer(d) for d in shape]
            if np.dtype(dtype).kind not in _DTYPE_KINDS:
                raise ValueError(f"output dtype {dtype}")
        elif output[0] == "inplace" and len(output) == 2:
            integer(output[1], 0, len(inputs))
        else:
            raise ValueError(f"output {output!r}")
    for code, name, message in plan["errors"]:
        integer(code, 1)
        if not (isinstance(name, str) and isinstance(message, str)):
            raise TypeError("error messages")
    integer(plan["kernels"])
    if type(plan["parallel"]) is not bool or type(plan["python_entry"]) is not bool:
        raise TypeError("flags")
    if plan["python_entry"] != (_DATA_OFFSET is not None):
        raise ValueError("python entry")
    known = shared.routines(target).keys()
    if not all(isinstance(r, str) and r in known for r in plan["routines"]):
        raise ValueError(f"unknown routines {plan['routines']}")
    arrays = []
    for k, (slot, dtype, shape) in enumerate(plan["constants"]):
        integer(slot, 0, size)
        dtype = np.dtype(dtype)
        if dtype.kind not in _DTYPE_KINDS:
            raise ValueError(f"constant dtype {dtype}")
        data = blobs[f"c{k}"]
        array = np.empty([integer(d) for d in shape], dtype)
        if array.nbytes != len(data):
            raise ValueError(f"constant {k} holds {len(data)} bytes, not {array.nbytes}")
        array.reshape(-1).view(np.uint8)[:] = np.frombuffer(data, np.uint8)
        arrays.append(array)
    return arrays


def _share(step, key):
    """Make a freshly compiled step's code the one steps with its key share, and store it."""
    plan, constants = step.runtime_plan()
    loaded = _Loaded(step.code, plan, constants, step._entry, step._python_entry,
                     getattr(step, "_definition", None))
    step._loaded = loaded
    step.cache_key = key.digest
    with _shared_lock:
        _shared_steps.setdefault(key.digest, loaded)
    if kernel_cache.enabled():
        blobs = {"object": step.code.object}
        for k, array in enumerate(constants):
            blobs[f"c{k}"] = np.ascontiguousarray(array).tobytes()
        path = kernel_cache.store(key, plan, blobs)
        if path and kernel_cache.debugging():
            kernel_cache.report(f"stored {key.digest[:16]} ({_what(key)}) in {path}")


def describe(step, llvm_ir=False, assembly=False):
    """What `explain` shows of native code: each kernel with the graph nodes it computes, its
    flops and bytes, its loop IR; optionally its LLVM IR and assembly."""
    program = step.program
    temps = [b for b in program.buffers if b.kind == "temp"]
    lines = [f"== native code ({step.target.name}: {step.target.cpu}, "
             f"{step.target.vector_bits}-bit vectors): {len(program.kernels)} kernels; arena "
             f"{_size(program.arena_bytes)} for intermediates totalling "
             f"{_size(sum(b.nbytes for b in temps))}"]
    if step.cache_source != "compiled":
        lines.append(f"   (code from the kernel cache, {step.cache_source}: key "
                     f"{step.cache_key[:16]}; kernels below lowered again to show them)")
    asm = _assembly_by_kernel(step) if assembly else {}
    for kernel in program.kernels:
        nodes = ", ".join(f"%{v.name} {n.prim.name}" for n in kernel.nodes for v in n.outputs)
        read = sum(b.nbytes for b in kernel.reads())
        written = sum(b.nbytes for b in kernel.writes())
        lines.append(f"-- {kernel.name}: {nodes or 'copy'}; {kernel.flops / 1e6:.3g} MFLOP, "
                     f"reads {_size(read)}, writes {_size(written)}")
        lines.append(repr(kernel))
        if llvm_ir:
            lines.append(f"-- LLVM IR of {kernel.name} (as generated)")
            lines.append(_kernel_ir(step, kernel))
        if assembly:
            lines.append(f"-- assembly of {kernel.name}")
            lines.append(asm.get(kernel.name, "(inlined)"))
    return "\n".join(lines)


def _size(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _kernel_ir(step, kernel):
    from llvmlite import ir

    from ..compiler.codegen.emit import emit_kernel

    module = ir.Module(name=kernel.name)
    emit_kernel(module, kernel, step.target, not step.program.inputs_may_overlap,
                shared.routines(step.target))
    text = str(module)
    start = text.find("define ")
    return text[start:] if start >= 0 else text


def _assembly_by_kernel(step):
    """Assembly per kernel, from a build of the step where kernels stay separate functions."""
    import re

    text = re.sub(r'(define )internal (i32 @"k\w+"\([^)]*\))', r"\1\2 noinline", step.ir_text)
    asm = llvm.emit_assembly(text, step.target)
    found = {}
    for match in re.finditer(r"^(k\w+):\n(.*?)(?=^\.Lfunc_end)", asm, re.M | re.S):
        found[match.group(1)] = match.group(2).rstrip()
    return found
