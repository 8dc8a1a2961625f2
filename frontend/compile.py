"""`llgrad.compile`: trace a step once, derive its backward symbolically, optimize, and replay it.

A call checks the guards of the specializations traced so far (input shapes and dtypes,
requires_grad flags, which `.grad` slots are None, grad mode, module train/eval mode); on a match
it feeds the current values (arguments, lifted state read fresh, random draws, hyperparameters)
to the compiled graph and replays the recorded effects (state writes, `.grad` assignments); on a
miss it traces again and can say which guard changed.
"""
import functools
import os
import warnings

import numpy as np

from . import tracing
from .autograd.grad_mode import STATE
from .compiler import passes
from .autograd.graph import FREED_MESSAGE, Node, grad_accumulator
from .compiler.interpreter import Interpreter
from .compiler.partition import split_joint
from .compiler.printer import format_graph, to_dot
from .tensor import Tensor

DEFAULT_MAX_SPECIALIZATIONS = 8


def compile(fn=None, *, backend="interp", max_specializations=DEFAULT_MAX_SPECIALIZATIONS,  # noqa: A001
            verify=False):
    """Compile `fn` (a function or an nn.Module); usable as `@llgrad.compile` or
    `@llgrad.compile(backend="interp")`."""
    if fn is None:
        return functools.partial(compile, backend=backend,
                                 max_specializations=max_specializations, verify=verify)
    return CompiledFunction(fn, backend, max_specializations, verify)


BACKENDS = {"interp": Interpreter}


def _debug(flag):
    return flag in os.environ.get("LLGRAD_DEBUG", "").split(",")


class CompiledFunction:
    def __init__(self, fn, backend="interp", max_specializations=DEFAULT_MAX_SPECIALIZATIONS,
                 verify=False):
        if backend not in BACKENDS:
            raise ValueError(f"unknown llgrad.compile backend {backend!r}; choose one of "
                             f"{sorted(BACKENDS)}")
        self.fn = fn
        self.backend = backend
        self.max_specializations = max_specializations
        self.verify = verify
        self.stats = {"traces": 0, "compiles": 0, "disk_hits": 0, "calls": 0}
        self.specializations = []
        self.last_retrace = None
        self._warned_limit = False
        functools.update_wrapper(self, fn, updated=())

    def __call__(self, *args, **kwargs):
        self.stats["calls"] += 1
        flat_args, treedef = flatten((args, kwargs))
        spec = self._find(flat_args)
        if spec is None:
            spec = self._specialize(args, kwargs, flat_args)
        return spec.run(flat_args)

    def _find(self, flat_args):
        for spec in self.specializations:
            if spec.guards.check(flat_args):
                return spec
        return None

    def _specialize(self, args, kwargs, flat_args):
        if self.specializations:
            closest = min(self.specializations, key=lambda s: s.guards.distance(flat_args))
            self.last_retrace = closest.guards.explain_change(flat_args)
            if _debug("retrace"):
                print(f"llgrad.compile: retracing {self.__name__}: {self.last_retrace}")
        if len(self.specializations) >= self.max_specializations and not self._warned_limit:
            self._warned_limit = True
            warnings.warn(f"llgrad.compile: {self.__name__} has been specialized "
                          f"{len(self.specializations)} times (limit {self.max_specializations}); "
                          f"the guard that keeps changing: {self.last_retrace}. Each new "
                          f"specialization is traced and compiled again.", UserWarning,
                          stacklevel=3)
        spec = trace_specialization(self.fn, args, kwargs, flat_args, self.backend, self.verify)
        self.stats["traces"] += 1
        self.specializations.append(spec)
        if _debug("graphs"):
            print(spec.explanation())
        return spec

    def explain(self, *args, dot=None, **kwargs):
        """Print and return the forward, backward and optimized graphs for these arguments (no
        step is run); `dot=path` also writes the optimized graph as Graphviz DOT."""
        flat_args, _ = flatten((args, kwargs))
        spec = self._find(flat_args) or self._specialize(args, kwargs, flat_args)
        text = spec.explanation()
        print(text)
        if dot is not None:
            with open(dot, "w") as f:
                f.write(to_dot(spec.graph))
        return text

    def explain_retrace(self):
        """Why the last retrace happened: which guard changed, from what to what."""
        text = self.last_retrace or "no retrace has happened"
        print(text)
        return text

    def reset(self):
        self.specializations.clear()


# ---- pytrees of arguments and results -----------------------------------------------------------

def flatten(tree):
    leaves = []

    def walk(x):
        if isinstance(x, (list, tuple)) and not isinstance(x, Tensor):
            return (type(x), [walk(v) for v in x])
        if isinstance(x, dict):
            return (dict, [(k, walk(v)) for k, v in x.items()])
        leaves.append(x)
        return None

    structure = walk(tree)
    return leaves, structure


def unflatten(structure, leaves):
    it = iter(leaves)

    def build(s):
        if s is None:
            return next(it)
        kind, items = s
        if kind is dict:
            return {k: build(v) for k, v in items}
        values = [build(v) for v in items]
        if kind in (list, tuple):
            return kind(values)
        return kind(*values) if hasattr(kind, "_fields") else kind(values)

    return build(structure)


# ---- guards -------------------------------------------------------------------------------------

def tensor_guard(t, with_grad_slot=True):
    data = t._data
    grad_none = (t._grad is None) if with_grad_slot else "not guarded"
    return (data.shape, data.dtype, t._requires_grad, grad_none)


def arg_guard(x):
    if isinstance(x, Tensor):
        return ("tensor",) + tensor_guard(x)
    if isinstance(x, (bool, int, float, str, type(None))):
        return ("const", type(x).__name__, x)
    return ("object", id(x))


class Guards:
    """What a specialization assumed: checked before reuse, explained on a miss."""

    def __init__(self, flat_args, lifted, modules, grad_mode, grad_dependent, value_guards=()):
        self.values = list(value_guards)
        self.args = [arg_guard(x) for x in flat_args]
        self.lifted = [(r.tensor, id(r.tensor) in grad_dependent) for r in lifted
                       if r.grad_owner is None]
        self.lifted = [(t, dep, tensor_guard(t, dep)) for t, dep in self.lifted]
        self.grad_slots = [(r.grad_owner, r.array.shape, r.array.dtype)
                           for r in lifted if r.grad_owner is not None]
        self.modules = [(m, m.training) for m in modules]
        self.grad_mode = grad_mode

    def check(self, flat_args):
        if STATE.enabled != self.grad_mode or len(flat_args) != len(self.args):
            return False
        for x, expected in zip(flat_args, self.args):
            if arg_guard(x) != expected:
                return False
        for t, dep, expected in self.lifted:
            if tensor_guard(t, dep) != expected:
                return False
        for owner, shape, dtype in self.grad_slots:
            g = owner._grad
            if g is None or g._data.shape != shape or g._data.dtype != dtype:
                return False
        if not all(m.training == training for m, training in self.modules):
            return False
        return all(_same(getter(), value) for _, getter, value in self.values)

    def distance(self, flat_args):
        """How many guards fail: the closest specialization explains a retrace best."""
        misses = int(STATE.enabled != self.grad_mode) + abs(len(flat_args) - len(self.args))
        misses += sum(arg_guard(x) != e for x, e in zip(flat_args, self.args))
        misses += sum(tensor_guard(t, dep) != e for t, dep, e in self.lifted)
        return misses

    def explain_change(self, flat_args):
        if STATE.enabled != self.grad_mode:
            return f"grad mode changed from {self.grad_mode} to {STATE.enabled}"
        if len(flat_args) != len(self.args):
            return f"number of arguments changed from {len(self.args)} to {len(flat_args)}"
        for i, (x, expected) in enumerate(zip(flat_args, self.args)):
            now = arg_guard(x)
            if now != expected:
                return f"argument {i}: {_describe(expected, now)}"
        for k, (t, dep, expected) in enumerate(self.lifted):
            now = tensor_guard(t, dep)
            if now != expected:
                return f"state tensor {k} {list(expected[0])}: {_describe(('tensor',) + expected, ('tensor',) + now)}"
        for owner, shape, dtype in self.grad_slots:
            if owner._grad is None:
                return f".grad of a {list(owner.shape)} tensor changed from a tensor to None"
        for m, training in self.modules:
            if m.training != training:
                return f"{type(m).__name__} mode changed from {_mode(training)} to {_mode(m.training)}"
        for description, getter, value in self.values:
            now = getter()
            if not _same(now, value):
                return f"{description} changed from {value!r} to {now!r}"
        return "no guard changed"


def _same(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


def _mode(training):
    return "train" if training else "eval"


_TENSOR_FIELDS = ("kind", "shape", "dtype", "requires_grad", ".grad is None")


def _describe(before, after):
    if before[0] != after[0] or before[0] != "tensor":
        return f"changed from {before} to {after}"
    for name, b, a in zip(_TENSOR_FIELDS, before, after):
        if b != a:
            shown = (lambda v: list(v)) if name == "shape" else (lambda v: v)
            return f"{name} changed from {shown(b)} to {shown(a)}"
    return "changed"


# ---- tracing a specialization ---------------------------------------------------------------------

def trace_specialization(fn, args, kwargs, flat_args, backend, verify):
    if tracing.ACTIVE is not None:
        raise tracing.TracingError("llgrad.compile functions cannot be nested")
    tracer = tracing.Tracer()
    tracing.ACTIVE = tracer
    try:
        arg_values = _lift_args(tracer, flat_args)
        result = fn(*args, **kwargs)
        out_leaves, out_structure = flatten(result)
        outputs = _plan_outputs(tracer, out_leaves)
        effects = _plan_effects(tracer)
        backward = _plan_backward(tracer, outputs)
    finally:
        tracing.ACTIVE = None
        _restore(tracer)
    return Specialization(tracer, arg_values, flat_args, outputs, out_structure, effects, backward,
                          backend, verify)


def _lift_args(tracer, flat_args):
    """Arguments become the first graph inputs, in order; each call feeds them positionally."""
    positions = []
    tracer.arg_ids = {}
    for i, x in enumerate(flat_args):
        if isinstance(x, Tensor):
            if type(x._data) is not np.ndarray:
                raise tracing.TracingError("a traced tensor was passed to a compiled function")
            tracer.lift(x)
            tracer.arg_ids.setdefault(id(x), i)
            positions.append((i, tracer.lifted[id(x)]))
    return positions


def _plan_outputs(tracer, leaves):
    """How to rebuild each returned leaf at every call."""
    plan = []
    for x in leaves:
        if isinstance(x, Tensor):
            record = tracer.lifted.get(id(x))
            if record is not None and record.grad_owner is None:
                plan.append(("lifted", record, None))
            elif type(x._data) is np.ndarray:
                plan.append(("const", x, None))
            else:
                plan.append(("value", _add_output(tracer, x._data), x._requires_grad))
        else:
            plan.append(("const", x, None))
    return plan


def _add_output(tracer, value):
    tracer.graph.outputs.append(value)
    return len(tracer.graph.outputs) - 1


class Effects:
    """What every call must do besides returning results: write state, set .grad slots."""

    def __init__(self):
        self.state_writes = []  # (Lifted, output index)
        self.grad_sets = []  # (owner tensor, ("none",) | ("lifted", Lifted) | ("value", index))
        self.flag_sets = []  # (tensor, requires_grad)


def _plan_effects(tracer):
    effects = Effects()
    written = set()
    for record in tracer.lifted_order:
        t = record.tensor
        current = t._data
        if current is not record.value and record.value not in written:
            written.add(record.value)
            effects.state_writes.append((record, _add_output(tracer, current)))
        if record.grad_owner is None and t._grad is not record.grad:
            effects.grad_sets.append((t, _grad_effect(tracer, t._grad)))
        if t._requires_grad != record.requires_grad:
            effects.flag_sets.append((t, t._requires_grad))
    return effects


def _grad_effect(tracer, grad):
    if grad is None:
        return ("none",)
    record = tracer.lifted.get(id(grad))
    if record is not None:
        return ("lifted", record)
    if type(grad._data) is np.ndarray:
        return ("tensor", grad)
    return ("value", _add_output(tracer, grad._data))


class BackwardPlan:
    """How outputs that require grad get a grad_fn: the graph's own backward, derived now."""

    def __init__(self, diff_outputs, wrt, cotangents, grads, consumed):
        self.diff_outputs = diff_outputs  # output plan positions of outputs that require grad
        self.wrt = wrt  # Lifted records of the inputs gradients flow to
        self.cotangents = cotangents  # graph inputs: the incoming gradients of diff_outputs
        self.grads = grads  # graph values: gradients of wrt (None: no path)
        self.consumed = consumed  # backward already ran inside the function


def _plan_backward(tracer, outputs):
    from .compiler import autodiff

    diff_outputs = [k for k, (kind, _, requires_grad) in enumerate(outputs)
                    if kind == "value" and requires_grad]
    if not diff_outputs or not STATE.enabled:
        return None
    if tracer.backward_marks:
        return BackwardPlan(diff_outputs, [], [], [], consumed=True)
    wrt = [r for r in tracer.lifted_order if r.requires_grad and r.grad_owner is None]
    wrt = list({id(r.value): r for r in wrt}.values())  # aliases share one input
    values = [tracer.graph.outputs[outputs[k][1]] for k in diff_outputs]
    cotangents = [tracer.graph.add_input(v.aval, name=f"ct{i}") for i, v in enumerate(values)]
    tracer.backward_marks.append(len(tracer.graph.nodes))
    grads = autodiff.vjp(tracer.graph, values, cotangents, [r.value for r in wrt])
    return BackwardPlan(diff_outputs, wrt, cotangents, grads, consumed=False)


def _restore(tracer):
    for record in tracer.lifted_order:
        t = record.tensor
        t._data = record.array
        t._grad = record.grad
        t._requires_grad = record.requires_grad
        t.grad_fn = record.grad_fn
        t._output_nr = record.output_nr


# ---- the compiled, replayable specialization ----------------------------------------------------

class Specialization:
    def __init__(self, tracer, arg_positions, flat_args, outputs, out_structure, effects, backward,
                 backend, verify):
        self.joint = tracer.graph
        self.backward_marks = list(tracer.backward_marks)
        self.guards = Guards(flat_args, tracer.lifted_order, tracer.modules.values(),
                             STATE.enabled, tracer.grad_dependent, tracer.value_guards)
        self.outputs = outputs
        self.out_structure = out_structure
        self.effects = effects
        self.backward = backward
        self.arg_ids = dict(tracer.arg_ids)
        self.pass_log = []
        forward = self.joint
        forward_inputs = list(self.joint.inputs)
        self.n_results = len(self.joint.outputs)
        if backward is not None and not backward.consumed:
            forward_inputs = [v for v in forward_inputs if v not in set(backward.cotangents)]
            forward, backward_graph, _ = split_joint(self.joint, self.joint.outputs,
                                                     backward.cotangents, backward.grads)
            self.backward_graph = passes.run_pipeline(backward_graph, verify=verify)
            self.backward_executable = BACKENDS[backend](self.backward_graph)
        self.feeds = _feeds(tracer, forward_inputs)
        self.graph = passes.run_pipeline(forward, verify=verify, log=self.pass_log)
        self.executable = BACKENDS[backend](self.graph)

    def run(self, flat_args):
        inputs = [feed(flat_args) for feed in self.feeds]
        results = self.executable(inputs)
        self._apply_effects(results)
        leaves = [self._output(kind, item, results) for kind, item, _ in self.outputs]
        if self.backward is not None:
            self._attach_backward(leaves, results, flat_args)
        return unflatten(self.out_structure, leaves)

    def _attach_backward(self, leaves, results, flat_args):
        plan = self.backward
        if plan.consumed:
            node = CompiledFunctionBackward.consumed(len(plan.diff_outputs))
        else:
            wrt = [self._current_tensor(r, flat_args) for r in plan.wrt]
            node = CompiledFunctionBackward(self, results[self.n_results:], wrt, plan)
        for nr, k in enumerate(plan.diff_outputs):
            t = leaves[k]
            t._requires_grad = True
            t.grad_fn = node
            t._output_nr = nr

    def _current_tensor(self, record, flat_args):
        index = self.arg_ids.get(id(record.tensor))
        return flat_args[index] if index is not None else record.tensor

    def _output(self, kind, item, results):
        if kind == "value":
            return Tensor._wrap(_fresh(results[item]))
        if kind == "lifted":
            return item.tensor
        return item

    def _apply_effects(self, results):
        for record, index in self.effects.state_writes:
            target = record.tensor._data
            np.copyto(target, results[index], casting="unsafe")
            record.tensor._bump_version()
        for owner, effect in self.effects.grad_sets:
            kind = effect[0]
            if kind == "none":
                owner._grad = None
            elif kind == "lifted":
                owner._grad = effect[1].tensor
            elif kind == "tensor":
                owner._grad = effect[1]
            else:
                owner._grad = Tensor._wrap(_fresh(results[effect[1]]))
        for tensor, flag in self.effects.flag_sets:
            tensor._requires_grad = flag

    def explanation(self):
        forward_end = self.backward_marks[0] if self.backward_marks else len(self.joint.nodes)
        nodes = self.joint.nodes
        lines = [f"== forward graph ({forward_end} nodes)"]
        lines += _section(nodes[:forward_end])
        lines.append(f"== backward and update graph ({len(nodes) - forward_end} nodes)")
        lines += _section(nodes[forward_end:])
        lines.append(f"== optimized graph ({len(nodes)} -> {len(self.graph.nodes)} nodes; "
                     + ", ".join(f"{name}: {b}->{a}" for name, b, a in self.pass_log) + ")")
        lines.append(format_graph(self.graph))
        return "\n".join(lines)


def _section(nodes):
    from .compiler.printer import node_line

    return [node_line(n) for n in nodes]


def _fresh(array):
    """A result array a new tensor may own: views of inputs and read-only arrays are copied."""
    if array.base is not None or not array.flags.writeable:
        return np.array(array, copy=True)
    return array


def _feeds(tracer, inputs):
    """One function per graph input giving its array for the current call."""
    by_value = {}
    for record in tracer.lifted_order:
        by_value.setdefault(record.value, record)
    runtime = {r.value: r for r in tracer.runtime_inputs}
    feeds = []
    for value in inputs:
        if value in runtime:
            feeds.append(_runtime_feed(runtime[value].produce))
            continue
        record = by_value[value]
        if record.grad_owner is not None:
            feeds.append(_grad_feed(record.grad_owner))
        elif id(record.tensor) in tracer.arg_ids:
            feeds.append(_arg_feed(tracer.arg_ids[id(record.tensor)]))
        else:
            feeds.append(_state_feed(record.tensor))
    return feeds


def _runtime_feed(produce):
    return lambda flat_args: produce()


def _grad_feed(owner):
    return lambda flat_args: owner._grad._data


def _arg_feed(i):
    return lambda flat_args: flat_args[i]._data


def _state_feed(tensor):
    return lambda flat_args: tensor._data


class CompiledFunctionBackward(Node):
    """The grad_fn of a compiled function's outputs: runs the backward graph the compiler derived,
    on the residuals the forward saved. Its edges lead to the inputs that require grad."""

    def __init__(self, spec, residuals, wrt, plan):
        self._spec = spec
        self._residuals = residuals
        self._n_outputs = len(plan.diff_outputs)
        self._grads_present = [g is not None for g in plan.grads]
        edges, meta = [], []
        for tensor in wrt:
            if tensor.grad_fn is not None:
                edges.append((tensor.grad_fn, tensor._output_nr))
            else:
                edges.append((grad_accumulator(tensor), 0))
            meta.append((tensor._data.shape, tensor._data.dtype))
        self.next_functions = tuple(edges)
        self._input_meta = meta
        self._out_avals = [v.aval for v in plan.cotangents]

    @classmethod
    def consumed(cls, n_outputs):
        node = cls.__new__(cls)
        node._residuals = None
        node._n_outputs = n_outputs
        node.next_functions = ()
        node._input_meta = []
        return node

    def apply(self, grads, create_graph):
        if self._residuals is None:
            raise RuntimeError(FREED_MESSAGE)
        if create_graph:
            raise RuntimeError("create_graph=True through the outputs of an llgrad.compile "
                               "function is not supported; call autograd.grad(..., "
                               "create_graph=True) inside the compiled function instead")
        cts = [np.zeros(a.shape, dtype=a.dtype.np) if g is None else _array(g)
               for g, a in zip(grads, self._out_avals)]
        results = iter(self._spec.backward_executable(list(self._residuals) + cts))
        return [next(results) if present else None for present in self._grads_present]

    def release(self):
        self._residuals = None


def _array(g):
    return g._data if isinstance(g, Tensor) else np.asarray(g)
