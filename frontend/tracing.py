"""Tracing: running a Python function with symbolic tensors to record a graph.

While a `Tracer` is active, every op goes to it (`dispatch.apply` checks `ACTIVE`). Tensors the
function touches that existed before the trace (its arguments, module parameters, optimizer
state, `.grad` slots) are *lifted*: for the duration of the trace their storage is swapped for a
graph input, so every path that reads them, however indirect, sees the symbolic value; in-place
updates rebind it. When the function returns, the tracer notes what changed (the state writes and
`.grad` assignments to replay on every call) and puts every lifted tensor back as it was.

Backward inside the traced function runs the compiler's autodiff pass on the recorded graph.
"""
import traceback
import weakref

import numpy as np

from .compiler import autodiff, dtypes
from .compiler.ir import Graph, custom_vjp
from .compiler.primitive import Aval
from .compiler import primitives as P

ACTIVE = None  # the Tracer while a function is being traced


class TracingError(RuntimeError):
    """A traced function did something that needs concrete values."""


def _user_location():
    """The innermost stack frame outside llgrad: where in the user's code something happened."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if "/llgrad/" not in frame.filename and "/frontend/" not in frame.filename \
                and "/compiler/" not in frame.filename:
            return f"{frame.filename}:{frame.lineno} ({frame.line})"
    return "<unknown>"


def concrete_value_error(what):
    return TracingError(
        f"{what} needs a concrete value, but it was called on a traced tensor inside a function "
        f"being compiled by llgrad.compile, at {_user_location()}. Data-dependent Python control "
        f"flow cannot be compiled: keep the decision in tensor ops (for example "
        f"llgrad.where(cond, a, b) instead of `if`, llgrad.clamp instead of min()), or move the "
        f"call outside the compiled function.")


def apply(op, args, params):
    if ACTIVE is None:
        raise TracingError("a traced tensor was used after its llgrad.compile trace ended; do not "
                           "keep tensors from inside a compiled function in global state")
    return ACTIVE.apply(op, args, params)


def constant(tensor):
    return ACTIVE.constant(tensor) if ACTIVE is not None else tensor


def rebind(tensor, result):
    ACTIVE.rebind(tensor, result)


def traced_backward(tensors, grads, retain_graph, create_graph, inputs):
    if ACTIVE is None:
        return False
    return ACTIVE.backward(tensors, grads, retain_graph, create_graph, inputs)


def traced_grad(outputs, inputs, grads, retain_graph, create_graph):
    if ACTIVE is None:
        return None
    return ACTIVE.grad(outputs, inputs, grads, retain_graph, create_graph)


def random_tensor(draw, shape, dtype):
    """A random tensor: drawn now in eager mode; under a trace, drawn again at every call of the
    compiled function (a runtime input), so the generator advances exactly as in eager."""
    from .tensor import Tensor

    if ACTIVE is None:
        return Tensor._wrap(draw())
    return ACTIVE.runtime_tensor(draw, Aval(shape, dtype))


def runtime_scalar(getter, dtype=dtypes.float32):
    """A Python number read at every call (a learning rate): a 0-d tensor while tracing, the
    number itself in eager mode."""
    if ACTIVE is None:
        return getter()
    return ACTIVE.runtime_tensor(lambda: np.asarray(getter(), dtype=dtype.np), Aval((), dtype))


def guard(description, getter):
    """Assume `getter()` keeps its current value for this trace (a retrace happens if not);
    returns the value. Python branches on runtime state use this."""
    value = getter()
    if ACTIVE is not None:
        ACTIVE.guard(description, getter, value)
    return value


class outside_trace:
    """Create concrete tensors (optimizer state) even while a trace is running."""

    def __enter__(self):
        global ACTIVE
        self._saved, ACTIVE = ACTIVE, None

    def __exit__(self, *exc):
        global ACTIVE
        ACTIVE = self._saved
        return False


class TracedNode:
    """The `grad_fn` of a traced tensor: it has PyTorch's name (so printing and `is_leaf` behave)
    but no backward of its own; the compiler's autodiff pass differentiates the graph."""

    next_functions = ()
    _tensor_hooks = None

    def __init__(self, name, has_saved=False):
        self._name = name
        self.has_saved = has_saved  # freed by a backward without retain_graph, as in eager
        self.freed = False

    def name(self):
        return self._name

    def __repr__(self):
        return f"<{self._name} object at {id(self):#x}>"

    def _add_tensor_hook(self, output_nr, fn):
        raise TracingError("register_hook on an intermediate tensor is not supported inside "
                           "llgrad.compile; register hooks on leaf tensors (parameters) instead")

    def register_hook(self, fn):
        return self._add_tensor_hook(0, fn)


class Lifted:
    """A tensor that existed before the trace, with what it held when the trace began."""

    __slots__ = ("tensor", "array", "value", "grad", "requires_grad", "grad_fn", "output_nr",
                 "grad_owner", "index")

    def __init__(self, tensor, value, index, grad_owner=None):
        self.tensor = tensor
        self.array = tensor._data
        self.value = value
        self.grad = tensor._grad
        self.requires_grad = tensor._requires_grad
        self.grad_fn = tensor.grad_fn
        self.output_nr = tensor._output_nr
        self.grad_owner = grad_owner  # the tensor whose `.grad` this is, if read as `p.grad`
        self.index = index


class RuntimeInput:
    """A graph input computed at each call: a random draw, a hyperparameter."""

    __slots__ = ("value", "produce")

    def __init__(self, value, produce):
        self.value, self.produce = value, produce


class Tracer:
    def __init__(self):
        self.graph = Graph("step")
        self.lifted = {}  # id(tensor) -> Lifted
        self.lifted_order = []
        self.runtime_inputs = []
        self.leaves = []  # traced tensors that became leaves requiring grad inside the trace
        self.modules = {}  # id(module) -> module whose train/eval mode the graph depends on
        self.backward_marks = []  # graph sizes when backward ran: forward/backward boundaries
        self._buffers = {}  # storage identity -> lifted tensor sharing it (aliases)
        # .grad slots whose incoming state the trace depends on (read before written): only
        # those are guarded, so a step that starts with zero_grad() is traced once.
        self.grad_dependent = set()
        self.grad_overwritten = set()
        self.value_guards = []  # (description, getter, value seen while tracing)
        self.value_node = {}  # graph value -> TracedNode of the op that produced it

    # ---- values of tensors ------------------------------------------------------------------

    def lift(self, tensor, grad_owner=None):
        """Make a pre-existing concrete tensor a graph input (for the rest of the trace)."""
        record = self.lifted.get(id(tensor))
        if record is not None:
            return tensor._data
        array = tensor._data
        key = _storage_key(array)
        alias = self._buffers.get(key)
        if alias is not None:  # another tensor object over the same storage (p and p.data)
            value, current = alias.value, alias.tensor._data
        else:
            _check_not_partial_view(array, self._buffers)
            aval = Aval(array.shape, dtypes.from_numpy(array.dtype))
            value = current = self.graph.add_input(aval, name=f"in{len(self.graph.inputs)}")
        record = Lifted(tensor, value, len(self.lifted_order), grad_owner)
        self.lifted[id(tensor)] = record
        self.lifted_order.append(record)
        if alias is None:
            self._buffers[key] = record
        tensor._data = current
        return current

    def value_of(self, a):
        from .tensor import Tensor

        if isinstance(a, Tensor):
            if type(a._data) is np.ndarray:
                self.lift(a)
            return a._data
        return a

    def constant(self, tensor):
        array = tensor._data
        requires_grad = tensor._requires_grad
        tensor._data = self.graph.constant(array)
        if requires_grad:
            self.note_leaf(tensor)
        return tensor

    def runtime_tensor(self, produce, aval):
        from .tensor import Tensor

        value = self.graph.add_input(aval, name=f"in{len(self.graph.inputs)}")
        self.runtime_inputs.append(RuntimeInput(value, produce))
        return Tensor._wrap(value)

    def guard(self, description, getter, value):
        self.value_guards.append((description, getter, value))

    def note_grad_read(self, tensor):
        key = id(tensor)
        if type(tensor._data) is np.ndarray:
            self.lift(tensor)
        if key not in self.grad_overwritten:
            self.grad_dependent.add(key)
        grad = tensor._grad
        if grad is not None and type(grad._data) is np.ndarray:
            self.lift(grad, grad_owner=tensor)

    def note_grad_write(self, tensor):
        if type(tensor._data) is np.ndarray:
            self.lift(tensor)
        if id(tensor) not in self.grad_dependent:
            self.grad_overwritten.add(id(tensor))

    def note_leaf(self, tensor):
        if all(t is not tensor for t in self.leaves):
            self.leaves.append(tensor)

    # ---- ops ----------------------------------------------------------------------------------

    def apply(self, op, args, params):
        from .autograd.grad_mode import STATE
        from .tensor import Tensor

        values = [self.value_of(a) for a in args]
        requires_grad = any(isinstance(a, Tensor) and a._requires_grad for a in args)
        if op.promote is not None:
            values = self._promote(args, values, op.promote == "float")
        record = requires_grad and STATE.enabled and op.vjp is not None
        if op.primitive is not None:
            outs = op.primitive(*values, **params)
        else:
            outs = op.forward(*values, **params)
            if record:
                outs = self._custom_vjp(op, values, outs, params)
        single = not isinstance(outs, tuple)
        outs = (outs,) if single else outs
        if requires_grad and not record:
            outs = tuple(P.stop_gradient(v) for v in outs)  # no_grad: the path is cut here
        node = TracedNode(op.name, bool(op.saves) or op.saves_out) if record else None
        results = []
        for nr, value in enumerate(outs):
            if node is not None:
                self.value_node[value] = node
            t = Tensor._wrap(value)
            if record and value.dtype.is_floating_point:
                t._requires_grad = True
                t.grad_fn = node
                t._output_nr = nr
            results.append(t)
        return results[0] if single else tuple(results)

    def _promote(self, args, values, to_float):
        from .dispatch import result_type

        target = result_type(*args)
        if to_float and not target.is_floating_point:
            target = dtypes.DEFAULT_FLOAT
        out = []
        for v in values:
            if hasattr(v, "aval") and v.dtype is not target:
                v = P.cast(v, dtype=target)
            out.append(v)
        return out

    def _custom_vjp(self, op, values, outs, params):
        """Wrap a composite op's outputs so autodiff uses the op's own VJP rules."""
        from .compiler.ir import Value

        slots = tuple(None if isinstance(v, Value) else ("literal", v) for v in values)
        inputs = [v for v in values if isinstance(v, Value)]
        outs_tuple = outs if isinstance(outs, tuple) else (outs,)
        rule = _RuleWithLiterals(op.vjp, slots)
        wrapped = custom_vjp(inputs, outs_tuple, rule, params)
        return wrapped if isinstance(outs, tuple) else wrapped[0]

    def apply_function(self, function_cls, args, kwargs):
        """A custom autograd.Function: its forward is traced; its backward becomes the VJP rule
        of a custom_vjp region, run on traced tensors when the autodiff pass reaches it."""
        from .autograd.function import FunctionCtx
        from .autograd.grad_mode import STATE, no_grad
        from .compiler.ir import Value
        from .tensor import Tensor

        ctx = FunctionCtx()
        ctx._traced = True
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        record = STATE.enabled and any(ctx.needs_input_grad)
        for a in args:
            self.value_of(a)
        with no_grad():
            outputs = function_cls.forward(ctx, *args, **kwargs)
        single = not isinstance(outputs, tuple)
        outputs = (outputs,) if single else outputs
        if not record:
            return outputs[0] if single else outputs
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        out_values = [o._data for o in outputs]

        def rule(g, out, *input_values):
            grads = g if isinstance(g, tuple) else (g,)
            wrapped = [None if v is None else Tensor._wrap(v) for v in grads]
            results = function_cls.backward(ctx, *wrapped)
            results = results if isinstance(results, tuple) else (results,)
            per_tensor = [r for a, r in zip(args, results) if isinstance(a, Tensor)]
            return tuple(None if r is None else (r._data if isinstance(r, Tensor) else r)
                         for r in per_tensor)

        new_values = custom_vjp([a._data for a in tensor_args], out_values, rule, {})
        node = TracedNode(f"{function_cls.__name__}Backward", bool(getattr(ctx, "_to_save", ())))
        results = []
        for nr, (o, value) in enumerate(zip(outputs, new_values)):
            self.value_node[value] = node
            t = Tensor._wrap(value)
            if value.dtype.is_floating_point and id(o) not in ctx._non_differentiable:
                t._requires_grad, t.grad_fn, t._output_nr = True, node, nr
            results.append(t)
        return results[0] if single else tuple(results)

    def rebind(self, tensor, result):
        """An in-place update of a traced tensor: it (and its aliases) now hold `result`."""
        if type(tensor._data) is np.ndarray:
            self.lift(tensor)
        if tensor._base is not None:
            raise TracingError(
                f"in-place update of a view (a slice, reshape or transpose of another tensor) is "
                f"not supported inside llgrad.compile, at {_user_location()}; update the base "
                f"tensor itself, or use an out-of-place op")
        old = tensor._data
        for record in self.lifted_order:
            if record.tensor._data is old:
                record.tensor._data = result._data
        tensor._data = result._data

    # ---- autodiff -----------------------------------------------------------------------------

    def _leaf_tensors(self):
        leaves = [r.tensor for r in self.lifted_order
                  if r.tensor._requires_grad and r.tensor.grad_fn is None]
        leaves += [t for t in self.leaves if t._requires_grad and t.grad_fn is None]
        unique, seen = [], set()
        for t in leaves:
            if id(t) not in seen:
                seen.add(id(t))
                unique.append(t)
        return unique

    def _differentiate(self, outputs, grads, wrt, retain_graph):
        from .autograd.graph import FREED_MESSAGE
        from .tensor import Tensor

        roots = [self.value_of(t) for t in outputs]
        used = self._recorded_nodes_behind(roots)
        if any(node.freed for node in used):
            raise RuntimeError(FREED_MESSAGE)
        self.backward_marks.append(len(self.graph.nodes))
        seeds = [self.value_of(g) if isinstance(g, Tensor) else g for g in grads]
        cts = autodiff.vjp(self.graph, roots, seeds, [self.value_of(t) for t in wrt])
        if not retain_graph:
            for node in used:
                node.freed = node.has_saved
        return cts

    def _recorded_nodes_behind(self, roots):
        """The traced autograd nodes a backward from `roots` runs through (to free them)."""
        seen, stack, nodes = set(), list(roots), set()
        while stack:
            value = stack.pop()
            if value in seen:
                continue
            seen.add(value)
            node = self.value_node.get(value)
            if node is not None:
                nodes.add(node)
            if value.node is not None and value.node.prim.name != "stop_gradient":
                stack.extend(value.node.inputs)
        return nodes

    def backward(self, tensors, grads, retain_graph, create_graph, inputs):
        from .tensor import Tensor

        wrt = list(inputs) if inputs is not None else self._leaf_tensors()
        cts = self._differentiate(tensors, grads, wrt, retain_graph)
        for leaf, ct in zip(wrt, cts):
            if ct is None:
                continue
            if not create_graph:
                ct = P.stop_gradient(ct)
            g = Tensor._wrap(ct)
            if create_graph:
                g._requires_grad = True
                g.grad_fn = TracedNode("AccumulateGrad")
            if leaf._hooks:
                for hook in leaf._hooks:
                    replaced = hook(g)
                    if replaced is not None:
                        g = replaced
            self._accumulate(leaf, g, create_graph)
        return True

    def _accumulate(self, leaf, g, create_graph):
        if id(leaf) not in self.grad_overwritten:
            self.grad_dependent.add(id(leaf))
        current = leaf._grad
        if current is None:
            leaf._grad = g
            return
        if type(current._data) is np.ndarray:
            self.lift(current, grad_owner=leaf)
        total = current._data + g._data
        if create_graph:
            from .tensor import Tensor

            leaf._grad = Tensor._wrap(total)
        else:
            self.rebind(current, _wrapped(total))

    def grad(self, outputs, inputs, grads, retain_graph, create_graph):
        from .tensor import Tensor

        cts = self._differentiate(outputs, grads, list(inputs), retain_graph)
        result = []
        for ct in cts:
            if ct is None:
                result.append(None)
                continue
            g = Tensor._wrap(ct if create_graph else P.stop_gradient(ct))
            if create_graph:
                g._requires_grad = True
                g.grad_fn = TracedNode("MulBackward0")
            result.append(g)
        return result


def _wrapped(value):
    from .tensor import Tensor

    return Tensor._wrap(value)


class _RuleWithLiterals:
    """A composite op's VJP rules, re-inserting the non-tensor arguments (Python scalars) that
    are not graph inputs of its custom_vjp node."""

    def __init__(self, vjp, slots):
        self.vjp, self.slots = vjp, slots

    def __call__(self, g, out, *inputs, **params):
        full = self._full_inputs(inputs)
        from .compiler.primitive import vjp_cotangents

        needed = [slot is None for slot in self.slots]
        cts = vjp_cotangents(self.vjp, g, out, full, params, needed)
        return tuple(ct for ct, slot in zip(cts, self.slots) if slot is None)

    def _full_inputs(self, inputs):
        it = iter(inputs)
        return [next(it) if slot is None else slot[1] for slot in self.slots]


def _storage_key(array):
    """Identity of the memory an array views: arrays with the same key alias exactly."""
    root = array
    while root.base is not None and isinstance(root.base, np.ndarray):
        root = root.base
    return (id(root), array.__array_interface__["data"][0], array.shape, array.strides)


def _check_not_partial_view(array, buffers):
    root = array
    while isinstance(root.base, np.ndarray):
        root = root.base
    for key, record in buffers.items():
        if key[0] == id(root) and np.shares_memory(record.array, array):
            raise TracingError(
                "two different views of the same storage are used inside llgrad.compile (for "
                "example a parameter and a slice of it kept from before); llgrad cannot keep "
                "in-place updates consistent between them. Use the tensor itself, or .clone() "
                "the view before compiling.")
