"""Outputs of a compiled function that require grad: their backward, derived at trace time.

The joint graph gets cotangent inputs for those outputs and the autodiff pass appends their
backward; the joint graph is then split (compiler/partition.py) into the forward, run at each
call, and the backward, run by a `CompiledFunctionBackward` node when eager autograd reaches it.
Outputs whose graph a backward inside the function already consumed get a node that raises like
eager does on a second backward.
"""
import numpy as np

from ..autograd.graph import FREED_MESSAGE, Node, grad_accumulator
from ..compiler import autodiff
from ..tensor import Tensor


class BackwardPlan:
    def __init__(self, diff_outputs, consumed, wrt, cotangents, grads, reach):
        self.diff_outputs = diff_outputs  # positions (in the output plan) that require grad
        self.consumed = consumed  # per diff output: its graph was freed by a backward inside
        self.wrt = wrt  # Lifted records gradients flow to
        self.cotangents = cotangents  # graph inputs: incoming gradients of the live outputs
        self.grads = grads  # graph values: gradients of wrt (None: no path)
        self.reach = reach  # per wrt: indices of live outputs it has a differentiable path to


def plan_backward(tracer, outputs):
    """The backward plan, or None when no output requires grad."""
    diff_outputs = [k for k, item in enumerate(outputs) if item[0] == "value" and item[2]]
    if not diff_outputs:
        return None
    values = [tracer.graph.outputs[outputs[k][1]] for k in diff_outputs]
    consumed = [any(node.freed for node in tracer._recorded_nodes_behind([v])) for v in values]
    live = [v for v, c in zip(values, consumed) if not c]
    if not live:
        return BackwardPlan(diff_outputs, consumed, [], [], [], [])
    wrt = [r for r in tracer.lifted_order if r.requires_grad and r.grad_owner is None]
    wrt = list({id(r.value): r for r in wrt}.values())  # aliases share one input
    cotangents = [tracer.graph.add_input(v.aval, name=f"ct{i}") for i, v in enumerate(live)]
    tracer.backward_marks.append(len(tracer.graph.nodes))
    grads = autodiff.vjp(tracer.graph, live, cotangents, [r.value for r in wrt])
    reach = [_reaching_outputs(tracer.graph, r.value, live) for r in wrt]
    return BackwardPlan(diff_outputs, consumed, wrt, cotangents, grads, reach)


def _reaching_outputs(graph, source, outputs):
    """Which outputs have a differentiable path from `source` (eager autograd gives an input no
    gradient at all, rather than zeros, when only outputs it cannot reach got gradients)."""
    depends = autodiff.values_depending_on(graph.nodes, [source])
    return frozenset(i for i, v in enumerate(outputs) if v in depends)


class CompiledFunctionBackward(Node):
    """The grad_fn of a compiled function's outputs: runs the backward graph the compiler derived,
    on the residuals the forward saved. Its edges lead to the inputs that require grad."""

    def __init__(self, executable, residuals, saved_inputs, wrt, plan):
        self._executable = executable
        self._residuals = residuals
        self._saved_inputs = saved_inputs  # (tensor, version) of residuals that are inputs
        self._n_outputs = len(plan.diff_outputs)
        self._live = [k for k, c in enumerate(plan.consumed) if not c]
        self._grads_present = [g is not None for g in plan.grads]
        self._reach = plan.reach
        self._cotangent_avals = [v.aval for v in plan.cotangents]
        edges, meta = [], []
        for tensor in wrt:
            if tensor.grad_fn is not None:
                edges.append((tensor.grad_fn, tensor._output_nr))
            else:
                edges.append((grad_accumulator(tensor), 0))
            meta.append((tensor._data.shape, tensor._data.dtype))
        self.next_functions = tuple(edges)
        self._input_meta = meta

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
        self._check_versions()
        live_grads = [grads[k] for k in self._live]
        arrived = {i for i, g in enumerate(live_grads) if g is not None}
        cts = [np.zeros(a.shape, dtype=a.dtype.np) if g is None else _array(g)
               for g, a in zip(live_grads, self._cotangent_avals)]
        results = iter(self._executable(list(self._residuals) + cts))
        out = []
        for present, reach in zip(self._grads_present, self._reach):
            g = next(results) if present else None
            out.append(g if reach & arrived else None)
        return out

    def _check_versions(self):
        for tensor, version in self._saved_inputs:
            if tensor._version != version:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [{_type_name(tensor)} {list(tensor.shape)}] is at "
                    f"version {tensor._version}; expected version {version} instead. (It was "
                    f"saved by a function compiled with llgrad.compile.)")

    def release(self):
        self._residuals = None
        self._saved_inputs = ()


def _type_name(tensor):
    from ..tensor import torch_type_name

    return torch_type_name(tensor._data.dtype)


def _array(g):
    return g._data if isinstance(g, Tensor) else np.asarray(g)
