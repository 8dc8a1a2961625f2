"""A compiled nn.Module, and PyTorch's torch.compile keywords and what they mean here.

`llgrad.compile(model)` returns an `OptimizedModule`, as PyTorch's does: a Module whose only
child is the original (`_orig_mod`, so parameters and `state_dict()` keys carry that prefix, as
in PyTorch), whose attributes read through to it, and whose call runs the compiled forward.
"""
from ..nn.modules.module import Module

# torch.compile's modes. llgrad has one way of generating code; each accepted mode is listed
# with what it means here (nothing is silently ignored: an unknown mode is an error).
MODES = {
    None: "llgrad's code generation",
    "default": "llgrad's code generation",
    "reduce-overhead": "llgrad's code generation (a call already costs one native call)",
    "max-autotune": "llgrad's code generation (its GEMM blocking is fixed per CPU, not tuned)",
    "max-autotune-no-cudagraphs": "llgrad's code generation (CPU only: no CUDA graphs)",
}

# torch.compile's backend names, and the llgrad back end that plays each one's part.
BACKEND_ALIASES = {"inductor": "llvm", "eager": "interp", "aot_eager": "interp"}


def resolve_options(backend, mode, dynamic, fullgraph, options):
    """llgrad's back end name for PyTorch's keyword arguments, or a clear error."""
    if mode not in MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: "
                           f"{', '.join(m for m in MODES if m)}")
    if dynamic:
        raise ValueError("llgrad.compile(dynamic=True) is not supported: llgrad specializes "
                         "every compiled function on input shapes (a new shape traces again); "
                         "use dynamic=None or dynamic=False")
    if fullgraph not in (True, False):
        raise TypeError(f"fullgraph must be True or False, not {fullgraph!r}")
    if options:
        raise ValueError(f"llgrad.compile has no options {sorted(options)}: its code "
                         f"generation takes none")
    if callable(backend):
        raise ValueError("llgrad.compile does not take a custom backend callable; use "
                         "backend='llvm' (native code) or 'interp' (the reference interpreter)")
    return BACKEND_ALIASES.get(backend, backend)


class OptimizedModule(Module):
    """A compiled module: calls run `compiled` (the CompiledFunction over the original's
    forward); everything else is the original module's."""

    def __init__(self, module, compiled):
        super().__init__()
        self._orig_mod = module
        object.__setattr__(self, "_compiled", compiled)

    def forward(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["_orig_mod"], name)

    # What a compiled function offers, on the compiled module too.
    @property
    def stats(self):
        return self._compiled.stats

    def explain(self, *args, **kwargs):
        return self._compiled.explain(*args, **kwargs)

    def explain_retrace(self):
        return self._compiled.explain_retrace()

    @property
    def specializations(self):
        return self._compiled.specializations
