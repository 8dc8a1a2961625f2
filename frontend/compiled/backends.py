"""The back ends a compiled function can run on, behind one interface.

A back end is built from an optimized graph and a `Plan` (which outputs overwrite which inputs in
place, and the arrays seen while tracing, for their memory layout), and is called with the input
arrays; it returns every output array. `owns_results` says that returned arrays never alias the
inputs or each other (except outputs written in place, which *are* their input), so the caller
need not copy them.

* "llvm": the native back end: fused kernels compiled through LLVM, one native call.
* "interp": the reference interpreter (NumPy kernels node by node), the oracle.
"""
from ..compiler.interpreter import run


class Plan:
    def __init__(self, inplace=None, arrays=None, layout_fixed=None, optimize=None):
        self.inplace = inplace or {}  # output position -> input position written in place
        # The native back end may be given the traced graph and `optimize()`, which gives the
        # optimized one: run only if the kernel cache has no code for the traced graph.
        self.optimize = optimize
        self.arrays = arrays  # input arrays of the tracing call
        # Per input: True when the array's own memory layout is compiled in (state written in
        # place); False when any layout is made contiguous before the call.
        self.layout_fixed = layout_fixed


class InterpreterBackend:
    name = "interp"
    owns_results = False

    def __init__(self, graph, plan=None):
        self.graph = graph
        self.executions = 0
        self.timings = {}
        self.counters = None  # the compiled function's stats["executions"]

    def __call__(self, inputs):
        results = run(self.graph, inputs)
        self.executions += 1
        if self.counters is not None:
            self.counters[self.name] += 1
        return results


class NativeBackend:
    name = "llvm"
    owns_results = True

    def __init__(self, graph, plan=None):
        import numpy as np

        from ..runtime.native import compile_graph

        plan = plan or Plan()
        arrays = plan.arrays or [None] * len(graph.inputs)
        fixed = plan.layout_fixed or [False] * len(graph.inputs)
        strides, self._contiguous = [], []
        for i, (array, keep) in enumerate(zip(arrays, fixed)):
            if keep and isinstance(array, np.ndarray):
                strides.append(tuple(s // array.itemsize for s in array.strides))
            else:
                strides.append(None)
                self._contiguous.append(i)
        inplace = {k: i for k, i in plan.inplace.items() if fixed[i]}
        self.graph = graph
        # State (fixed layout) is bound: its addresses stay in the call tables until the state
        # epoch moves; arguments and runtime inputs are passed at each call.
        per_call = [i for i in range(len(graph.inputs)) if not fixed[i]]
        self._options = dict(inplace=inplace, input_strides=strides, target=_target(),
                             per_call_inputs=per_call, inputs_may_overlap=_overlapping(arrays),
                             optimize=plan.optimize)
        self.step = compile_graph(graph, **self._options)
        self.timings = self.step.timings
        self.counters = None

    def kernel_cycles(self, inputs, calls):
        """(kernels, cycles per call of each): `calls` runs of a build of this step that counts
        each kernel's cycles (llvm.readcyclecounter), on `inputs`, which it writes as the step
        does (pass copies)."""
        from ..runtime.native import compile_graph

        step = compile_graph(self.graph, profile=True, **self._options)
        for _ in range(calls):
            step(list(inputs))
        return step.program.kernels, step.cycles / calls

    @property
    def executions(self):
        return self.step.executions

    def __call__(self, inputs):
        for i in self._contiguous:
            a = inputs[i]
            if not a.flags.c_contiguous:
                inputs[i] = a.copy()
        results = self.step(inputs)  # counts its own native executions
        if self.counters is not None:
            self.counters[self.name] += 1
        return results


def _target():
    """The CPU code is generated for: $LLGRAD_TARGET (host, avx2 or generic), else the host."""
    import os

    from ..runtime import llvm

    name = os.environ.get("LLGRAD_TARGET") or "host"
    try:
        return llvm.target(name)
    except ValueError:
        raise ValueError(f"LLGRAD_TARGET={name!r} is not a target llgrad generates code for; "
                         f"use host, avx2 or generic") from None


def _overlapping(arrays):
    import numpy as np

    roots = {}
    for a in arrays:
        if isinstance(a, np.ndarray) and a.size:
            base = a
            while isinstance(base.base, np.ndarray):
                base = base.base
            if id(base) in roots:
                return True
            roots[id(base)] = a
    return False


BACKENDS = {"llvm": NativeBackend, "interp": InterpreterBackend}
DEFAULT = "llvm"


def default_backend():
    """The back end `llgrad.compile` uses when none is named: $LLGRAD_BACKEND, else "llvm"."""
    import os

    return os.environ.get("LLGRAD_BACKEND") or DEFAULT
