"""One specialization of a compiled function: traced once, replayed at every matching call.

Tracing records the joint graph and a plan of what each call must do besides computing it: which
array feeds each graph input, which results are returned, which state tensors are written back
(and how many version steps that is), which `.grad` slots are set, and, for outputs that require
grad, the backward. Replaying runs the optimized graph and carries out the plan.
"""
import functools
import time

import numpy as np

from .. import epoch, tracing
from ..compiler import passes
from ..compiler.partition import split_joint
from ..compiler.printer import format_graph, node_line, type_str
from ..runtime.memory import empty_output
from ..tensor import Tensor
from . import fastpath
from .backends import BACKENDS, Plan
from .backward import CompiledFunctionBackward, plan_backward
from .guards import Guards
from .pytree import flatten, unflatten
from .refs import ArgRef, make_refs


def trace_specialization(fn, args, kwargs, flat_args, structure, backend, verify):
    tracer = tracing.Tracer()
    tracing.begin(tracer)  # raises if this thread is already tracing (nested compile)
    ok = False
    try:
        _lift_args(tracer, flat_args)
        out_leaves, out_structure = flatten(fn(*args, **kwargs))
        outputs = _plan_outputs(tracer, out_leaves)
        effects = _plan_effects(tracer)
        backward = plan_backward(tracer, outputs)
        ok = True
    finally:
        tracing.end()
        _restore(tracer)
        if not ok:
            for undo in reversed(tracer.undo):
                undo()
    return Specialization(tracer, fn, flat_args, structure, outputs, out_structure, effects,
                          backward, backend, verify)


def _lift_args(tracer, flat_args):
    """Arguments become the first graph inputs, in order; each call feeds them positionally."""
    for i, x in enumerate(flat_args):
        if isinstance(x, Tensor) and id(x) not in tracer.lifted:  # the same tensor twice is
            if type(x._data) is not np.ndarray:                      # one input
                raise tracing.TracingError("a traced tensor was passed to a compiled function")
            tracer.lift(x)
            tracer.arg_ids[id(x)] = i


def _plan_outputs(tracer, leaves):
    """How to rebuild each returned leaf at every call:
    ("value", graph output index, requires_grad) | ("tensor", lifted record) | ("const", x)."""
    plan = []
    for x in leaves:
        if isinstance(x, Tensor):
            record = tracer.lifted.get(id(x))
            if record is not None:
                plan.append(("tensor", record, None))
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
    """What every call does besides returning results."""

    def __init__(self):
        self.state_writes = []  # (Lifted, output index, version steps)
        self.grad_sets = []  # (owner Lifted, ("none",) | ("tensor", Lifted) | ("value", index))
        self.flag_sets = []  # (Lifted, requires_grad)


def _plan_effects(tracer):
    effects = Effects()
    written = set()
    for record in tracer.lifted_order:
        t = record.tensor
        if t.grad_fn is not record.grad_fn and t.grad_fn is not None:
            raise tracing.TracingError(
                "an in-place operation inside llgrad.compile gave a tensor that existed before "
                "the call autograd history (for example x.add_(w) where w requires grad); "
                "compute a new tensor instead (y = x + w) and return it")
        current = t._data
        if current is not record.value and record.value not in written:
            written.add(record.value)
            effects.state_writes.append((record, _add_output(tracer, current),
                                         max(record.writes, 1)))
        if record.grad_owner is None and t._grad is not record.grad:
            effects.grad_sets.append((record, _grad_effect(tracer, t._grad)))
        if t._requires_grad != record.requires_grad:
            effects.flag_sets.append((record, t._requires_grad))
    return effects


def _grad_effect(tracer, grad):
    if grad is None:
        return ("none",)
    record = tracer.lifted.get(id(grad))
    if record is not None:
        return ("tensor", record)
    if type(grad._data) is np.ndarray:
        raise tracing.TracingError("a .grad was set to a tensor created inside the compiled "
                                   "function from concrete data; compute it with tensor ops")
    return ("value", _add_output(tracer, grad._data))


def _restore(tracer):
    for record in tracer.lifted_order:
        t = record.tensor
        t._data = record.array
        t._grad = record.grad
        t._requires_grad = record.requires_grad
        t.grad_fn = record.grad_fn
        t._output_nr = record.output_nr


def _state_names(tracer, fn):
    """Readable names for state tensors, from the modules the function called and the
    optimizers it reads by name (`SGD momentum_buffer of Linear parameter 'weight'`)."""
    from ..optim.optimizer import Optimizer
    from .guards import referenced_objects

    names = {}
    for module, _ in tracer.modules.values():
        for name, p in module.named_parameters():
            names.setdefault(id(p), f"{type(module).__name__} parameter {name!r}")
        for name, b in module.named_buffers():
            names.setdefault(id(b), f"{type(module).__name__} buffer {name!r}")
    for _, _, obj in referenced_objects(fn):
        if not isinstance(obj, Optimizer):
            continue
        for p, state in obj.state.items():
            owner = names.get(id(p), "a parameter")
            for key, value in state.items():
                if isinstance(value, Tensor):
                    names.setdefault(id(value), f"{type(obj).__name__} {key} of {owner}")
    return names


class Specialization:
    def __init__(self, tracer, fn, flat_args, structure, outputs, out_structure, effects,
                 backward, backend, verify):
        refs = make_refs(tracer, _state_names(tracer, fn))
        state_records = [r for r in tracer.lifted_order
                         if r.grad_owner is None and id(r.tensor) not in tracer.arg_ids]
        self.guards = Guards(tracer, fn, flat_args, structure, refs, state_records)
        self.joint = tracer.graph
        self.backward_marks = list(tracer.backward_marks)
        self.out_structure = out_structure
        self.outputs = [_resolve_output(item, refs) for item in outputs]
        self.state_writes = [(refs[id(r)], index, steps)
                             for r, index, steps in effects.state_writes]
        self.grad_sets = [(refs[id(r)], _resolve_effect(effect, refs))
                          for r, effect in effects.grad_sets]
        self.flag_sets = [(refs[id(r)], flag) for r, flag in effects.flag_sets]
        self.n_results = len(self.joint.outputs)
        self.backward = backward
        forward, backward_graph = self.joint, None
        cotangents = set(backward.cotangents) if backward is not None else set()
        forward_inputs = [v for v in self.joint.inputs if v not in cotangents]
        if backward is not None and backward.cotangents:
            forward, backward_graph = split_joint(self.joint, self.joint.outputs,
                                                  backward.cotangents, backward.grads)
            self.wrt = [refs[id(r)] for r in backward.wrt]
            backward.wrt = None  # the records hold trace-time arguments: keep only the refs
        self.feeds = _feeds(tracer, refs, forward_inputs)
        # Residuals that are inputs, or views of inputs (`w.t()`), are what eager autograd would
        # save as the input tensor itself (a view shares its base's version counter): the
        # backward checks those tensors were not modified in place meanwhile, as eager does.
        self.saved_input_refs = list({id(ref): ref for ref in (
            self.feeds[pos].ref for k, pos in _results_viewing_inputs(forward).items()
            if k >= self.n_results and self.feeds[pos].ref is not None)}.values())
        self.pass_log = []
        self.timings = {}
        # The native back end optimizes a graph only when the kernel cache has no code for the
        # traced one (a warm start skips the passes); `graph` and `backward_graph` run them on
        # first use. verify=True checks every pass, so it runs them here.
        self.verify = verify
        self.has_backward = backward_graph is not None
        lazy = backend == "llvm" and not verify
        self._graphs = _Graphs(forward, backward_graph, self.pass_log, verify, lazy)
        if lazy:
            self.timings["passes"] = self._graphs.strip_time
            forward, backward_graph = self._graphs.traced
        else:
            start = time.perf_counter()
            forward, backward_graph = self._graphs.optimized(0), self._graphs.optimized(1)
            self.timings["passes"] = time.perf_counter() - start
        plan = self._backend_plan(tracer, effects, flat_args, forward_inputs, forward)
        plan.optimize = functools.partial(self._graphs.optimized, 0) if lazy else None
        self.executable = BACKENDS[backend](forward, plan)
        _add_timings(self.timings, self.executable.timings)
        if self.has_backward:
            self.backward_executable = BACKENDS[backend](backward_graph, Plan(
                optimize=functools.partial(self._graphs.optimized, 1) if lazy else None))
            _add_timings(self.timings, self.backward_executable.timings)
        self._native = getattr(self.executable, "step", None)
        self._version_boxes = self._boxes_binding = None
        self.fast = self.fast_source = None
        if self._native is not None:
            self._plan_native_call()
        self.effects_keep_guards = self._effects_keep_guards()
        if self._native is not None:
            self.fast = fastpath.build(self)

    @property
    def graph(self):
        """The optimized forward graph."""
        return self._graphs.optimized(0)

    @property
    def backward_graph(self):
        """The optimized backward graph, or None."""
        return self._graphs.optimized(1)

    def _backend_plan(self, tracer, effects, flat_args, forward_inputs, graph):
        """Which outputs overwrite which inputs in place (state of the same shape and dtype),
        and which inputs keep their own memory layout (state: written or read where it is).
        `graph`: the forward graph, traced or optimized (the passes keep its interface)."""
        position = {v: i for i, v in enumerate(forward_inputs)}
        # Only tensors are read here: a runtime input's producer would draw random numbers.
        arrays = [feed(flat_args) if feed.ref is not None else None for feed in self.feeds]
        layout_fixed = [feed.ref is not None and not isinstance(feed.ref, ArgRef)
                        for feed in self.feeds]
        inplace = {}
        for record, index, _ in effects.state_writes:
            i = position.get(record.value)
            out = graph.outputs[index]
            if i is not None and out.aval == graph.inputs[i].aval and layout_fixed[i]:
                inplace[index] = i
        return Plan(inplace, arrays, layout_fixed)

    def _plan_native_call(self):
        """What a native call reads from Python: per-call feeds (arguments made contiguous,
        runtime inputs), the feeds of bound state (read again only after the state epoch
        moved), and the fresh output arrays to allocate."""
        step = self._native
        # (argument position, None) or (None, feed): arguments are read inline, at most copied
        # to contiguous memory.
        self._call_plan = [(self.feeds[i].ref.index, None) if isinstance(self.feeds[i].ref, ArgRef)
                           else (None, self.feeds[i]) for i in step.per_call_inputs]
        self._bound_feeds = [self.feeds[i] for i in step.bound_inputs]
        self._fresh = step.fresh_outputs
        self._n_outputs = len(self._graphs.traced[0].outputs)

    def _effects_keep_guards(self):
        """Whether this specialization's own effects leave its own guards holding (its `.grad`
        assignments touch no slot it guards or reads), so a call need not re-check state."""
        if self.flag_sets:
            return False
        guarded = {id(ref.tensor) for ref, dep, _, _ in self.guards.state if dep}
        guarded |= {id(ref.owner(None)) for ref, _, _ in self.guards.grad_slots
                    if not isinstance(ref.owner, ArgRef)}
        for ref, _ in self.grad_sets:
            if isinstance(ref, ArgRef) or id(ref(None)) in guarded:
                return False
        return True

    # ---- a call ---------------------------------------------------------------------------------

    def run(self, flat_args):
        if self._native is not None:
            return self._run_native(flat_args)
        inputs = [feed(flat_args) for feed in self.feeds]
        everything = self.executable(inputs)
        results = everything[:self.n_results]
        if not self.executable.owns_results:
            results = _owned(results, inputs)
        residuals = everything[self.n_results:]
        self._apply_effects(results, flat_args)
        leaves = [self._output(item, results, flat_args) for item in self.outputs]
        if self.backward is not None:
            self._attach_backward(leaves, residuals, flat_args)
        return unflatten(self.out_structure, leaves)

    def _run_native(self, flat_args):
        """The native call: per-call arrays and fresh outputs go to the generated entry; bound
        state addresses are refreshed only when the guards were re-validated."""
        fresh = [empty_output(shape, dtype) for _, shape, dtype in self._fresh]
        arrays = []
        for position, feed in self._call_plan:
            if feed is None:
                array = flat_args[position]._data
                if not array.flags.c_contiguous:
                    array = np.ascontiguousarray(array)
            else:
                array = feed(flat_args)
            arrays.append(array)
        self._native.run(arrays + fresh, self.guards.binding,
                         lambda: [feed(flat_args) for feed in self._bound_feeds])
        if self.executable.counters is not None:
            self.executable.counters["llvm"] += 1
        everything = [None] * self._n_outputs
        for (k, _, _), array in zip(self._fresh, fresh):
            everything[k] = array
        results = everything[:self.n_results]
        if self.state_writes or self.grad_sets or self.flag_sets:
            self._apply_effects(results, flat_args)
        leaves = [self._output(item, results, flat_args) for item in self.outputs]
        if self.backward is not None:
            self._attach_backward(leaves, everything[self.n_results:], flat_args)
        if self.out_structure is None:
            return leaves[0]
        return unflatten(self.out_structure, leaves)

    def _output(self, item, results, flat_args):
        kind, what = item
        if kind == "value":
            return Tensor._wrap(results[what])
        if kind == "tensor":
            return what(flat_args)
        return what

    def _apply_effects(self, results, flat_args):
        if self._version_boxes is not None and self._boxes_binding is self.guards.binding:
            for box, steps in self._version_boxes:  # all written in place by native code
                box[0] += steps
        else:
            self._write_state(results, flat_args)
        if not (self.grad_sets or self.flag_sets):
            return
        before = epoch.current()
        for ref, (kind, what) in self.grad_sets:
            owner = ref(flat_args)
            if kind == "none":
                owner._grad = None
            elif kind == "tensor":
                owner._grad = what(flat_args)
            else:
                owner._grad = Tensor._wrap(results[what])
        for ref, flag in self.flag_sets:
            ref(flat_args)._requires_grad = flag
        epoch.bump()  # other compiled functions may read these .grad slots
        if self.effects_keep_guards and self.guards.validated is before:
            self.guards.validated = epoch.current()

    def _write_state(self, results, flat_args):
        """Copy state results not written in place, bump the versions of every written tensor.
        When native code wrote them all in place, their version counters are remembered until
        the state is re-bound, so later calls only bump them."""
        boxes = []
        for ref, index, steps in self.state_writes:
            tensor = ref(flat_args)
            result = results[index]
            if result is not None and result is not tensor._data:  # not written in place
                np.copyto(tensor._data, result, casting="unsafe")
                boxes = None
            box = tensor._version_box()
            box[0] += steps
            if boxes is not None and not isinstance(ref, ArgRef):
                boxes.append((box, steps))
            else:
                boxes = None
        if self._native is not None and boxes is not None:
            self._version_boxes, self._boxes_binding = boxes, self.guards.binding

    def _attach_backward(self, leaves, residuals, flat_args):
        plan = self.backward
        node = consumed = None
        if any(plan.consumed):
            consumed = CompiledFunctionBackward.consumed(len(plan.diff_outputs))
        if plan.cotangents:
            saved = [(t, t._version) for t in (ref(flat_args) for ref in self.saved_input_refs)]
            node = CompiledFunctionBackward(self.backward_executable, residuals, saved,
                                            [ref(flat_args) for ref in self.wrt], plan)
        for nr, (k, was_consumed) in enumerate(zip(plan.diff_outputs, plan.consumed)):
            t = leaves[k]
            t._requires_grad = True
            t.grad_fn = consumed if was_consumed else node
            t._output_nr = nr

    # ---- explanation ----------------------------------------------------------------------------

    def kernel_explanation(self, llvm=False, asm=False):
        """The native code of the forward (and backward) graph: kernels, loop IR, optionally LLVM
        IR and assembly; a note for the interpreter."""
        if not hasattr(self.executable, "step"):
            return f"== {self.executable.name} back end: no native kernels"
        from ..runtime.native import describe

        parts = [describe(self.executable.step, llvm, asm)]
        if self.has_backward:
            parts.append("== backward, run when autograd reaches the outputs")
            parts.append(describe(self.backward_executable.step, llvm, asm))
        return "\n".join(parts)

    def kernel_timings(self, flat_args, calls):
        """Each forward kernel's time per call, over `calls` runs on copies of this call's
        inputs (state, random draws and every tensor are left as they were)."""
        if not hasattr(self.executable, "kernel_cycles"):
            return f"== {self.executable.name} back end: no native kernels to time"
        from ..random import get_rng_state, set_rng_state
        from ..runtime.native import cycles_per_second

        state = get_rng_state()
        try:
            inputs = [_same_layout_copy(np.asarray(feed(flat_args))) for feed in self.feeds]
        finally:
            set_rng_state(state)
        kernels, cycles = self.executable.kernel_cycles(inputs, calls)
        hz, total = cycles_per_second(), max(float(cycles.sum()), 1.0)
        lines = [f"== kernel timings: {calls} calls on copies of the inputs, "
                 f"{total / hz * 1e6:.1f} us per call in kernels"]
        for kernel, count in sorted(zip(kernels, cycles), key=lambda kc: -kc[1]):
            seconds = max(count / hz, 1e-12)
            moved = sum(b.nbytes for b in kernel.reads()) + sum(b.nbytes for b in kernel.writes())
            rate = (f"{kernel.flops / seconds / 1e9:.1f} GFLOP/s" if kernel.name.endswith("_gemm")
                    else f"{moved / seconds / 1e9:.1f} GB/s")
            lines.append(f"  {kernel.name:16s} {seconds * 1e6:10.1f} us  {count / total:6.1%}  "
                         f"{rate}")
        return "\n".join(lines)

    def explanation(self):
        forward_end = self.backward_marks[0] if self.backward_marks else len(self.joint.nodes)
        nodes = self.joint.nodes
        lines = [f"== forward graph ({forward_end} nodes)"]
        lines += [node_line(n) for n in nodes[:forward_end]]
        lines.append(f"== backward and update graph ({len(nodes) - forward_end} nodes)")
        lines += [node_line(n) for n in nodes[forward_end:]]
        optimized = len(self.graph.nodes)
        if self.backward_graph is not None:
            optimized += len(self.backward_graph.nodes)
        lines.append("== inputs")
        for value, feed in zip(self.graph.inputs, self.feeds):
            what = feed.ref.describe() if feed.ref is not None else feed.name
            lines.append(f"  %{value.name}: {what} {type_str(value.aval)}")
        lines.append(f"== optimized graph ({len(nodes)} -> {optimized} nodes; "
                     + ", ".join(f"{name}: {b}->{a}" for name, b, a in self.pass_log) + ")")
        lines.append(format_graph(self.graph))
        if self.backward_graph is not None:
            lines.append("== optimized backward graph, run when autograd reaches the outputs")
            lines.append(format_graph(self.backward_graph))
        return "\n".join(lines)


class _Graphs:
    """A specialization's forward (0) and backward (1) graphs, traced and optimized. `lazy`:
    only the first pass, which strips the autodiff markers, runs now (their VJP rules are
    closures no key can say, and nothing runs them once the backward is derived): the native
    back end keys the stripped graph and calls `optimized` for the other passes only when the
    kernel cache has no code for it. (The back end holds `optimized`, not the specialization.)"""

    def __init__(self, forward, backward, log, verify, lazy):
        self.log, self.verify, self.lazy = log, verify, lazy
        self.strip_time = 0.0
        if lazy:
            assert passes.PIPELINE[0][0] == "strip_autodiff_markers"
            start = time.perf_counter()
            forward = self._strip(forward, log)
            if backward is not None:
                backward = self._strip(backward, None)
            self.strip_time = time.perf_counter() - start
        self.traced = (forward, backward)
        self._optimized = [None, None]

    @staticmethod
    def _strip(graph, log):
        before = len(graph.nodes)
        graph = passes.PIPELINE[0][1](graph)
        if log is not None:
            log.append((passes.PIPELINE[0][0], before, len(graph.nodes)))
        return graph

    def optimized(self, which):
        """The optimized graph (None: no backward), optimized on first use. The passes must keep
        the interface: the in-place plan was read from the traced graph's."""
        traced = self.traced[which]
        if self._optimized[which] is None and traced is not None:
            graph = passes.run_pipeline(traced, verify=self.verify,
                                        log=self.log if which == 0 else None,
                                        start=1 if self.lazy else 0)
            if [v.aval for v in graph.inputs] != [v.aval for v in traced.inputs] or [
                    v.aval for v in graph.outputs] != [v.aval for v in traced.outputs]:
                raise AssertionError("the optimization passes changed the graph's interface")
            self._optimized[which] = graph
        return self._optimized[which]


def _add_timings(total, more):
    for phase, seconds in more.items():
        total[phase] = total.get(phase, 0.0) + seconds


def _resolve_output(item, refs):
    kind, what, _ = item
    if kind == "tensor":
        return ("tensor", refs[id(what)])
    return (kind, what)


def _resolve_effect(effect, refs):
    if effect[0] == "tensor":
        return ("tensor", refs[id(effect[1])])
    return effect


# Movements that keep a tensor's storage (a view, in eager mode): they share its version counter.
_VIEWS = ("permute", "reshape", "slice", "broadcast_to", "stop_gradient")


def _results_viewing_inputs(graph):
    """{output index: input position} for outputs that are graph inputs, or views of one."""
    position = {v: i for i, v in enumerate(graph.inputs)}
    found = {}
    for k, v in enumerate(graph.outputs):
        while v not in position and v.node is not None and v.node.prim.name in _VIEWS:
            v = v.node.inputs[0]
        if v in position:
            found[k] = position[v]
    return found


def _owned(results, inputs):
    """Results a new tensor or a state write may own: a result that is (or views) an input
    array, or shares memory with an earlier result, is copied. Otherwise writing state back
    could overwrite an input another result still reads (a swap), or a returned tensor could
    alias the caller's argument."""
    seen = {_root(a) for a in inputs if type(a) is np.ndarray}
    owned = []
    for r in results:
        root = _root(r)
        if root in seen or not r.flags.writeable:
            r = np.array(r, copy=True)
            root = id(r)
        seen.add(root)
        owned.append(r)
    return owned


def _root(array):
    while isinstance(array.base, np.ndarray):
        array = array.base
    return id(array)


def _feeds(tracer, refs, inputs):
    """One function per graph input giving its array for the current call; also records which
    tensor each input came from (for the backward's version checks)."""
    by_value = {}
    for record in tracer.lifted_order:
        by_value.setdefault(record.value, record)
    runtime = {r.value: r for r in tracer.runtime_inputs}
    feeds = []
    for value in inputs:
        if value in runtime:
            feeds.append(_runtime_feed(runtime[value].produce, runtime[value].name))
        else:
            feeds.append(_tensor_feed(refs[id(by_value[value])]))
    return feeds


def _same_layout_copy(array):
    """A copy of `array` with its strides and offset in a buffer of its own (compiled code may
    have a state array's strides built in)."""
    low, high = np.lib.array_utils.byte_bounds(array)
    raw = np.empty(max(high - low, 1), np.uint8)
    copy = np.ndarray(array.shape, array.dtype, buffer=raw,
                      offset=array.__array_interface__["data"][0] - low, strides=array.strides)
    copy[...] = array
    return copy


def _runtime_feed(produce, name):
    def feed(flat_args):
        return produce()

    feed.ref = None
    feed.name = name
    feed.produce = produce
    return feed


def _contiguous(feed):
    """An argument's array for native code, which is compiled for C-contiguous arguments."""
    def contiguous_feed(flat_args):
        array = feed(flat_args)
        return array if array.flags.c_contiguous else np.ascontiguousarray(array)

    contiguous_feed.ref = feed.ref
    return contiguous_feed


def _tensor_feed(ref):
    def feed(flat_args):
        return ref(flat_args)._data

    feed.ref = ref
    return feed
