"""`llgrad.compile`: trace a step once, derive its backward symbolically, optimize, and replay it.

A call checks the guards of the specializations traced so far (see guards.py); on a match it
feeds the current values (arguments, lifted state read fresh, random draws, hyperparameters) to
the compiled graph and replays the recorded effects (state writes, `.grad` assignments); on a
miss it traces again and can say which guard changed. Nothing falls back to eager execution: a
function that cannot be traced raises, naming what to change.
"""
from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING, Any, overload

import time

from ..compiler.printer import to_dot
from ..nn.modules.module import Module
from . import debug
from .backends import BACKENDS, default_backend
from .fastpath import MISS
from .module import OptimizedModule, resolve_options
from .pytree import flatten
from .specialization import trace_specialization

if TYPE_CHECKING:
    import os
    from collections.abc import Callable
    from typing import Literal

DEFAULT_MAX_SPECIALIZATIONS = 8
_CONTAINERS = (list, tuple, dict)


@functools.lru_cache(maxsize=None)
def _flat_structure(n):
    """flatten((args, {})) for n arguments none of which is a container."""
    return flatten((tuple(range(n)), {}))[1]


# The typed signatures: a module gives an OptimizedModule, a function a CompiledFunction, no
# function a decorator; disable=True gives `fn` back (the last, untyped case).
@overload  # (a Module is callable: this more specific case comes first)
def compile(fn: Module, *,  # type: ignore[overload-overlap]  # noqa: A001
            fullgraph: bool = ..., dynamic: bool | None = ...,
            backend: str | None = ..., mode: str | None = ..., options: dict[str, Any] | None = ...,
            disable: Literal[False] = ..., max_specializations: int = ...,
            recompile_limit: int | None = ..., verify: bool = ...) -> OptimizedModule: ...
@overload
def compile(fn: Callable[..., Any], *, fullgraph: bool = ...,  # noqa: A001
            dynamic: bool | None = ..., backend: str | None = ..., mode: str | None = ...,
            options: dict[str, Any] | None = ..., disable: Literal[False] = ...,
            max_specializations: int = ..., recompile_limit: int | None = ...,
            verify: bool = ...) -> CompiledFunction: ...
@overload
def compile(fn: None = ..., *, fullgraph: bool = ..., dynamic: bool | None = ...,  # noqa: A001
            backend: str | None = ..., mode: str | None = ..., options: dict[str, Any] | None = ...,
            disable: Literal[False] = ..., max_specializations: int = ...,
            recompile_limit: int | None = ..., verify: bool = ...) -> Callable[..., Any]: ...
@overload
def compile(fn: Any = ..., *, fullgraph: bool = ..., dynamic: bool | None = ...,  # noqa: A001
            backend: str | None = ..., mode: str | None = ..., options: dict[str, Any] | None = ...,
            disable: bool = ..., max_specializations: int = ...,
            recompile_limit: int | None = ..., verify: bool = ...) -> Any: ...


def compile(fn: Any = None, *, fullgraph: bool = False, dynamic: bool | None = None,  # noqa: A001
            backend: str | None = None, mode: str | None = None,
            options: dict[str, Any] | None = None, disable: bool = False,
            max_specializations: int = DEFAULT_MAX_SPECIALIZATIONS,
            recompile_limit: int | None = None, verify: bool = False) -> Any:
    """Compile `fn`, a function or an nn.Module, to native code; usable as `@llgrad.compile`,
    `@llgrad.compile(...)` or `llgrad.compile(model)` (which returns a module, as PyTorch's does).

    The first call with given argument shapes *traces* `fn` (runs it on symbolic tensors),
    derives the backward of every `backward()`/`autograd.grad` inside it symbolically, optimizes
    the joint graph, fuses it into loop nests and compiles them through LLVM into one native
    entry point; later calls that match run that code. Effects keep their eager meaning:
    parameters and optimizer state are updated in place, `.grad` accumulates, `detach` and
    `no_grad` cut gradients, random draws advance the generator as in eager mode.

    Back ends (`backend=`): "llvm" (default; native code, also for PyTorch's name "inductor")
    and "interp" (the optimized graph run by NumPy's kernels, the reference the tests compare
    against; also for "eager" and "aot_eager"). `$LLGRAD_BACKEND` changes the default.

    Guards: a specialization is reused while the arguments keep their structure, shapes,
    dtypes, `requires_grad` and `.grad`-is-None flags, grad mode and train/eval mode hold, and
    the state the function read (parameters, optimizer state, `.grad` slots, hooks) keeps its
    shapes and flags; the modules and optimizers `fn` reads by name must still be the same
    objects. A call that breaks a guard traces again; `explain_retrace()` says which guard
    changed. After `max_specializations` (default 8; PyTorch's `recompile_limit`) a warning
    names the guard that keeps changing.

    Unlike torch.compile, nothing falls back to eager execution (llgrad always behaves as
    `fullgraph=True`): code a trace cannot capture (`.item()`, data-dependent `if`, boolean
    masks) raises an error that names the call and what to write instead. `dynamic=True` is
    not supported (shapes are specialized); `mode` accepts PyTorch's names (one code
    generation serves them all); `options` must be empty; `disable=True` returns `fn` itself.

    The result has `stats` (traces, native compilations, kernel-cache hits from disk and memory,
    calls, executions per back end, time per compile phase), `explain(*args)` (the graphs, the
    fused kernels with their loop IR; `llvm=True`, `asm=True` for LLVM IR and assembly) and
    `explain_retrace()`.
    `verify=True` checks every graph between passes.
    """
    backend = resolve_options(backend, mode, dynamic, fullgraph, options)
    limit = recompile_limit if recompile_limit is not None else max_specializations
    if fn is None:
        return functools.partial(compile, backend=backend, max_specializations=limit,
                                 verify=verify, disable=disable)
    if disable:
        return fn
    compiled = CompiledFunction(fn, backend, limit, verify)
    if isinstance(fn, Module):
        return OptimizedModule(fn, compiled)
    return compiled


class Explanation(str):
    """Text from `explain`: a str whose repr is itself, so a REPL shows it once, laid out, as
    `print` does (torch._dynamo.explain returns an object for the same reason)."""

    def __repr__(self):
        return str(self)


class CompiledFunction:
    """What `llgrad.compile(fn)` returns: call it as `fn` (it traces, compiles and runs the
    native code; see llgrad.compile). `stats`, `explain(*args)`, `explain_retrace()` and
    `specializations` show what it compiled; `reset()` forgets it."""

    def __init__(self, fn: Callable[..., Any], backend: str | None = None,
                 max_specializations: int = DEFAULT_MAX_SPECIALIZATIONS,
                 verify: bool = False) -> None:
        backend = backend or default_backend()
        if backend not in BACKENDS:
            raise ValueError(f"unknown llgrad.compile backend {backend!r}; choose one of "
                             f"{sorted(BACKENDS)}")
        self.fn = fn
        self.backend = backend
        self.max_specializations = max_specializations
        self.verify = verify
        self.stats = {"traces": 0, "compiles": 0, "disk_hits": 0, "memory_hits": 0, "calls": 0,
                      "executions": {name: 0 for name in BACKENDS}, "time": {}}
        self.specializations = []
        self._fast = None
        self.last_retrace = None
        self._warned_limit = False
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        functools.update_wrapper(self, fn, updated=())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.stats["calls"] += 1
        fast = self._fast
        if fast is not None and not kwargs:
            result = fast(args)
            if result is not MISS:
                return result
        flat_args, structure = self._flatten(args, kwargs)
        spec = self._find(flat_args, structure)
        if spec is None:
            spec = self._specialize(args, kwargs, flat_args, structure)
        self._fast = spec.fast  # the next call tries this specialization's fast path first
        return spec.run(flat_args)

    @staticmethod
    def _flatten(args, kwargs):
        if not kwargs:
            for a in args:
                if isinstance(a, _CONTAINERS):
                    break
            else:  # positional tensors and numbers: the common case, without walking a tree
                return list(args), _flat_structure(len(args))
        return flatten((args, kwargs))

    def _find(self, flat_args, structure):
        for spec in self.specializations:
            if spec.guards.check(flat_args, structure):
                return spec
        return None

    def _specialize(self, args, kwargs, flat_args, structure):
        if self.specializations:
            misses = min((s.guards.misses(flat_args, structure) for s in self.specializations),
                         key=len)
            self.last_retrace = misses[0] if misses else "no guard changed"
            if debug.enabled("retrace"):
                debug.report(f"llgrad.compile: retracing {self.__name__}: {self.last_retrace}")
        if len(self.specializations) >= self.max_specializations and not self._warned_limit:
            self._warned_limit = True
            warnings.warn(f"llgrad.compile: {self.__name__} has been specialized "
                          f"{len(self.specializations)} times (limit {self.max_specializations}); "
                          f"the guard that keeps changing: {self.last_retrace}. Each new "
                          f"specialization is traced and compiled again.", UserWarning,
                          stacklevel=3)
        start = time.perf_counter()
        spec = trace_specialization(self.fn, args, kwargs, flat_args, structure, self.backend,
                                    self.verify)
        total = time.perf_counter() - start
        spec.executable.counters = self.stats["executions"]
        if spec.has_backward:
            spec.backward_executable.counters = self.stats["executions"]
        self.stats["traces"] += 1
        if self.backend == "llvm":
            executables = [spec.executable]
            if spec.has_backward:
                executables.append(spec.backward_executable)
            for executable in executables:  # compiled, or shared through the kernel cache
                source = getattr(getattr(executable, "step", None), "cache_source", "compiled")
                counter = {"disk": "disk_hits", "memory": "memory_hits"}.get(source, "compiles")
                self.stats[counter] += 1
        times = self.stats["time"]
        for phase, seconds in spec.timings.items():
            times[phase] = times.get(phase, 0.0) + seconds
        times["trace"] = times.get("trace", 0.0) + total - sum(spec.timings.values())
        self.specializations.append(spec)
        shown = debug.flags()
        if "graphs" in shown:
            debug.report(spec.explanation())
        if shown & {"kernels", "llvm", "asm"}:
            debug.report(spec.kernel_explanation(llvm="llvm" in shown, asm="asm" in shown))
        return spec

    def explain(self, *args: Any, dot: str | os.PathLike[str] | None = None, kernels: bool = True,
                llvm: bool = False, asm: bool = False, timings: int = 0,
                **kwargs: Any) -> Explanation:
        """What compiling for these arguments gives (no step is run), as text that a REPL shows
        once and `print` prints: the
        forward, backward and optimized graphs, then the native kernels (`kernels=True`: which
        graph nodes each computes, its flops and bytes, its loop IR), their LLVM IR
        (`llvm=True`) and assembly (`asm=True`). `dot=path` also writes the optimized graph as
        Graphviz DOT. `timings=N` also runs a build that times each kernel N times on copies
        of the inputs (nothing of yours is written) and reports each kernel's time per call,
        its share and its GB/s or GFLOP/s."""
        flat_args, structure = flatten((args, kwargs))
        spec = self._find(flat_args, structure) or self._specialize(args, kwargs, flat_args,
                                                                    structure)
        text = spec.explanation()
        if kernels or llvm or asm:
            text += "\n" + spec.kernel_explanation(llvm=llvm, asm=asm)
        if timings:
            text += "\n" + spec.kernel_timings(flat_args, timings)
        if dot is not None:
            with open(dot, "w") as f:
                f.write(to_dot(spec.graph))
        return Explanation(text)

    def explain_retrace(self) -> Explanation:
        """Why the last retrace happened: which guard changed, from what to what (text a REPL
        shows once)."""
        return Explanation(self.last_retrace or "no retrace has happened")

    def reset(self) -> None:
        """Forgets every specialization: the next call traces and compiles again."""
        self.specializations.clear()
        self._fast = None
