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
from ..compiler.codegen.emit import ENTRY, emit_program
from . import llvm

_ENTRY_TYPE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)
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
            code = llvm.compile_module(str(routine.module()), target)
            llvm.register_symbol(routine.symbol, code.address(routine.symbol))
            _loaded_routines[cache_key] = code
            for phase, seconds in code.timings.items():
                timings[phase] = timings.get(phase, 0.0) + seconds
    return timings


class NativeError:
    """How a failed check is reported: the exception type and message."""


class NativeStep:
    """A compiled program: call it with the input arrays, get the outputs."""

    name = "llvm"

    def __init__(self, program, target=None):
        self.target = target or llvm.target("host")
        self.program = program
        library = shared.routines(self.target)
        start = time.perf_counter()
        module, externals = emit_program(program, self.target, library)
        self.ir_text = str(module)
        self.timings = {"emit_ir": time.perf_counter() - start}
        used = sorted({k for k in library if library[k].symbol in externals})
        for phase, seconds in ensure_routines(used, self.target).items():
            self.timings["library_" + phase] = seconds
        self.code = llvm.compile_module(self.ir_text, self.target)
        self.timings.update(self.code.timings)
        self._entry = _ENTRY_TYPE(self.code.address(ENTRY))
        self._constants = [(buf.index, array) for buf, array in program.constants]
        self._outputs = program.outputs
        self._fresh = [(k, what.index, what.shape, what.dtype.np)
                       for k, (kind, what) in enumerate(program.outputs) if kind == "fresh"]
        self._input_slots = [b.index for b in program.inputs]
        self._pool = []
        self.executions = 0

    # ---- call contexts -----------------------------------------------------------------------

    def _new_context(self):
        table = (ctypes.c_void_p * self.program.table_size)()
        arena = np.empty(max(self.program.arena_bytes, 64) + 64, dtype=np.uint8)
        errinfo = np.zeros(1, dtype=np.int64)
        aligned = (-arena.ctypes.data) % 64
        table[self.program.arena_slot] = arena.ctypes.data + aligned
        table[self.program.errinfo_slot] = errinfo.ctypes.data
        for slot, array in self._constants:
            table[slot] = array.ctypes.data
        return table, arena, errinfo

    def __call__(self, inputs):
        try:
            context = self._pool.pop()
        except IndexError:
            context = self._new_context()
        table, _, errinfo = context
        try:
            for slot, array in zip(self._input_slots, inputs):
                table[slot] = array.ctypes.data
            fresh = {}
            for k, slot, shape, dtype in self._fresh:
                out = np.empty(shape, dtype)
                table[slot] = out.ctypes.data
                fresh[k] = out
            status = self._entry(ctypes.addressof(table))
            bad = int(errinfo[0])
        finally:
            self._pool.append(context)
        self.executions += 1
        if status:
            exception, message = self.program.errors[status]
            raise exception(message.format(bad))
        return [fresh[k] if kind == "fresh" else inputs[what]
                for k, (kind, what) in enumerate(self._outputs)]

    # ---- seeing inside -----------------------------------------------------------------------

    def kernels_text(self):
        return "\n\n".join(repr(k) for k in self.program.kernels)

    def assembly(self):
        return self.code.assembly()


def compile_graph(graph, inplace=None, input_strides=None, target=None,
                  inputs_may_overlap=False):
    """Lower and compile `graph`: a NativeStep."""
    target = target or llvm.target("host")
    start = time.perf_counter()
    program = lowering.lower(graph, inplace, input_strides, shared.routines(target),
                             inputs_may_overlap)
    lowering_time = time.perf_counter() - start
    step = NativeStep(program, target)
    step.timings["fusion_and_lowering"] = lowering_time
    return step
