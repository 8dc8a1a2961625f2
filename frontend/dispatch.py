"""How a frontend operation runs.

An `Op` is the unit eager autograd records as one node with PyTorch's name. Its forward is a
primitive or a composition of primitives; its VJP rules are written in primitives too. `apply`
runs an op:

* on concrete tensors it calls the forward on NumPy arrays and, if any input requires grad and
  grad mode is on, records one node whose rules will run on arrays (plain backward) or on
  tensors (`create_graph=True`);
* on traced tensors (inside `llgrad.compile`) it hands the op to the tracer, which records the
  primitives into the graph.
"""
from types import MappingProxyType

import numpy as np

from .autograd.grad_mode import STATE
from .autograd.graph import (SavedTensor, ShapeOnly, grad_accumulator, next_sequence_nr,
                             node_class)
from .compiler import dtypes
from . import _profiling
from .compiler.primitive import numpy_result, shape_of
from . import tracing
from .tracing import active_tracer
from .tensor import Tensor

EMPTY = MappingProxyType({})  # the params of ops without any; read-only because shared


class Op:
    """A user-facing differentiable operation.

    `vjp` has one rule per input (None: not differentiable), each mapping
    `(g, out, *inputs, **params)` to that input's cotangent, or is one function returning all of
    them. `saves`/`saves_out` say which inputs/outputs the rules read.
    """

    __slots__ = ("name", "node_cls", "forward", "vjp", "saves", "saves_out", "primitive",
                 "n_outputs", "diff_index", "promote", "rule_reads")

    def __init__(self, node_name, forward, vjp, saves=(), saves_out=False, primitive=None,
                 n_outputs=1, promote=None):
        self.name = node_name
        self.node_cls = node_class(node_name)
        self.forward = forward
        self.vjp = vjp
        self.saves = frozenset(saves)
        self.saves_out = saves_out
        self.primitive = primitive
        self.n_outputs = n_outputs
        # Type promotion of the operands before the forward runs: None (operands used as they
        # are), "common" (PyTorch's result_type), "float" (result_type, then at least float).
        self.promote = promote
        # next_functions has one edge per differentiable input, as in PyTorch.
        if vjp is None:
            self.diff_index = ()
        elif callable(vjp):
            self.diff_index = None  # every input, however many
        else:
            self.diff_index = tuple(i for i, rule in enumerate(vjp) if rule is not None)
        # What each input's rule reads, so a node saves only what the rules of the inputs that
        # require grad need (PyTorch's rule too: `w * x` with x not requiring grad saves x only).
        self.rule_reads = tuple(map(rule_reads, vjp)) if isinstance(vjp, tuple) else None

    def __repr__(self):
        return f"<Op {self.name}>"


def primitive_op(node_name, prim, promote=None):
    """The Op that runs one primitive and uses the primitive's own VJP rules."""
    return Op(node_name, prim.impl, prim.vjp, prim.saves, prim.saves_out, primitive=prim,
              promote=promote)


def apply(op, args, params=EMPTY):
    """Run `op` on `args` (Tensors or plain values); returns a Tensor (or a tuple of them)."""
    profiler = _profiling.ACTIVE
    if profiler is not None and not profiler.busy:  # a profile records: the op is an event
        return profiler.run_op(op, args, params)
    tracer = active_tracer()
    if tracer is not None:
        return tracer.apply(op, python_scalars(args), params)
    datas = []
    requires_grad = False
    # While collecting the operands, note whether type promotion could change anything: the
    # arrays' common dtype, and which kinds of Python scalars appear.
    common = None
    mixed = False
    scalar_kinds = 0  # bit 1: a float scalar, bit 2: an int scalar
    for a in args:
        if isinstance(a, Tensor):
            data = a._data
            if type(data) is not np.ndarray:
                return tracing.apply(op, args, params)  # a traced tensor outside its trace
            if a._requires_grad:
                requires_grad = True
            dtype = data.dtype
            if common is None:
                common = dtype
            elif dtype is not common and dtype != common:
                mixed = True
            datas.append(data)
        else:
            kind = type(a)
            if kind is float:
                scalar_kinds |= 1
            elif kind is int:
                scalar_kinds |= 2
            elif isinstance(a, np.generic):
                return apply(op, python_scalars(args), params)
            datas.append(a)
    promote = op.promote
    if promote is not None and (mixed or common is None or (common.kind != "f" and (
            scalar_kinds & 1 or promote == "float" or (common.kind == "b" and scalar_kinds)))):
        datas = promoted_operands(args, datas, promote == "float")
    try:
        out = op.forward(*datas, **params) if params else op.forward(*datas)
    except ValueError as error:
        raise _as_torch_error(error, datas) from None
    except FloatingPointError:  # NumPy set to raise by the user: keep PyTorch's inf and nan
        with np.errstate(all="ignore"):
            out = op.forward(*datas, **params) if params else op.forward(*datas)
    record = requires_grad and STATE.enabled and op.vjp is not None
    if op.n_outputs == 1:
        result = _new(Tensor)
        result._data = out if type(out) is np.ndarray else np.asarray(out)
        if record:
            _record(op, args, params, (result,))
        return result
    results = tuple(Tensor._wrap(numpy_result(o)) for o in out)
    if record:
        _record(op, args, params, results)
    return results


_new = object.__new__


def _as_torch_error(error, datas):
    """NumPy's broadcasting ValueError as PyTorch's RuntimeError (same wording as PyTorch)."""
    from .compiler.primitive import broadcast_shapes

    if "broadcast" in str(error):
        broadcast_shapes(*(d.shape for d in datas if type(d) is np.ndarray))  # raises
    return error


def python_scalars(args):
    """NumPy scalars (np.float64(2.0), a reduction of an array) as the Python numbers they hold:
    PyTorch treats them as Python scalars, which do not raise a tensor's dtype."""
    return tuple(a.item() if isinstance(a, np.generic) else a for a in args)


def _record(op, args, params, outputs):
    node = _new(op.node_cls)
    node._params = params
    node._vjp = op.vjp
    diff_index = op.diff_index
    if diff_index is None:
        diff_index = tuple(range(len(args)))
    node._diff_index = diff_index
    edges = []
    meta = []
    present = 0  # bit k: the k-th differentiable input requires grad
    for k, i in enumerate(diff_index):
        a = args[i]
        if isinstance(a, Tensor) and a._requires_grad:
            fn = a.grad_fn
            edges.append((fn, a._output_nr) if fn is not None else (grad_accumulator(a), 0))
            data = a._data
            meta.append((data.shape, data.dtype))
            present |= 1 << k
        else:
            edges.append(_NO_EDGE)
            meta.append(None)
    node.next_functions = tuple(edges)
    node._input_meta = meta
    saves, saves_out = _needed_saves(op, diff_index, present)
    saved = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            if i in saves:
                saved.append(SavedTensor(a))
            else:
                data = a._data
                saved.append(ShapeOnly(data.shape, data.dtype))
        else:
            saved.append(a)
    node._saved = saved
    n_outputs = op.n_outputs
    node._n_outputs = n_outputs
    node._seq = next_sequence_nr()  # PyTorch runs ready nodes newest first
    for nr, out in enumerate(outputs):
        if out._data.dtype.kind == "f":  # integer results (x.long(), argmax) never require grad
            out._requires_grad = True
            out.grad_fn = node
            out._output_nr = nr
    if not saves_out:
        node._saved_out = None
    elif n_outputs == 1:
        node._saved_out = SavedTensor(outputs[0], is_output=True)
    else:
        node._saved_out = SavedOutputs(node, outputs)
    node._has_saved = bool(saves) or saves_out
    return node


_NEEDED_SAVES = {}


def _needed_saves(op, diff_index, present):
    """The inputs (and whether the output) this node must keep: those read by the rules of the
    inputs that require grad (`present`, a bit per differentiable input). Cached per pattern."""
    key = (op, present)
    found = _NEEDED_SAVES.get(key)
    if found is None:
        reads = op.rule_reads
        if reads is None or present == (1 << len(diff_index)) - 1:
            found = op.saves, op.saves_out
        else:
            inputs, out = set(), False
            for k, i in enumerate(diff_index):
                if present >> k & 1:
                    inputs |= reads[i][0]
                    out = out or reads[i][1]
            found = op.saves & inputs, op.saves_out and out
        _NEEDED_SAVES[key] = found
    return found


_RULE_READS = {}


def rule_reads(rule):
    """(input positions, reads the output) that a VJP rule `rule(g, out, *inputs, **params)`
    reads, from its bytecode; anything it cannot see through counts as read."""
    if rule is None:
        return frozenset(), False
    found = _RULE_READS.get(rule)
    if found is None:
        found = _RULE_READS[rule] = _scan_rule(rule)
    return found


def _scan_rule(rule):
    import dis

    code = getattr(rule, "__code__", None)
    everything = frozenset(range(64)), True
    if code is None or code.co_flags & 0x04 or code.co_cellvars:  # *args, or nested closures
        return everything
    names = code.co_varnames[:code.co_argcount]
    used = set()
    for instruction in dis.get_instructions(code):
        if instruction.opname.startswith("LOAD_FAST"):
            value = instruction.argval
            used.update(value if isinstance(value, tuple) else (value,))
    inputs = frozenset(k - 2 for k, name in enumerate(names) if k >= 2 and name in used)
    return inputs, len(names) > 1 and names[1] in used


_NO_EDGE = (None, 0)


class SavedOutputs:
    """Every output of a multi-output op, for rules that read them (max(dim) reads its indices):
    unpacks to a tuple, as the rule's `out` argument is one. Outputs this node produced are saved
    without a reference to themselves; others (integer indices) are saved as they are."""

    __slots__ = ("items",)

    def __init__(self, node, outputs):
        self.items = tuple(SavedTensor(o, is_output=o.grad_fn is node) for o in outputs)

    @property
    def data(self):
        return tuple(item.data for item in self.items)

    def check_version(self, node):
        for item in self.items:
            item.check_version(node)

    def unpack_tensor(self, node):
        return tuple(item.unpack_tensor(node) for item in self.items)


# ---- type promotion (PyTorch's result_type) ---------------------------------------------------

def _combine(higher, lower):
    """PyTorch's rule for merging the dtype of a higher-priority group with a lower one."""
    if higher is None:
        return lower
    if lower is None or higher.is_floating_point:
        return higher
    if higher is dtypes.bool_ or lower.is_floating_point:
        return dtypes.promote(higher, lower)
    return higher


def promoted_operands(args, datas, to_float):
    """The operands' arrays cast to the op's computation type; Python scalars stay weak."""
    if _already_promoted(datas, to_float):
        return datas
    target = result_type(*args)
    if to_float and not target.is_floating_point:
        target = dtypes.DEFAULT_FLOAT
    np_target = target.np
    out = []
    for d in datas:
        if type(d) is np.ndarray and d.dtype != np_target:
            d = d.astype(np_target)
        elif to_float and type(d) is bool:
            d = float(d)
        out.append(d)
    return out


def _already_promoted(datas, to_float):
    """The common case, decided without computing result_type: every array operand has one dtype
    and every Python scalar operand is of a category that cannot change it."""
    common = None
    scalar_kinds = ""
    for d in datas:
        kind = type(d)
        if kind is np.ndarray:
            if common is None:
                common = d.dtype
            elif d.dtype != common:
                return False
        elif kind is float:
            scalar_kinds += "f"
        elif kind is int:
            scalar_kinds += "i"
        elif kind is bool:
            scalar_kinds += "b"
        elif d is not None:
            return False
    if common is None:
        return False
    tensor_kind = common.kind
    if tensor_kind == "f":
        return True
    if to_float or "f" in scalar_kinds:
        return False
    return tensor_kind != "b" or "i" not in scalar_kinds


def result_type(*args):
    """The dtype PyTorch gives an op over `args`: tensors with dimensions first, then 0-dim
    tensors, then Python scalars, each lower group only able to raise the category."""
    dim = zero_dim = scalar = None
    only_weak = True
    for a in args:
        if isinstance(a, Tensor) and a._weak:
            # A traced stand-in for a Python number (a runtime learning rate) promotes like
            # one; among such numbers only, arithmetic stays in double precision, as Python's.
            d = dtypes.default_for_category(a.dtype.category)
            scalar = d if scalar is None else dtypes.promote(scalar, d)
            continue
        if isinstance(a, Tensor):
            only_weak = False
            d = a.dtype
            if a._data.ndim:
                dim = d if dim is None else dtypes.promote(dim, d)
            else:
                zero_dim = d if zero_dim is None else dtypes.promote(zero_dim, d)
        elif a is not None:
            category = dtypes.scalar_category(a)
            if category is None:
                raise TypeError(f"unsupported operand type: {type(a).__name__}")
            d = dtypes.default_for_category(category)
            scalar = d if scalar is None else dtypes.promote(scalar, d)
    if only_weak and any(isinstance(a, Tensor) for a in args):
        return dtypes.float64 if scalar.is_floating_point else scalar
    return _combine(dim, _combine(zero_dim, scalar))


# ---- primitives called directly on tensors (VJP rules under create_graph, composite forwards
# on traced values) record under PyTorch's names for the same operation ----------------------

_PRIMITIVE_NODE_NAMES = {
    "log1p": "Log1PBackward0", "pow": "PowBackward1", "cast": "ToCopyBackward0",
    "reduce_sum": "SumBackward1", "reduce_max": "AmaxBackward0", "reduce_min": "AminBackward0",
    "broadcast_to": "ExpandBackward0", "reshape": "ViewBackward0", "copy": "CloneBackward0",
    "slice": "SliceBackward0", "pad": "ConstantPadNdBackward0", "concat": "CatBackward0",
    "take": "IndexSelectBackward0", "matmul": "MmBackward0", "abs": "AbsBackward0",
    "round": "RoundBackward0",
}
_PRIMITIVE_OPS = {}


def _node_name(prim):
    name = _PRIMITIVE_NODE_NAMES.get(prim.name)
    if name is None:
        name = "".join(part.capitalize() for part in prim.name.split("_")) + "Backward0"
    return name


def _node_name_for_call(prim, args, params):
    """The name PyTorch's formulas give the same call: a 2-D permute is their .t(), a swap of
    the last two dims .transpose(-2, -1), a batched matmul bmm."""
    if prim.name == "permute":
        perm, n = params["perm"], len(params["perm"])
        if perm == (1, 0):
            return "TBackward0"
        if n > 2 and perm == tuple(range(n - 2)) + (n - 1, n - 2):
            return "TransposeBackward0"
    elif prim.name == "matmul" and len(shape_of(args[0])) > 2:
        return "BmmBackward0"
    return _node_name(prim)


def _apply_primitive_to_tensors(prim, args, params):
    name = _node_name_for_call(prim, args, params)
    op = _PRIMITIVE_OPS.get((prim, name))
    if op is None:
        op = _PRIMITIVE_OPS[(prim, name)] = primitive_op(name, prim)
    return apply(op, args, params)


def _register():
    from .compiler.primitive import register_handler

    register_handler(Tensor, _apply_primitive_to_tensors)


_register()
