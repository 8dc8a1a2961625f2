"""Tracing: running a Python function with symbolic tensors to record a graph.

While a `Tracer` is active in a thread, every op that thread runs goes to it (`dispatch.apply`
checks `active_tracer()`). Tracing is per thread: other threads keep running eagerly meanwhile,
and two threads can trace two functions at once. Tensors the function touches that existed before
the trace (its arguments, module parameters, optimizer state, `.grad` slots) are *lifted*: for the
duration of the trace their storage is swapped for a graph input, so every path that reads them,
however indirect, sees the symbolic value; in-place updates rebind it (and every alias of it).
When the function returns, the tracer's record says what changed (the state writes and `.grad`
assignments to replay on every call), and every lifted tensor is put back as it was. (So another
thread must not use those same tensors while the trace runs: it would find them traced.)

Backward inside the traced function runs the compiler's autodiff pass on the recorded graph.
"""
import contextvars
import os
import traceback

import numpy as np

from .compiler import autodiff, dtypes
from .compiler import primitives as P
from .compiler.ir import Graph, Value, custom_vjp
from .compiler.primitive import Aval


# The calling thread's Tracer, or None (run eagerly). A context variable is per thread: a new
# thread starts outside any trace, whatever other threads trace (unless the interpreter gives new
# threads a copy of their starter's context: sys.flags.thread_inherit_context, the default of
# Python 3.14's free-threaded build; then a thread started inside a traced function traces too).
_TRACER = contextvars.ContextVar("llgrad_tracer", default=None)
# Set, not left at the default: a context variable caches its value for a thread only once set
# there (a default is looked up again each time, once the thread has a context: NumPy's errstate
# gives it one). `end()` sets it in each thread that traced.
_TRACER.set(None)

# `active_tracer()`: the Tracer recording the calling thread's ops, or None. Every eager op asks,
# so this is the bound C method itself, not a Python function around it: ~10 ns more than reading
# a module global, where a Python function reading a threading.local costs ~30 ns more.
active_tracer = _TRACER.get


def begin(tracer):
    """Start tracing with `tracer` in the calling thread (until `end()`); other threads are not
    affected."""
    if _TRACER.get() is not None:
        raise TracingError("llgrad.compile functions cannot be nested")
    _TRACER.set(tracer)


def end():
    """End the calling thread's trace: its ops run eagerly again."""
    _TRACER.set(None)




_PACKAGE_DIRS = tuple(os.path.dirname(os.path.abspath(p)) + os.sep for p in (
    __file__, autodiff.__file__))


class TracingError(RuntimeError):
    """A traced function did something that needs concrete values, or that a graph cannot hold."""


def _user_location():
    """The innermost stack frame outside llgrad: where in the user's code something happened."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIRS):
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
    tracer = active_tracer()
    if tracer is None:
        raise TracingError("a traced tensor was used after its llgrad.compile trace ended, or in "
                           "another thread than the one tracing; do not keep tensors from inside "
                           "a compiled function in global state, nor use the tensors a function "
                           "being compiled touches in other threads while it is traced")
    return tracer.apply(op, args, params)


def constant(tensor):
    tracer = active_tracer()
    return tracer.constant(tensor) if tracer is not None else tensor


def rebind(tensor, result):
    active_tracer().rebind(tensor, result)


def traced_backward(tensors, grads, retain_graph, create_graph, inputs):
    tracer = active_tracer()
    if tracer is None:
        return False
    return tracer.backward(tensors, grads, retain_graph, create_graph, inputs)


def traced_grad(outputs, inputs, grads, retain_graph, create_graph):
    tracer = active_tracer()
    if tracer is None:
        return None
    return tracer.grad(outputs, inputs, grads, retain_graph, create_graph)


def random_tensor(draw, shape, dtype):
    """A random tensor: drawn now in eager mode; under a trace, drawn again at every call of the
    compiled function (a runtime input), so the generator advances exactly as in eager."""
    from .tensor import Tensor

    tracer = active_tracer()
    if tracer is None:
        return Tensor._wrap(draw())
    return tracer.runtime_tensor(draw, Aval(shape, dtype), "random draw")


class _ScalarInput:
    """The 0-d array of a runtime number, made at every call from `getter()`. While the getter
    gives the same object (an optimizer's group keeps one float between scheduler steps), the
    array made for it is given again: a call then costs one read, not a new array. The array
    is an input only (native code never writes it), and the (value, array) pair is replaced
    whole, so concurrent calls see one pair or the other."""
    __slots__ = ("getter", "dtype", "last")

    def __init__(self, getter, dtype):
        self.getter, self.dtype = getter, dtype
        self.last = (_NOTHING, None)

    def __call__(self):
        value = self.getter()
        last = self.last
        if value is last[0]:
            return last[1]
        array = np.asarray(value, dtype=self.dtype)
        self.last = (value, array)
        return array


_NOTHING = object()


def runtime_scalar(getter, dtype=dtypes.float64, name="runtime number"):
    """A Python number read at every call (a learning rate): the number itself in eager mode; a
    0-d tensor inside a trace. That tensor is *weak* like the Python number it stands for: it
    does not raise the dtype of the tensors it meets, and arithmetic among such numbers stays in
    double precision, so compiled updates round exactly as eager ones."""
    tracer = active_tracer()
    if tracer is None:
        return getter()
    t = tracer.runtime_tensor(_ScalarInput(getter, dtype.np), Aval((), dtype), name)
    t._weak = True
    return t


def guard(description, getter, each_call=True):
    """Assume `getter()` keeps its current value for this trace (a retrace happens if not);
    returns the value. Python branches on runtime state use this. `each_call=False`: the value
    can only change together with state that bumps the state epoch (llgrad.epoch), so it is
    checked only after such a change (a check whose cost grows with the model)."""
    value = getter()
    tracer = active_tracer()
    if tracer is not None:
        tracer.guard(description, getter, value, each_call)
    return value


class outside_trace:
    """Create concrete tensors (optimizer state) even while a trace is running. State made this
    way outlives the trace; `undo()` takes it back if the trace fails, so a step that never
    ran leaves no state behind. Only the calling thread's trace is set aside."""

    def __init__(self, undo=None):
        self._undo = undo

    def __enter__(self):
        tracer = active_tracer()
        if tracer is not None and self._undo is not None:
            tracer.undo.append(self._undo)
        self._saved = tracer
        _TRACER.set(None)

    def __exit__(self, *exc):
        _TRACER.set(self._saved)
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
                 "grad_owner", "writes")

    def __init__(self, tensor, value, grad_owner=None):
        self.tensor = tensor
        self.array = tensor._data
        self.value = value
        self.grad = tensor._grad
        self.requires_grad = tensor._requires_grad
        self.grad_fn = tensor.grad_fn
        self.output_nr = tensor._output_nr
        self.grad_owner = grad_owner  # the tensor whose `.grad` this is, if read as `p.grad`
        self.writes = 0  # in-place updates during the trace: the version counter's steps


class RuntimeInput:
    """A graph input computed at each call: a random draw, a hyperparameter."""

    __slots__ = ("value", "produce", "name")

    def __init__(self, value, produce, name):
        self.value, self.produce, self.name = value, produce, name


class Tracer:
    def __init__(self):
        self.graph = Graph("step")
        self.lifted = {}  # id(tensor) -> Lifted
        self.lifted_order = []
        self.arg_ids = {}  # id(tensor) -> position among the flattened arguments
        self.runtime_inputs = []
        self.leaves = []  # traced tensors that became leaves requiring grad inside the trace
        self.modules = {}  # id(module) -> (module, train mode it ran in)
        self.backward_marks = []  # graph sizes when backward ran: forward/backward boundaries
        # Tensor objects that share one storage (p, p.data, p.detach(), aliases lifted
        # separately): id(tensor) -> the group's member list of [tensor, detached].
        self.aliases = {}
        self._buffers = {}  # storage identity of a lifted array -> its Lifted record
        self._roots = {}  # id of the array a lifted array views -> Lifted records over it
        # .grad slots whose incoming state the trace depends on (read before written): only
        # those are guarded, so a step that starts with zero_grad() is traced once.
        self.grad_dependent = set()
        self.grad_overwritten = set()
        self.value_guards = []  # (description, getter, value seen while tracing)
        self.value_node = {}  # graph value -> TracedNode of the op that produced it
        self.undo = []  # run if the trace fails

    # ---- values of tensors ------------------------------------------------------------------

    def lift(self, tensor, grad_owner=None):
        """Make a pre-existing concrete tensor a graph input (for the rest of the trace)."""
        if id(tensor) in self.lifted:
            return tensor._data
        array = tensor._data
        key = _storage_key(array)
        alias = self._buffers.get(key)
        if alias is not None:  # another tensor object over the same storage (p and p.data)
            value = alias.value
            self._join(alias.tensor, tensor, detached=False)
            current = alias.tensor._data
        else:
            self._check_not_partial_view(array)
            aval = Aval(array.shape, dtypes.from_numpy(array.dtype))
            value = current = self.graph.add_input(aval, name=f"in{len(self.graph.inputs)}")
        record = Lifted(tensor, value, grad_owner)
        self.lifted[id(tensor)] = record
        self.lifted_order.append(record)
        if alias is None:
            self._buffers[key] = record
            self._roots.setdefault(_root_id(array), []).append(record)
        tensor._data = current
        return current

    def value_of(self, a):
        from .tensor import Tensor

        if not isinstance(a, Tensor):
            return a
        if type(a._data) is np.ndarray:
            self.lift(a)
        elif a._base is not None and a._view_source is not None \
                and a._base._data is not a._view_source:
            raise TracingError(
                f"a view (slice, reshape, transpose) was read after its base tensor was updated "
                f"in place, inside llgrad.compile at {_user_location()}; take the view again "
                f"after the update")
        return a._data

    def alias(self, source, alias, detached):
        """`alias` shares `source`'s storage (`.data`, `.detach()`): in-place updates of either
        reach both."""
        self.value_of(source)
        alias._data = P.stop_gradient(source._data) if detached else source._data
        self._join(source, alias, detached)
        return alias

    def _join(self, source, member, detached):
        group = self.aliases.get(id(source))
        if group is None:
            group = self.aliases[id(source)] = [[source, False]]
        group.append([member, detached])
        self.aliases[id(member)] = group

    def constant(self, tensor):
        tensor._data = self.graph.constant(tensor._data)
        return tensor

    def runtime_tensor(self, produce, aval, name="runtime input"):
        from .tensor import Tensor

        value = self.graph.add_input(aval, name=f"in{len(self.graph.inputs)}")
        self.runtime_inputs.append(RuntimeInput(value, produce, name))
        return Tensor._wrap(value)

    def guard(self, description, getter, value, each_call=True):
        self.value_guards.append((description, getter, value, each_call))

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
        tensors = [a for a in args if isinstance(a, Tensor)]
        requires_grad = any(t._requires_grad for t in tensors)
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
        weak = bool(tensors) and all(t._weak for t in tensors)
        results = []
        for nr, value in enumerate(outs):
            t = Tensor._wrap(value)
            if node is not None and value.dtype.is_floating_point:
                self.value_node[value] = node
                t._requires_grad = True
                t.grad_fn = node
                t._output_nr = nr
            if weak:
                t._weak = True
            results.append(t)
        return results[0] if single else tuple(results)

    def _promote(self, args, values, to_float):
        from .dispatch import result_type

        target = result_type(*args)
        if to_float and not target.is_floating_point:
            target = dtypes.DEFAULT_FLOAT
        return [P.cast(v, dtype=target) if isinstance(v, Value) and v.dtype is not target else v
                for v in values]

    def _custom_vjp(self, op, values, outs, params):
        """Wrap a composite op's outputs so autodiff uses the op's own VJP rules. Non-tensor
        arguments (Python scalars) are not graph inputs of the region: the rules get them back
        in their places."""
        slots = tuple(None if isinstance(v, Value) else ("literal", v) for v in values)
        inputs = [v for v in values if isinstance(v, Value)]
        outs_tuple = outs if isinstance(outs, tuple) else (outs,)
        wrapped = custom_vjp(inputs, outs_tuple, _bind_literals(op.vjp, slots), params)
        return wrapped if isinstance(outs, tuple) else wrapped[0]

    def apply_function(self, function_cls, args, kwargs):
        """A custom autograd.Function: its forward is traced; its backward becomes the VJP rule
        of a custom_vjp region, run on traced tensors when the autodiff pass reaches it."""
        from .autograd.function import FunctionCtx
        from .autograd.grad_mode import STATE, no_grad
        from .tensor import Tensor

        ctx = FunctionCtx()
        ctx._traced = True
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        record = STATE.enabled and any(ctx.needs_input_grad)
        for a in args:
            self.value_of(a)
        with no_grad():
            outputs = function_cls._run_forward(ctx, args, kwargs)
        if ctx._dirty:
            raise TracingError(f"{function_cls.__name__}: ctx.mark_dirty (a Function that "
                               f"modifies its inputs in place) is not supported inside "
                               f"llgrad.compile")
        single = not isinstance(outputs, tuple)
        outputs = (outputs,) if single else outputs
        if not record:
            return outputs[0] if single else outputs
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        out_values = [o._data for o in outputs]

        def rule(g, out, *input_values):
            grads = g if isinstance(g, tuple) else (g,)
            wrapped = []
            for v, o in zip(grads, out_values):
                if v is None and ctx.materialize_grads:
                    v = P.full_like(o, shape=o.shape, value=0)  # as eager, zeros for unused
                wrapped.append(None if v is None else Tensor._wrap(v))
            results = function_cls.backward(ctx, *wrapped)
            results = results if isinstance(results, tuple) else (results,)
            per_tensor = [r for a, r in zip(args, results) if isinstance(a, Tensor)]
            return tuple(None if r is None else (r._data if isinstance(r, Tensor) else r)
                         for r in per_tensor)

        new_values = custom_vjp([a._data for a in tensor_args], out_values, rule, {})
        node = TracedNode(f"{function_cls.__name__}Backward", bool(getattr(ctx, "_to_save", ())))
        results = []
        for nr, (o, value) in enumerate(zip(outputs, new_values)):
            t = Tensor._wrap(value)
            if value.dtype.is_floating_point and id(o) not in ctx._non_differentiable:
                self.value_node[value] = node
                t._requires_grad, t.grad_fn, t._output_nr = True, node, nr
            results.append(t)
        return results[0] if single else tuple(results)

    def rebind(self, tensor, result):
        """An in-place update of a traced tensor: it, and every tensor sharing its storage, now
        hold `result`."""
        if type(tensor._data) is np.ndarray:
            self.lift(tensor)
        if tensor._base is not None:
            raise TracingError(
                f"in-place update of a view (a slice, reshape or transpose of another tensor) is "
                f"not supported inside llgrad.compile, at {_user_location()}; update the base "
                f"tensor itself, or use an out-of-place op")
        new = result._data
        for member, detached in self.aliases.get(id(tensor), [[tensor, False]]):
            member._data = P.stop_gradient(new) if detached else new
            record = self.lifted.get(id(member))
            if record is not None:
                record.writes += 1

    # ---- autodiff -----------------------------------------------------------------------------

    def _leaf_tensors(self):
        leaves = [r.tensor for r in self.lifted_order if r.tensor._requires_grad]
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
            self._check_gradient_target(leaf)
            g = Tensor._wrap(ct if create_graph else P.stop_gradient(ct))
            if create_graph:
                self._mark_differentiable(g, ct)
            for hook in leaf._hooks or ():
                replaced = hook(g)
                if replaced is not None:
                    g = replaced
            self._accumulate(leaf, g, create_graph)
        return True

    def _check_gradient_target(self, leaf):
        record = self.lifted.get(id(leaf))
        if record is not None and record.grad_fn is not None:
            raise TracingError(
                "backward inside llgrad.compile reached a tensor that was computed by eager "
                "autograd before the call; its history cannot be continued from compiled code. "
                "Compute it inside the compiled function, or pass it in detached.")
        if leaf._post_accumulate_hooks:
            raise TracingError("post-accumulate-grad hooks are not supported inside "
                               "llgrad.compile; run the hook's work after the compiled call")

    def _mark_differentiable(self, g, value):
        from .dispatch import _node_name

        producer = value.node
        name = _node_name(producer.prim) if producer is not None else "AccumulateGrad"
        g._requires_grad = True
        g.grad_fn = TracedNode(name)
        self.value_node[value] = g.grad_fn

    def _accumulate(self, leaf, g, create_graph):
        from .tensor import Tensor

        if id(leaf) not in self.grad_overwritten:
            self.grad_dependent.add(id(leaf))
        current = leaf._grad
        if current is None:
            leaf._grad = g
            return
        if type(current._data) is np.ndarray:
            self.lift(current, grad_owner=leaf)
        total = current._data + g._data
        if create_graph:  # out of place, and itself differentiable, as in eager
            leaf._grad = Tensor._wrap(total)
            self._mark_differentiable(leaf._grad, total)
        else:
            self.rebind(current, Tensor._wrap(total))

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
                self._mark_differentiable(g, ct)
            result.append(g)
        return result

    # ---- storage identity ---------------------------------------------------------------------

    def _check_not_partial_view(self, array):
        for record in self._roots.get(_root_id(array), ()):
            if np.shares_memory(record.array, array):
                raise TracingError(
                    "two different views of the same storage are used inside llgrad.compile "
                    "(for example a parameter and a slice of it kept from before); llgrad cannot "
                    "keep in-place updates consistent between them. Use the tensor itself, or "
                    ".clone() the view before compiling.")


def _bind_literals(vjp, slots):
    """A composite op's VJP rules over its graph-value inputs only: the Python scalars among its
    arguments (not graph inputs of the custom_vjp region) are put back in their places."""

    def full(inputs):
        it = iter(inputs)
        return [next(it) if slot is None else slot[1] for slot in slots]

    if callable(vjp):
        def all_at_once(g, out, *inputs, **params):
            cts = vjp(g, out, *full(inputs), **params)
            return tuple(ct for ct, slot in zip(cts, slots) if slot is None)

        return all_at_once

    def one(rule):
        if rule is None:
            return None
        return lambda g, out, *inputs, **params: rule(g, out, *full(inputs), **params)

    return tuple(one(rule) for rule, slot in zip(vjp, slots) if slot is None)


def _root_id(array):
    root = array
    while isinstance(root.base, np.ndarray):
        root = root.base
    return id(root)


def _storage_key(array):
    """Identity of the memory an array views: arrays with the same key alias exactly."""
    return (_root_id(array), array.__array_interface__["data"][0], array.shape, array.strides)
