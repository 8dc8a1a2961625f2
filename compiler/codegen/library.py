"""Shared native routines that generated steps call: the GEMM and the sort.

They are too big to compile into every step, so each is built once per target into a module of
its own, loaded by the runtime, and called through its symbol (named by content, so two builds
can never disagree). A step's module only declares them.
"""
import functools

ARGSORT_DTYPES = ("float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")


class Routine:
    """One shared routine: how to build it, its symbol and type, its workspace size."""

    def __init__(self, key, build, workspace_elements):
        self.key = key
        self._build = build  # build(module) -> ir.Function defined in module
        self.workspace_elements = workspace_elements
        self._built = None  # (module, symbol, function type), built once on first use

    def module(self):
        return self._describe()[0]

    def _describe(self):
        if self._built is None:
            from llvmlite import ir  # (imported here: loading cached code lists routines only)

            module = ir.Module(name=self.key)
            fn = self._build(module)
            self._built = (module, fn.name, fn.function_type)
        return self._built

    @property
    def symbol(self):
        return self._describe()[1]

    def declare(self, module):
        from .types import declare

        _, name, fnty = self._describe()
        return declare(module, name, fnty)

    def __repr__(self):
        return f"<Routine {self.key}>"


@functools.lru_cache(maxsize=None)
def routines(target):
    """name -> Routine for `target` (an object with vector_bits, vector_registers, lanes()).
    Nothing is built (nor llvmlite.ir imported) until a routine's module or symbol is asked for."""
    table = {}
    for dtype in ("float32", "float64"):
        table[f"gemm_{dtype}"] = Routine(
            f"gemm_{dtype}",
            functools.partial(_build_gemm, dtype=dtype, target=target),
            functools.partial(_gemm_workspace, dtype=dtype, target=target))
    for dtype in ARGSORT_DTYPES:
        table[f"argsort_{dtype}"] = Routine(
            f"argsort_{dtype}", functools.partial(_build_argsort, dtype_name=dtype),
            _argsort_workspace)
    return table


def _build_argsort(module, dtype_name):
    from .sort import build_argsort

    return build_argsort(module, dtype_name=dtype_name)


def _argsort_workspace(n):
    from .sort import argsort_workspace_elements

    return argsort_workspace_elements(n)


def _build_gemm(module, dtype, target):
    from .gemm import build_gemm

    return build_gemm(module, dtype, target)


def _gemm_workspace(m, n, k, dtype, target):
    from .gemm import gemm_workspace_elements

    return gemm_workspace_elements(m, n, k, target, dtype)
