"""Native executables: a lowered Program compiled to machine code and called through one entry.

The entry point takes one argument, a table of addresses: graph inputs, fresh output arrays,
constants, the error-info slot and the arena of temporaries. A table with its arena is a *call
context*; contexts are pooled so several Python threads can run one step at once (each call
takes a context of its own; the native call releases the GIL).
"""
import ctypes
import threading
import time

import numpy as np

from ..compiler import lowering
from ..compiler.codegen import library as shared
from ..compiler.codegen.emit import ENTRY, PYTHON_API, PYTHON_ENTRY, emit_program
from . import llvm

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
    """Compile and register the shared routines `keys` for `target` (once per process)."""
    table = shared.routines(target)
    timings = {}
    with _routine_lock:
        for key in keys:
            cache_key = (target.key(), key)
            if cache_key in _loaded_routines:
                continue
            routine = table[key]
            from . import threadpool

            threadpool.ensure_pool()  # the GEMM runs its blocks on the thread pool
            code = llvm.compile_module(str(routine.module()), target, pipeline="library")
            llvm.register_symbol(routine.symbol, code.address(routine.symbol))
            _loaded_routines[cache_key] = code
            for phase, seconds in code.timings.items():
                timings[phase] = timings.get(phase, 0.0) + seconds
    return timings


def clear_caches():
    """Forget every compiled shared routine, so the next step compiles them again (benchmarks
    of a cold start). Code already loaded stays mapped for steps that use it."""
    with _routine_lock:
        _retired.extend(_loaded_routines.values())
        _loaded_routines.clear()
    shared.routines.cache_clear()


_retired = []  # loaded code of cleared caches: still called by live steps, never freed


class NativeStep:
    """A compiled program: call it with the input arrays, get the outputs."""

    name = "llvm"

    def __init__(self, program, target=None, per_call_inputs=None):
        """`per_call_inputs`: positions of the inputs passed at every call (arguments, random
        draws); the others (state) are *bound*: their addresses stay in each call context's table
        until `run` is given a new binding token. None: every input is passed per call."""
        self.target = target or llvm.target("host")
        self.program = program
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
        self._bound_slots = [program.inputs[i].index for i in self.bound_inputs]
        python_entry = None if _DATA_OFFSET is None else (self.call_slots, _DATA_OFFSET)
        module, used = emit_program(program, self.target, library, python_entry=python_entry)
        self.ir_text = str(module)
        self.timings = {"emit_ir": time.perf_counter() - start}
        # (llvmlite serializes every LLVM call behind one lock: compiling the shared routines
        # on another thread would not overlap with this module's compilation.)
        for phase, seconds in ensure_routines(used, self.target).items():
            self.timings["library_" + phase] = seconds
        if any(k.grain for k in program.kernels):  # parallel kernels call the thread pool
            from . import threadpool

            start = time.perf_counter()
            threadpool.ensure_pool()
            self.timings["thread_pool"] = time.perf_counter() - start
        self.code = llvm.compile_module(self.ir_text, self.target)
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

    # ---- call contexts -----------------------------------------------------------------------

    def _new_context(self):
        """An argument table (a uint64 array, so the CPython entry can find its address like any
        array's) with its own arena and error slot; `binding` is the token its bound slots were
        filled under."""
        table = np.zeros(self.program.table_size, dtype=np.uint64)
        arena = np.empty(max(self.program.arena_bytes, 64) + 64, dtype=np.uint8)
        errinfo = np.zeros(1, dtype=np.int64)
        aligned = (-arena.ctypes.data) % 64
        table[self.program.arena_slot] = arena.ctypes.data + aligned
        table[self.program.errinfo_slot] = errinfo.ctypes.data
        for slot, array in self._constants:
            table[slot] = array.ctypes.data
        if self.program.profile_slot is not None:
            table[self.program.profile_slot] = self.cycles.ctypes.data
        return [table, arena, errinfo, None]

    def run(self, arrays, binding=None, bound=None):
        """Run the step on `arrays` (one per call slot: the per-call inputs, then the fresh
        outputs). Bound inputs come from `bound()` (a list, in `bound_inputs` order) when the
        call context was last bound under another `binding` token (None: always). Raises the
        failed check's error, with nothing written to the inputs."""
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
            exception, message = self.program.errors[status]
            raise exception(message.format(bad))
        self.executions += 1

    def __call__(self, inputs):
        """Every output for `inputs` (all of them): fresh arrays, or the input written in place."""
        fresh = [np.empty(shape, dtype) for _, _, shape, dtype in self._fresh]
        per_call = [inputs[i] for i in self.per_call_inputs]
        self.run(per_call + fresh, None, lambda: [inputs[i] for i in self.bound_inputs])
        by_output = dict(zip((k for k, _, _, _ in self._fresh), fresh))
        return [by_output[k] if kind == "fresh" else inputs[what]
                for k, (kind, what) in enumerate(self._outputs)]

    # ---- seeing inside -----------------------------------------------------------------------

    def kernels_text(self):
        return "\n\n".join(repr(k) for k in self.program.kernels)

    def assembly(self):
        return self.code.assembly()


def compile_graph(graph, inplace=None, input_strides=None, target=None,
                  inputs_may_overlap=False, profile=False, per_call_inputs=None):
    """Lower and compile `graph`: a NativeStep. `profile=True` counts each kernel's cycles
    (in `step.cycles`); `per_call_inputs`: see NativeStep."""
    target = target or llvm.target("host")
    start = time.perf_counter()
    program = lowering.lower(graph, inplace, input_strides, shared.routines(target),
                             inputs_may_overlap, profile)
    lowering_time = time.perf_counter() - start
    step = NativeStep(program, target, per_call_inputs)
    step.timings["fusion_and_lowering"] = lowering_time
    return step


def describe(step, llvm_ir=False, assembly=False):
    """What `explain` shows of native code: each kernel with the graph nodes it computes, its
    flops and bytes, its loop IR; optionally its LLVM IR and assembly."""
    program = step.program
    temps = [b for b in program.buffers if b.kind == "temp"]
    lines = [f"== native code ({step.target.name}: {step.target.cpu}, "
             f"{step.target.vector_bits}-bit vectors): {len(program.kernels)} kernels; arena "
             f"{_size(program.arena_bytes)} for intermediates totalling "
             f"{_size(sum(b.nbytes for b in temps))}"]
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
