"""The loop-level IR between the graph and LLVM: kernels made of loops, loads, stores and locals.

A `Kernel` is a function over buffers. Its body is a list of statements: `Loop`s over an index
range (one loop per kernel may be marked `vector`: its iterations run `lanes` at a time), `Let`
(a local value), `Accumulate` (a reduction into a local), `Store`, `Check` (a bounds check that
makes the whole step fail before anything is written) and `LibCall` (a call to a shared native
routine: the GEMM, the sort).

Expressions are trees of `Const`, `Var` (a loop index), `Load`, `Apply` (an elementwise primitive,
lowered by the primitive's own rule) and `Ref` (reading a local). Indices are ordinary int64
expressions; `linear_coefficient` tells the code generator how an index moves with a loop
variable (1: contiguous, 0: invariant, None: data dependent), which decides vector loads.
"""
import itertools

import numpy as np

from . import dtypes
from .printer import type_str
from .primitive import Aval

INDEX = dtypes.int64


# ---- buffers -----------------------------------------------------------------------------------

class Buffer:
    """Memory a kernel reads or writes: a graph input, an escaping output, state written in place,
    a constant, or a temporary in the arena. Strides and offset are in elements."""

    __slots__ = ("name", "dtype", "shape", "strides", "kind", "index", "streamed")

    def __init__(self, name, dtype, shape, kind, strides=None):
        self.name = name
        self.dtype = dtype
        self.shape = tuple(shape)
        self.strides = tuple(strides) if strides is not None else contiguous_strides(shape)
        # "input" | "output" | "temp" (in the arena) | "const" | "stack" (a kernel's scratch,
        # on the stack of each invocation: each parallel chunk has its own)
        self.kind = kind
        self.index = None  # position in the entry's argument table, set by the memory plan
        # A fresh output no kernel reads, big enough to be written with non-temporal stores
        # (set by the lowering; such arrays are allocated aligned: runtime/memory.py).
        self.streamed = False

    @property
    def nbytes(self):
        if not self.shape:
            return self.dtype.itemsize
        extent = 1 + sum((d - 1) * abs(s) for d, s in zip(self.shape, self.strides) if d)
        return extent * self.dtype.itemsize if all(self.shape) else 0

    def __repr__(self):
        return f"{self.name}:{type_str(Aval(self.shape, self.dtype))}"


def contiguous_strides(shape):
    strides, step = [], 1
    for d in reversed(tuple(shape)):
        strides.append(step)
        step *= max(d, 1)
    return tuple(reversed(strides))


class View:
    """A strided window on a buffer: what a load or a library call sees (transpose, slice,
    broadcast, reshape of contiguous memory are all views)."""

    __slots__ = ("buffer", "offset", "shape", "strides")

    def __init__(self, buffer, offset, shape, strides):
        self.buffer, self.offset = buffer, offset
        self.shape, self.strides = tuple(shape), tuple(strides)

    @classmethod
    def whole(cls, buffer):
        return cls(buffer, 0, buffer.shape, buffer.strides)

    @property
    def dtype(self):
        return self.buffer.dtype

    def is_contiguous(self):
        return all(s == c for s, c, d in zip(self.strides, contiguous_strides(self.shape),
                                             self.shape) if d != 1)

    def __repr__(self):
        return f"{self.buffer.name}@{self.offset}{list(self.shape)}/{list(self.strides)}"


# ---- expressions -------------------------------------------------------------------------------

class Expr:
    __slots__ = ("dtype",)


class Const(Expr):
    __slots__ = ("value",)

    def __init__(self, value, dtype):
        self.value, self.dtype = value, dtype

    def __repr__(self):
        v = self.value
        return repr(bool(v)) if self.dtype is dtypes.bool_ else repr(v)


class Var(Expr):
    """A loop index (int64)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name, self.dtype = name, INDEX

    def __repr__(self):
        return self.name


class Load(Expr):
    __slots__ = ("buffer", "index")

    def __init__(self, buffer, index):
        self.buffer, self.index, self.dtype = buffer, index, buffer.dtype

    def __repr__(self):
        return f"{self.buffer.name}[{self.index!r}]"


class Apply(Expr):
    """An elementwise primitive (or index arithmetic: add/mul on int64) on expressions."""

    __slots__ = ("prim", "args", "params")

    def __init__(self, prim, args, params, dtype):
        self.prim, self.args, self.params, self.dtype = prim, tuple(args), params, dtype

    def __repr__(self):
        if self.prim.name in _INFIX and self.dtype is INDEX:
            return f"({self.args[0]!r} {_INFIX[self.prim.name]} {self.args[1]!r})"
        params = "".join(f", {k}={_short(v)}" for k, v in self.params.items())
        return f"{self.prim.name}({', '.join(map(repr, self.args))}{params})"


_INFIX = {"add": "+", "mul": "*", "sub": "-"}


def _short(value):
    return value.name if isinstance(value, dtypes.DType) else repr(value)


class Local:
    """A named scalar (or, in a vector loop, vector) value: a Let result or an accumulator."""

    _names = itertools.count()
    __slots__ = ("name", "dtype")

    def __init__(self, dtype, hint="t"):
        self.name = f"{hint}{next(Local._names)}"
        self.dtype = dtype

    def __repr__(self):
        return f"%{self.name}"


class Ref(Expr):
    __slots__ = ("local",)

    def __init__(self, local):
        self.local, self.dtype = local, local.dtype

    def __repr__(self):
        return repr(self.local)


# ---- statements --------------------------------------------------------------------------------

class Loop:
    __slots__ = ("var", "extent", "body", "vector")

    def __init__(self, var, extent, body, vector=False):
        self.var, self.extent, self.body, self.vector = var, extent, body, vector


class Let:
    __slots__ = ("local", "value")

    def __init__(self, local, value):
        self.local, self.value = local, value


class Assign:
    """`local = value` for a local that changes inside a loop (argmax's running best)."""

    __slots__ = ("local", "value")

    def __init__(self, local, value):
        self.local, self.value = local, value


class Accumulate:
    """`local = combine(local, value)`; `combine` is "add", "max", "min", "or" or "and". The
    identity starts the vector partial sums a vector loop keeps."""

    __slots__ = ("local", "combine", "value")

    def __init__(self, local, combine, value):
        self.local, self.combine, self.value = local, combine, value


class Store:
    """buffer[index] = value, or += value with `add=True` (scatter_add, index_add)."""

    __slots__ = ("buffer", "index", "value", "add")

    def __init__(self, buffer, index, value, add=False):
        self.buffer, self.index, self.value, self.add = buffer, index, value, add


class Check:
    """Unless `condition` holds, the whole call returns error `code`, reporting `info` (the
    offending index) to the caller. Checks run before anything the caller can see is written."""

    __slots__ = ("condition", "code", "info")

    def __init__(self, condition, code, info=None):
        self.condition, self.code, self.info = condition, code, info


class Pointer:
    """The address of `buffer[index]` (index an int64 expression): a library call's operand."""

    __slots__ = ("buffer", "index")

    def __init__(self, buffer, index):
        self.buffer, self.index = buffer, index

    def __repr__(self):
        return f"&{self.buffer.name}[{self.index!r}]"


class LibCall:
    """A call of a shared native routine (`routine` names it, see codegen.library). `args` are
    Pointers, Python ints (i64), ("i32", value) or None (a null pointer); `written` lists the
    buffers it writes (the others it only reads)."""

    __slots__ = ("routine", "args", "written")

    def __init__(self, routine, args, written):
        self.routine, self.args, self.written = routine, tuple(args), tuple(written)


class Kernel:
    """One function of the compiled step: `body` over `buffers` (parameters, in order).
    `nodes` are the graph nodes it computes (for explain); `checks` whether it can fail."""

    def __init__(self, name, buffers, body, nodes=(), flops=0):
        self.name = name
        self.buffers = list(buffers)
        self.body = body
        self.nodes = list(nodes)
        self.flops = flops
        self._reads = self._writes = None  # computed once: the body does not change
        # Chunk size when the kernel's outer loop runs in parallel (see parallel_grain), or None.
        self.grain = None
        self.aliased = False  # two of its buffers share memory (an in-place arena reuse)

    @property
    def params(self):
        """The buffers passed to the kernel (stack scratch is its own)."""
        return [b for b in self.buffers if b.kind != "stack"]

    @property
    def stack(self):
        return [b for b in self.buffers if b.kind == "stack"]

    @property
    def can_fail(self):
        return any(isinstance(s, Check) for s in walk(self.body))

    def reads(self):
        """Buffers whose contents the kernel reads (a library call reads its operands)."""
        if self._reads is None:
            loaded = {e.buffer for e in walk_exprs(self.body) if isinstance(e, Load)}
            passed = set()
            for s in walk(self.body):
                if isinstance(s, LibCall):
                    passed |= {a.buffer for a in s.args if isinstance(a, Pointer)}
            self._reads = loaded | (passed - self.writes())
        return self._reads

    def writes(self):
        if self._writes is None:
            found = {s.buffer for s in walk(self.body) if isinstance(s, Store)}
            for s in walk(self.body):
                if isinstance(s, LibCall):
                    found |= set(s.written)
            self._writes = found
        return self._writes

    def __repr__(self):
        return format_kernel(self)


# ---- traversal ---------------------------------------------------------------------------------

def walk(body):
    """Every statement, depth first."""
    for s in body:
        yield s
        if isinstance(s, Loop):
            yield from walk(s.body)


def store_sites(body, loops=()):
    """(store, the loops around it, outermost first) for every Store in `body`."""
    for s in body:
        if isinstance(s, Store):
            yield s, loops
        elif isinstance(s, Loop):
            yield from store_sites(s.body, loops + (s,))


def children(e):
    if isinstance(e, Load):
        return (e.index,)
    if isinstance(e, Apply):
        return e.args
    return ()


def walk_expr(e):
    stack = [e]
    while stack:
        x = stack.pop()
        yield x
        stack.extend(children(x))


def statement_exprs(s):
    if isinstance(s, Let):
        return (s.value,)
    if isinstance(s, (Accumulate, Assign)):
        return (s.value,)
    if isinstance(s, LibCall):
        return tuple(a.index for a in s.args if isinstance(a, Pointer))
    if isinstance(s, Store):
        return (s.index, s.value)
    if isinstance(s, Check):
        return (s.condition,) if s.info is None else (s.condition, s.info)
    return ()


def walk_exprs(body):
    for s in walk(body):
        for e in statement_exprs(s):
            yield from walk_expr(e)


# ---- index analysis ----------------------------------------------------------------------------

def linear_coefficient(index, var, invariant_locals=()):
    """How `index` (an int64 expression) changes when loop variable `var` grows by one: an int
    (0 when it does not depend on var), or None when it is not affine in var (a data-dependent
    index, a product of variables)."""
    if isinstance(index, Const):
        return 0
    if isinstance(index, Var):
        return 1 if index.name == var else 0
    if isinstance(index, Ref):
        return 0 if index.local in invariant_locals else None
    if isinstance(index, Load):
        return 0 if linear_coefficient(index.index, var, invariant_locals) == 0 else None
    if isinstance(index, Apply):
        name = index.prim.name
        coefs = [linear_coefficient(a, var, invariant_locals) for a in index.args]
        if any(c is None for c in coefs):
            return None
        if name in ("add", "sub"):
            return coefs[0] + coefs[1] if name == "add" else coefs[0] - coefs[1]
        if name == "mul":
            a, b = index.args
            if coefs[0] == 0 and coefs[1] == 0:
                return 0
            if isinstance(b, Const):
                return coefs[0] * b.value
            if isinstance(a, Const):
                return coefs[1] * a.value
            return None
        return 0 if all(c == 0 for c in coefs) else None
    return None


def depends_on(expr, var):
    return any(isinstance(e, Var) and e.name == var for e in walk_expr(expr))


# ---- printing ----------------------------------------------------------------------------------

def format_kernel(kernel):
    params = ", ".join(f"{'streamed ' if b.streamed else ''}{b.kind} {b!r}"
                       for b in kernel.buffers)
    lines = [f"kernel {kernel.name}({params}) {{"]
    _format_body(kernel.body, lines, "  ")
    lines.append("}")
    return "\n".join(lines)


def _format_body(body, lines, indent):
    for s in body:
        if isinstance(s, Loop):
            vector = "  vector" if s.vector else ""
            lines.append(f"{indent}for {s.var.name} in 0..{s.extent}{vector}:")
            _format_body(s.body, lines, indent + "  ")
        elif isinstance(s, Let):
            lines.append(f"{indent}{s.local!r} = {s.value!r}")
        elif isinstance(s, Accumulate):
            lines.append(f"{indent}{s.local!r} {s.combine}= {s.value!r}")
        elif isinstance(s, Assign):
            lines.append(f"{indent}{s.local!r} := {s.value!r}")
        elif isinstance(s, Store):
            op = "+=" if s.add else "="
            lines.append(f"{indent}{s.buffer.name}[{s.index!r}] {op} {s.value!r}")
        elif isinstance(s, Check):
            lines.append(f"{indent}check {s.condition!r} else fail {s.code} ({s.info!r})")
        elif isinstance(s, LibCall):
            lines.append(f"{indent}call {s.routine}({', '.join(map(repr, s.args))})")


def index_of(view, indices):
    """The flat element index of `view` at per-dimension index expressions `indices`."""
    terms = [Const(view.offset, INDEX)] if view.offset else []
    for ix, stride, dim in zip(indices, view.strides, view.shape):
        if dim == 1 or stride == 0:
            continue
        terms.append(ix if stride == 1 else mul(ix, Const(stride, INDEX)))
    if not terms:
        return Const(0, INDEX)
    total = terms[0]
    for t in terms[1:]:
        total = add(total, t)
    return total


def _index_prim(name):
    from .primitive import REGISTRY

    return REGISTRY[name]


def add(a, b):
    if isinstance(a, Const) and a.value == 0:
        return b
    if isinstance(b, Const) and b.value == 0:
        return a
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(a.value + b.value, INDEX)
    return Apply(_index_prim("add"), (a, b), {}, INDEX)


def mul(a, b):
    if (isinstance(a, Const) and a.value == 0) or (isinstance(b, Const) and b.value == 0):
        return Const(0, INDEX)
    if isinstance(b, Const) and b.value == 1:
        return a
    if isinstance(a, Const) and a.value == 1:
        return b
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(a.value * b.value, INDEX)
    return Apply(_index_prim("mul"), (a, b), {}, INDEX)


def const_array(value):
    return np.asarray(value)


# ---- rewriting ---------------------------------------------------------------------------------

def substitute(e, mapping):
    """`e` with loop variables replaced (`mapping`: variable name -> expression)."""
    if isinstance(e, Var):
        return mapping.get(e.name, e)
    if isinstance(e, Load):
        return Load(e.buffer, substitute(e.index, mapping))
    if isinstance(e, Apply):
        args = [substitute(a, mapping) for a in e.args]
        if e.dtype is INDEX and e.prim.name == "add":
            return add(*args)
        if e.dtype is INDEX and e.prim.name == "mul":
            return mul(*args)
        return Apply(e.prim, args, e.params, e.dtype)
    return e


def substitute_statements(body, mapping):
    result = []
    for s in body:
        if isinstance(s, Loop):
            result.append(Loop(s.var, s.extent, substitute_statements(s.body, mapping), s.vector))
        elif isinstance(s, Let):
            result.append(Let(s.local, substitute(s.value, mapping)))
        elif isinstance(s, Assign):
            result.append(Assign(s.local, substitute(s.value, mapping)))
        elif isinstance(s, Accumulate):
            result.append(Accumulate(s.local, s.combine, substitute(s.value, mapping)))
        elif isinstance(s, Store):
            result.append(Store(s.buffer, substitute(s.index, mapping),
                                substitute(s.value, mapping), s.add))
        elif isinstance(s, Check):
            info = None if s.info is None else substitute(s.info, mapping)
            result.append(Check(substitute(s.condition, mapping), s.code, info))
        elif isinstance(s, LibCall):
            args = [Pointer(a.buffer, substitute(a.index, mapping)) if isinstance(a, Pointer)
                    else a for a in s.args]
            result.append(LibCall(s.routine, args, s.written))
        else:
            result.append(s)
    return result


def collapse_dimensions(statements, shape, variables):
    """Merge adjacent loop dimensions that every index walks as one (a contiguous elementwise
    loop over [32, 10] becomes one loop of 320): fewer, longer loops vectorize better and make
    less code. Returns (statements, shape, variables) for the loops still to be built."""
    shape, variables = list(shape), list(variables)
    indices = [e.index for e in walk_exprs(statements) if isinstance(e, Load)]
    indices += [s.index for s in walk(statements) if isinstance(s, Store)]
    k = len(shape) - 2
    while k >= 0:
        outer, inner = variables[k].name, variables[k + 1].name
        mergeable = shape[k + 1] > 0
        for index in indices:
            a = linear_coefficient(index, outer)
            b = linear_coefficient(index, inner)
            if a is None or b is None or a != b * shape[k + 1]:
                mergeable = False
                break
        if mergeable:
            merged = Var(f"{inner}m")
            mapping = {outer: Const(0, INDEX), inner: merged}
            statements = substitute_statements(statements, mapping)
            indices = [substitute(i, mapping) for i in indices]
            shape[k:k + 2] = [shape[k] * shape[k + 1]]
            variables[k:k + 2] = [merged]
        k -= 1
    return statements, tuple(shape), tuple(variables)


def hoist_invariants(body, written=None):
    """Move `Let`s whose value is the same in every iteration of their loop to just before it
    (LICM at the loop-IR level: the short LLVM pipeline has no pass for it). A value is
    invariant when it reads neither the loop's variable, nor a local that changes in the loop,
    nor a buffer the loop writes."""
    written = written if written is not None else set()
    result = []
    for s in body:
        if not isinstance(s, Loop):
            result.append(s)
            continue
        inner_written = {x.buffer for x in walk(s.body) if isinstance(x, Store)}
        inner_written |= {b for x in walk(s.body) if isinstance(x, LibCall) for b in x.written}
        loop_body = hoist_invariants(s.body, written | inner_written)
        variant = {x.local for x in walk(loop_body) if isinstance(x, (Accumulate, Assign))}
        hoisted, kept = [], []
        mutable = set(variant)  # accumulators: their `Let` restarts them every iteration
        for x in loop_body:
            if isinstance(x, Let) and x.local not in mutable and _invariant(
                    x.value, s.var.name, variant, written | inner_written):
                hoisted.append(x)
            else:
                if isinstance(x, Let):
                    variant.add(x.local)
                kept.append(x)
        result.extend(hoisted)
        result.append(Loop(s.var, s.extent, kept, s.vector))
    return result


def _invariant(expr, var, variant_locals, written):
    for e in walk_expr(expr):
        if isinstance(e, Var) and e.name == var:
            return False
        if isinstance(e, Ref) and e.local in variant_locals:
            return False
        if isinstance(e, Load) and e.buffer in written:
            return False
    return True


# ---- parallel loops ----------------------------------------------------------------------------

# Names of kernel-local scratch buffers (lowering.py): on the stack when small, else shared.
SCRATCH_PREFIXES = ("a", "r", "c")
# Scratch up to this size lives on each invocation's stack.
STACK_SCRATCH_BYTES = 128 * 1024
# Work below this many element-operations per kernel stays on one thread: starting a region
# costs well under a microsecond while the pool's workers spin (they do for ~1 ms after a
# region), waking a sleeping one tens, and on a busy machine a worker that joined and lost its
# core holds the region for a time slice. Since small GEMMs run column chunks on every thread
# (codegen/gemm.py), the optimizer updates after them read gradients half written by another
# core and write weights the other core read: the 64-128-128-10 step's SGD update of 16K
# weights took 21K cycles serially at 2 threads (7.6K at 1 thread), 12K as 2 chunks; with 1 << 18
# (serial) the step's kernels took 152K cycles per call, with 1 << 15 146K (best of 4 runs).
PARALLEL_MIN_WORK = 1 << 15
# A chunk carries about this much work, whatever the thread count (the chunking, and so every
# result bit, must not depend on it).
CHUNK_WORK = 1 << 14


def parallel_grain(kernel, lanes):
    """The chunk size with which the kernel's outer loop can run on several threads, or None.

    It can when the body is some `Let`s (invariants) and one loop whose iterations touch
    disjoint output (no accumulation into locals declared outside it), the kernel cannot fail
    a check, and there is enough work. Chunks of a vector loop are whole vectors."""
    body = kernel.body
    if kernel.can_fail or not body or not isinstance(body[-1], Loop):
        return None
    if any(b.kind == "temp" and b.name.startswith(SCRATCH_PREFIXES) for b in kernel.buffers):
        return None  # scratch too big for the stack is shared by all iterations
    if not all(isinstance(s, Let) for s in body[:-1]):
        return None
    loop = body[-1]
    declared = {s.local for s in walk(loop.body) if isinstance(s, Let)}
    for s in walk(loop.body):
        if isinstance(s, (Accumulate, Assign)) and s.local not in declared:
            return None
        if isinstance(s, (LibCall, Check)) or (isinstance(s, Store) and s.add):
            return None
    per_iteration = max(1, _work(loop.body))
    if loop.extent * per_iteration < PARALLEL_MIN_WORK or loop.extent < 2:
        return None
    grain = max(1, CHUNK_WORK // per_iteration)
    if loop.vector:
        grain = -(-grain // lanes) * lanes
    return grain if grain < loop.extent else None


def _work(body):
    """Element-operations in one pass over `body` (loop extents times statements)."""
    total = 0
    for s in body:
        if isinstance(s, Loop):
            total += s.extent * max(1, _work(s.body))
        else:
            total += 1
    return total
