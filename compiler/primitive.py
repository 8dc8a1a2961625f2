"""The Primitive object and how a call to one is dispatched.

A primitive is one operation of the compiler's closed set. Calling it dispatches on its arguments:

* plain NumPy arrays and Python scalars run the NumPy reference kernel (`impl`) directly;
* a value type that registered a handler (the frontend's `Tensor`, the graph IR's `Value`) takes
  over: it records an autograd node, or appends a node to the graph being traced.

That one rule lets a VJP written in primitives run eagerly on arrays (fast backward), on Tensors
(`create_graph=True` records the backward itself) and on graph values (the compiler's autodiff).
"""
import numpy as np

from . import dtypes

_HANDLERS = {}


def register_handler(value_type, handler):
    """`handler(primitive, args, params)` runs whenever `value_type` appears among the arguments."""
    _HANDLERS[value_type] = handler


class Primitive:
    """One primitive: its NumPy reference (`impl`), shape/dtype rule (`abstract`) and VJP.

    `vjp` holds one rule per input, like a line of PyTorch's derivatives.yaml: rule `i` maps
    `(g, out, *inputs, **params)` to the cotangent of input `i` (None: not differentiable), so a
    caller computes only the cotangents it needs. A primitive with a variable number of inputs
    (concat) gives instead one function returning every input's cotangent.
    `saves` names the inputs the rules read and `saves_out` whether they read the output; eager
    autograd keeps only those alive, as PyTorch does. Rules may return cotangents with broadcast
    shapes or another float type: callers sum them back to each input's shape and cast (PyTorch's
    engine does too).

    `lower` is the primitive's lowering for the native back end: for elementwise primitives,
    `lower(ops, *operands, **params)` emits the LLVM instructions for one element (or one vector
    of elements) through `ops`, the code generator's typed instruction helpers; other families
    give the loop-IR builder what it needs (see compiler/lowering.py).
    """

    __slots__ = ("name", "impl", "abstract", "vjp", "saves", "saves_out", "nondiff", "family",
                 "lower")

    def __init__(self, name, impl, abstract, vjp=None, saves=(), saves_out=False, family=None,
                 lower=None):
        self.name = name
        self.impl = impl
        self.abstract = abstract
        self.vjp = vjp
        self.saves = tuple(saves)
        self.saves_out = saves_out
        self.nondiff = vjp is None or (isinstance(vjp, tuple) and not any(vjp))
        self.family = family
        self.lower = lower

    def __call__(self, *args, **params):
        for a in args:
            handler = _HANDLERS.get(type(a))
            if handler is not None:
                return handler(self, args, params)
        try:
            return self.impl(*args, **params)
        except FloatingPointError:
            # The user set NumPy to raise on inf/nan arithmetic; PyTorch's semantics (log(0) is
            # -inf, 0/0 is nan) hold in llgrad whatever NumPy's error state.
            with np.errstate(all="ignore"):
                return self.impl(*args, **params)

    def __repr__(self):
        return f"<primitive {self.name}>"

    def cotangents(self, g, out, inputs, params, needed):
        """Cotangents of the inputs flagged in `needed` (None elsewhere)."""
        return vjp_cotangents(self.vjp, g, out, inputs, params, needed)


def vjp_cotangents(vjp, g, out, inputs, params, needed):
    """Apply a VJP given as per-input rules or as one all-inputs function."""
    if callable(vjp):
        cts = vjp(g, out, *inputs, **params)
        return tuple(ct if need else None for ct, need in zip(cts, needed))
    return tuple(rule(g, out, *inputs, **params) if need and rule is not None else None
                 for rule, need in zip(vjp, needed))


REGISTRY = {}


def define(name, impl, abstract, vjp=None, saves=(), saves_out=False, family=None, lower=None):
    prim = Primitive(name, impl, abstract, vjp, saves, saves_out, family, lower)
    assert name not in REGISTRY, f"primitive {name} defined twice"
    REGISTRY[name] = prim
    return prim


# ---- shapes of values of any kind (ndarray, numpy scalar, Python scalar, Tensor, graph Value) ----

def shape_of(v):
    shape = getattr(v, "shape", None)
    return () if shape is None else tuple(shape)


def numel(shape):
    """Number of elements of a shape (1 for a scalar)."""
    n = 1
    for d in shape:
        n *= d
    return n


def dtype_of(v):
    """The DType of any value kind: graph values and Tensors carry one, arrays a NumPy dtype."""
    dtype = v.dtype
    return dtype if isinstance(dtype, dtypes.DType) else dtypes.from_numpy(dtype)


def broadcast_shapes(*shapes):
    """NumPy/PyTorch broadcasting of shapes, with PyTorch's error wording."""
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, d in enumerate(s, ndim - len(s)):
            if d == 1:
                continue
            if out[i] == 1:
                out[i] = d
            elif out[i] != d:
                raise RuntimeError(_mismatch_message(shapes, i - ndim))
    return tuple(out)


def _mismatch_message(shapes, axis_from_end):
    a, b = [s for s in shapes if len(s) >= -axis_from_end][:2]
    return (f"The size of tensor a ({a[axis_from_end]}) must match the size of tensor b "
            f"({b[axis_from_end]}) at non-singleton dimension {len(max(shapes, key=len)) + axis_from_end}")


def normalize_axes(axes, ndim):
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, int):
        axes = (axes,)
    return tuple(sorted(a % ndim if ndim else 0 for a in axes))


class Aval:
    """The abstract value of a graph value: shape and dtype, nothing else."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(shape)
        self.dtype = dtype

    def __eq__(self, other):
        return isinstance(other, Aval) and self.shape == other.shape and self.dtype is other.dtype

    def __hash__(self):
        return hash((self.shape, self.dtype.name))

    def __repr__(self):
        return f"{self.dtype.name}{list(self.shape)}"


def numpy_result(x):
    """NumPy returns scalars for 0-d results; callers that keep values want arrays."""
    return x if type(x) is np.ndarray else np.asarray(x)
